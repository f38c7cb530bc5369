"""IQL's critic: two Q-networks with Polyak-averaged targets, and a state-value network V.

V is fit by expectile regression toward min(target Q1, target Q2) at the *dataset* action, and the
Q-networks regress toward r + gamma * (1 - done) * V(s'), so Q is never queried at an action that
is not in the dataset (Kostrikov et al. 2021, arXiv:2110.06169, Eq. 5-6).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from cs224r.infrastructure import pytorch_util as ptu


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """Mean of |expectile - 1(diff < 0)| * diff^2 for diff = target - prediction, shape [B]."""
    # BEGIN SOLUTION expectile_loss
    weight = torch.where(diff > 0, expectile, 1.0 - expectile)
    loss = (weight * diff.pow(2)).mean()
    # END SOLUTION
    return loss


class IQLCritic(nn.Module):
    def __init__(self, ob_dim: int, ac_dim: int, n_layers: int, size: int, discrete: bool = False,
                 gamma: float = 0.99, tau: float = 0.005, expectile: float = 0.9, learning_rate: float = 3e-4,
                 value_learning_rate: float = 3e-4, grad_clip: float | None = 10.0) -> None:
        super().__init__()
        if not 0.0 < expectile < 1.0:
            raise ValueError(f"expectile must be in (0, 1), got {expectile}; 0.9 for AntMaze, 0.7 for locomotion")
        self.discrete, self.gamma, self.tau, self.grad_clip = discrete, gamma, tau, grad_clip
        self.expectile = expectile
        # continuous: Q(s, a) from the concatenation; discrete: one output per action
        in_dim, out_dim = (ob_dim, ac_dim) if discrete else (ob_dim + ac_dim, 1)
        self.q_net = ptu.build_mlp(in_dim, out_dim, n_layers, size)
        self.q_net2 = ptu.build_mlp(in_dim, out_dim, n_layers, size)
        self.q_net_target = copy.deepcopy(self.q_net).requires_grad_(False)
        self.q_net_target2 = copy.deepcopy(self.q_net2).requires_grad_(False)
        self.v_net = ptu.build_mlp(ob_dim, 1, n_layers, size)
        self.to(ptu.device)
        self.q_params = [*self.q_net.parameters(), *self.q_net2.parameters()]
        self.optimizer = torch.optim.Adam(self.q_params, lr=learning_rate)
        self.v_optimizer = torch.optim.Adam(self.v_net.parameters(), lr=value_learning_rate)
        self.loss = nn.MSELoss()

    def _get_q_value(self, q_net: nn.Module, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """Q(s, a) as a [B] tensor."""
        if self.discrete:
            return q_net(obs).gather(1, act.long().view(-1, 1)).squeeze(1)
        return q_net(torch.cat([obs, act], dim=-1)).squeeze(-1)

    def get_v(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s) as a [B] tensor."""
        return self.v_net(obs).squeeze(-1)

    def get_target_q(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return torch.minimum(self._get_q_value(self.q_net_target, obs, act),
                             self._get_q_value(self.q_net_target2, obs, act))

    def value_target(self, ob: torch.Tensor, ac: torch.Tensor) -> torch.Tensor:
        """min(target Q1, target Q2) at the dataset action, with no gradient; shape [B]."""
        # BEGIN SOLUTION value_target
        with torch.no_grad():
            target = self.get_target_q(ob, ac)
        # END SOLUTION
        return target

    def q_target(self, next_ob: torch.Tensor, reward: torch.Tensor, terminal: torch.Tensor) -> torch.Tensor:
        """r + gamma * (1 - done) * V(s'), with no gradient; shape [B]."""
        # BEGIN SOLUTION q_target
        with torch.no_grad():
            target = reward + self.gamma * (1.0 - terminal) * self.get_v(next_ob)
        # END SOLUTION
        return target

    def update_v(self, ob: torch.Tensor, ac: torch.Tensor) -> dict[str, torch.Tensor]:
        """One gradient step of expectile regression on V; touches only V's parameters."""
        target = self.value_target(ob, ac)
        v = self.get_v(ob)
        if v.shape != target.shape:
            raise ValueError(f"V {tuple(v.shape)} and its target {tuple(target.shape)} must both be [B]")
        loss = expectile_loss(target - v, self.expectile)
        self.v_optimizer.zero_grad()
        loss.backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.v_net.parameters(), self.grad_clip)
        self.v_optimizer.step()
        return {"Value Loss": loss.detach(), "V Mean": v.detach().mean()}

    def update_q(self, ob: torch.Tensor, ac: torch.Tensor, next_ob: torch.Tensor, reward: torch.Tensor,
                 terminal: torch.Tensor) -> dict[str, torch.Tensor]:
        """One gradient step on both Q-nets toward r + gamma (1 - done) V(s'); returns detached losses."""
        target = self.q_target(next_ob, reward, terminal)
        q1 = self._get_q_value(self.q_net, ob, ac)
        q2 = self._get_q_value(self.q_net2, ob, ac)
        if q1.shape != target.shape:
            raise ValueError(f"Q {tuple(q1.shape)} and TD target {tuple(target.shape)} must both be [B]")
        loss, loss2 = self.loss(q1, target), self.loss(q2, target)
        self.optimizer.zero_grad()
        (loss + loss2).backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.q_params, self.grad_clip)
        self.optimizer.step()
        return {"Critic Loss": loss.detach(), "Critic Loss2": loss2.detach(), "Q Mean": q1.detach().mean()}

    @torch.no_grad()
    def update_target_network(self) -> None:
        """Polyak step: target <- (1 - tau) * target + tau * online."""
        for online, target in ((self.q_net, self.q_net_target), (self.q_net2, self.q_net_target2)):
            for p, tp in zip(online.parameters(), target.parameters()):
                tp.lerp_(p, self.tau)
