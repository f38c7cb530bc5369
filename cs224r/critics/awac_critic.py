"""AWAC's critic: two Q-networks trained by TD regression toward two Polyak-averaged target nets."""

from __future__ import annotations

import copy

import torch
from torch import nn

from cs224r.infrastructure import pytorch_util as ptu


class AWACCritic(nn.Module):
    def __init__(self, ob_dim: int, ac_dim: int, n_layers: int, size: int, discrete: bool = False,
                 gamma: float = 0.99, tau: float = 0.005, learning_rate: float = 3e-4,
                 grad_clip: float | None = 10.0) -> None:
        super().__init__()
        self.discrete, self.gamma, self.tau, self.grad_clip = discrete, gamma, tau, grad_clip
        # continuous: Q(s, a) from the concatenation; discrete: one output per action
        in_dim, out_dim = (ob_dim, ac_dim) if discrete else (ob_dim + ac_dim, 1)
        self.q_net = ptu.build_mlp(in_dim, out_dim, n_layers, size)
        self.q_net2 = ptu.build_mlp(in_dim, out_dim, n_layers, size)
        self.q_net_target = copy.deepcopy(self.q_net).requires_grad_(False)
        self.q_net_target2 = copy.deepcopy(self.q_net2).requires_grad_(False)
        self.to(ptu.device)
        self.optimizer = torch.optim.Adam([*self.q_net.parameters(), *self.q_net2.parameters()], lr=learning_rate)
        self.loss = nn.MSELoss()

    def _get_q_value(self, q_net: nn.Module, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """Q(s, a) as a [B] tensor."""
        if self.discrete:
            return q_net(obs).gather(1, act.long().view(-1, 1)).squeeze(1)
        return q_net(torch.cat([obs, act], dim=-1)).squeeze(-1)

    def get_q(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return torch.minimum(self._get_q_value(self.q_net, obs, act), self._get_q_value(self.q_net2, obs, act))

    def get_target_q(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return torch.minimum(self._get_q_value(self.q_net_target, obs, act),
                             self._get_q_value(self.q_net_target2, obs, act))

    def td_target(self, next_ob: torch.Tensor, next_ac: torch.Tensor, reward: torch.Tensor,
                  terminal: torch.Tensor) -> torch.Tensor:
        """r + gamma * (1 - done) * min target Q(s', a'), with no gradient."""
        # BEGIN SOLUTION critic_target
        with torch.no_grad():
            target = reward + self.gamma * (1.0 - terminal) * self.get_target_q(next_ob, next_ac)
        # END SOLUTION
        return target

    def update(self, ob: torch.Tensor, ac: torch.Tensor, next_ob: torch.Tensor, next_ac: torch.Tensor,
               reward: torch.Tensor, terminal: torch.Tensor) -> dict[str, torch.Tensor]:
        """One gradient step on both Q-nets toward the TD target; returns their losses (detached, no host sync)."""
        return self.fit_q(ob, ac, self.td_target(next_ob, next_ac, reward, terminal))

    def fit_q(self, ob: torch.Tensor, ac: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """One Adam step on MSE(Q1(s, a), target) + MSE(Q2(s, a), target) for a fixed target [B]."""
        q1 = self._get_q_value(self.q_net, ob, ac)
        q2 = self._get_q_value(self.q_net2, ob, ac)
        if q1.shape != target.shape:
            raise ValueError(f"Q {tuple(q1.shape)} and TD target {tuple(target.shape)} must both be [B]")
        loss, loss2 = self.loss(q1, target), self.loss(q2, target)
        self.optimizer.zero_grad()
        (loss + loss2).backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_([*self.q_net.parameters(), *self.q_net2.parameters()], self.grad_clip)
        self.optimizer.step()
        return {"Critic Loss": loss.detach(), "Critic Loss2": loss2.detach(), "Q Mean": q1.detach().mean()}

    @torch.no_grad()
    def update_target_network(self) -> None:
        """Polyak step: target <- (1 - tau) * target + tau * online."""
        for online, target in ((self.q_net, self.q_net_target), (self.q_net2, self.q_net_target2)):
            for p, tp in zip(online.parameters(), target.parameters()):
                tp.lerp_(p, self.tau)
