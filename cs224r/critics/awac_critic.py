"""AWAC's critic: two Q-networks trained by TD regression toward two Polyak-averaged target nets."""

from __future__ import annotations

import copy

import torch
from torch import nn

from cs224r.infrastructure import pytorch_util as ptu


class AWACCritic(nn.Module):
    def __init__(self, ob_dim: int, ac_dim: int, n_layers: int, size: int, discrete: bool = False,
                 gamma: float = 0.99, tau: float = 0.005, learning_rate: float = 3e-4,
                 max_grad_norm: float | None = 10.0) -> None:
        super().__init__()
        self.discrete, self.gamma, self.tau, self.max_grad_norm = discrete, gamma, tau, max_grad_norm
        # continuous: Q(s, a) from the concatenation; discrete: one output per action
        in_dim, out_dim = (ob_dim, ac_dim) if discrete else (ob_dim + ac_dim, 1)
        self.q_net = ptu.build_mlp(in_dim, out_dim, n_layers, size)
        self.q_net2 = ptu.build_mlp(in_dim, out_dim, n_layers, size)
        self.q_net_target = copy.deepcopy(self.q_net).requires_grad_(False)
        self.q_net2_target = copy.deepcopy(self.q_net2).requires_grad_(False)
        self.to(ptu.device)
        self.optimizer = torch.optim.Adam([*self.q_net.parameters(), *self.q_net2.parameters()], lr=learning_rate)
        self.mse_loss = nn.MSELoss()

    def _get_q_value(self, q_net: nn.Module, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Q(s, a) of one network as a [B] tensor."""
        if self.discrete:
            return q_net(obs).gather(1, actions.long().view(-1, 1)).squeeze(1)
        return q_net(torch.cat([obs, actions], dim=-1)).squeeze(-1)

    def get_q(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """min(Q1, Q2)(s, a) of the online nets, [B]."""
        return torch.minimum(self._get_q_value(self.q_net, obs, actions), self._get_q_value(self.q_net2, obs, actions))

    def get_target_q(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """min(Q1_target, Q2_target)(s, a) of the target nets, [B]."""
        return torch.minimum(self._get_q_value(self.q_net_target, obs, actions),
                             self._get_q_value(self.q_net2_target, obs, actions))

    def _transitions(self, ob_no: torch.Tensor, ac_na: torch.Tensor, next_ob_no: torch.Tensor,
                     reward_n: torch.Tensor, terminal_n: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(s, a, s', r, d) as tensors on the training device (indices for discrete actions); ValueError
        unless r and d are both [B]."""
        ob_no, next_ob_no = ptu.from_numpy(ob_no), ptu.from_numpy(next_ob_no)
        ac_na = ptu.from_numpy(ac_na, torch.long if self.discrete else None)
        reward_n, terminal_n = ptu.from_numpy(reward_n, torch.float32), ptu.from_numpy(terminal_n, torch.float32)
        if reward_n.shape != terminal_n.shape or reward_n.dim() != 1:
            raise ValueError(f"reward_n {tuple(reward_n.shape)} and terminal_n {tuple(terminal_n.shape)} "
                             "must both be [B]")
        return ob_no, ac_na, next_ob_no, reward_n, terminal_n

    def update(self, ob_no: torch.Tensor, ac_na: torch.Tensor, next_ob_no: torch.Tensor, reward_n: torch.Tensor,
               terminal_n: torch.Tensor, next_actions: torch.Tensor) -> dict[str, torch.Tensor]:
        """One Adam step on MSE(Q1(s, a), y) + MSE(Q2(s, a), y) with y = r + gamma (1 - d) min Q_target(s', a');
        returns the two losses and mean Q1 (detached, no host sync)."""
        ob_no, ac_na, next_ob_no, reward_n, terminal_n = self._transitions(ob_no, ac_na, next_ob_no, reward_n,
                                                                            terminal_n)
        next_actions = ptu.from_numpy(next_actions, torch.long if self.discrete else None)

        # BEGIN SOLUTION critic_loss
        with torch.no_grad():
            target_q = self.get_target_q(next_ob_no, next_actions)
            target = reward_n + self.gamma * (1.0 - terminal_n) * target_q
        q1 = self._get_q_value(self.q_net, ob_no, ac_na)
        q2 = self._get_q_value(self.q_net2, ob_no, ac_na)
        loss = self.mse_loss(q1, target)
        loss2 = self.mse_loss(q2, target)
        # END SOLUTION

        self.optimizer.zero_grad()
        (loss + loss2).backward()
        if self.max_grad_norm:
            nn.utils.clip_grad_norm_([*self.q_net.parameters(), *self.q_net2.parameters()], self.max_grad_norm)
        self.optimizer.step()
        return {"Critic Loss": loss.detach(), "Critic Loss2": loss2.detach(), "Q Mean": q1.detach().mean()}

    @torch.no_grad()
    def update_target_network(self) -> None:
        """Polyak step: target <- (1 - tau) * target + tau * online."""
        for online, target in ((self.q_net, self.q_net_target), (self.q_net2, self.q_net2_target)):
            for p, tp in zip(online.parameters(), target.parameters()):
                tp.lerp_(p, self.tau)

    def load_state_dict(self, state_dict: dict, strict: bool = True, assign: bool = False):
        """Also reads checkpoints written before the second target net was renamed ``q_net2_target``."""
        old = "q_net_target2."
        state_dict = {("q_net2_target." + k[len(old):] if k.startswith(old) else k): v for k, v in state_dict.items()}
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
