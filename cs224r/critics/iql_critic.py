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
                 value_learning_rate: float = 3e-4, grad_clip: float | None = 10.0) -> None:
        if not 0.0 < expectile < 1.0:
            raise ValueError(f"expectile must be in (0, 1), got {expectile}; 0.9 for AntMaze, 0.7 for locomotion")
        super().__init__(ob_dim, ac_dim, n_layers, size, discrete, gamma=gamma, tau=tau,
                         learning_rate=learning_rate, grad_clip=grad_clip)
        self.expectile = expectile
        self.v_net = ptu.build_mlp(ob_dim, 1, n_layers, size).to(ptu.device)
        self.v_optimizer = torch.optim.Adam(self.v_net.parameters(), lr=value_learning_rate)

    def update(self, *args, **kwargs):
        raise TypeError("IQLCritic trains V with update_v and Q with update_q "
                        "(AWAC's update bootstraps from Q(s', a'))")

    def get_v(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s) as a [B] tensor."""
        return self.v_net(obs).squeeze(-1)

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
        return self.fit_q(ob, ac, self.q_target(next_ob, reward, terminal))
