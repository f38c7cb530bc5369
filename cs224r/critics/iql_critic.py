"""IQL's critic: two Q-networks with Polyak-averaged targets, and a state-value network V.

V is fit by expectile regression toward min(target Q1, target Q2) at the *dataset* action, and the
Q-networks regress toward r + gamma * (1 - done) * V(s'), so Q is never queried at an action that
is not in the dataset (Kostrikov et al. 2021, arXiv:2110.06169, Eq. 5-6).
"""

from __future__ import annotations

import torch
from torch import nn

from cs224r.critics.awac_critic import AWACCritic
from cs224r.infrastructure import pytorch_util as ptu


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """Mean of |expectile - 1(diff < 0)| * diff^2 for diff = target - prediction, shape [B]."""
    # BEGIN SOLUTION expectile_loss
    weight = torch.where(diff > 0, expectile, 1.0 - expectile)
    loss = (weight * diff.pow(2)).mean()
    # END SOLUTION
    return loss


class IQLCritic(AWACCritic):
    """AWACCritic's twin Q-nets, target nets, Q step and Polyak update, plus a V-net; only the targets differ."""

    def __init__(self, ob_dim: int, ac_dim: int, n_layers: int, size: int, discrete: bool = False,
                 gamma: float = 0.99, tau: float = 0.005, expectile: float = 0.9, learning_rate: float = 3e-4,
                 value_learning_rate: float = 3e-4, max_grad_norm: float | None = 10.0) -> None:
        if not 0.0 < expectile < 1.0:
            raise ValueError(f"expectile must be in (0, 1), got {expectile}; 0.9 for AntMaze, 0.7 for locomotion")
        super().__init__(ob_dim, ac_dim, n_layers, size, discrete, gamma=gamma, tau=tau,
                         learning_rate=learning_rate, max_grad_norm=max_grad_norm)
        self.expectile = expectile
        self.v_net = ptu.build_mlp(ob_dim, 1, n_layers, size).to(ptu.device)
        self.v_optimizer = torch.optim.Adam(self.v_net.parameters(), lr=value_learning_rate)

    def update(self, *args, **kwargs):
        raise TypeError("IQLCritic trains V with update_v and Q with update_q "
                        "(AWAC's update bootstraps from Q(s', a'))")

    def get_v(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s) as a [B] tensor."""
        return self.v_net(obs).squeeze(-1)

    def update_v(self, ob_no: torch.Tensor, ac_na: torch.Tensor) -> dict[str, torch.Tensor]:
        """One Adam step of expectile regression of V(s) toward min Q_target(s, a) at the dataset action;
        touches only V's parameters."""
        ob_no, ac_na = ptu.from_numpy(ob_no), ptu.from_numpy(ac_na, torch.long if self.discrete else None)

        # BEGIN SOLUTION iql_value_loss
        with torch.no_grad():
            target_q = self.get_target_q(ob_no, ac_na)
        v = self.get_v(ob_no)
        value_loss = expectile_loss(target_q - v, self.expectile)
        # END SOLUTION

        self.v_optimizer.zero_grad()
        value_loss.backward()
        if self.max_grad_norm:
            nn.utils.clip_grad_norm_(self.v_net.parameters(), self.max_grad_norm)
        self.v_optimizer.step()
        return {"Value Loss": value_loss.detach(), "V Mean": v.detach().mean()}

    def update_q(self, ob_no: torch.Tensor, ac_na: torch.Tensor, next_ob_no: torch.Tensor, reward_n: torch.Tensor,
                 terminal_n: torch.Tensor) -> dict[str, torch.Tensor]:
        """One Adam step on both Q-nets toward r + gamma (1 - d) V(s'); returns the detached losses."""
        ob_no, ac_na, next_ob_no, reward_n, terminal_n = self._transitions(ob_no, ac_na, next_ob_no, reward_n,
                                                                            terminal_n)

        # BEGIN SOLUTION iql_q_loss
        with torch.no_grad():
            target = reward_n + self.gamma * (1.0 - terminal_n) * self.get_v(next_ob_no)
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
