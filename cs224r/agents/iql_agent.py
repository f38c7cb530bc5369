"""IQL agent: expectile V step, advantage-weighted actor step, Q step toward V(s'), target update.

The order follows the IQL reference implementation: V is fit to the target Q-nets first, the actor
uses that new V, and the Q-nets then bootstrap from it; only dataset actions are ever evaluated.
"""

from __future__ import annotations

import numpy as np
import torch

from cs224r.critics.iql_critic import IQLCritic
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import IQLConfig
from cs224r.policies.MLP_policy import MLPPolicyIQL


def _as_tensor(x, dtype: torch.dtype | None = None) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else ptu.from_numpy(np.asarray(x), dtype)


class IQLAgent:
    def __init__(self, ob_dim: int, ac_dim: int, discrete: bool, config: IQLConfig) -> None:
        self.config = config
        self.discrete = discrete
        self.actor = MLPPolicyIQL(ob_dim, ac_dim, config.actor_n_layers, config.actor_size, discrete,
                                  learning_rate=config.actor_lr, grad_clip=config.grad_clip,
                                  beta=config.temperature, max_weight=config.max_weight,
                                  total_steps=config.total_steps, lr_schedule=config.actor_lr_schedule)
        self.critic = IQLCritic(ob_dim, ac_dim, config.critic_n_layers, config.critic_size, discrete,
                                gamma=config.gamma, tau=config.tau, expectile=config.expectile,
                                learning_rate=config.critic_lr, value_learning_rate=config.value_lr,
                                grad_clip=config.grad_clip)

    def train(self, ob, ac, re, next_ob, terminal) -> dict[str, torch.Tensor]:
        """One IQL step on a minibatch (tensors on the device, or arrays); all values detached."""
        ob, next_ob = _as_tensor(ob), _as_tensor(next_ob)
        ac = _as_tensor(ac, torch.long if self.discrete else None)
        re, terminal = _as_tensor(re).float(), _as_tensor(terminal).float()

        log = self.critic.update_v(ob, ac)
        with torch.no_grad():
            q, v = self.critic.get_target_q(ob, ac), self.critic.get_v(ob)
        log.update(self.actor.update(ob, ac, q, v))
        log["Advantage Mean"] = (q - v).mean()
        log.update(self.critic.update_q(ob, ac, next_ob, re, terminal))
        self.critic.update_target_network()
        return log

    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "actor_opt": self.actor.optimizer.state_dict(),
                "actor_updates": self.actor.num_updates, "critic": self.critic.state_dict(),
                "critic_opt": self.critic.optimizer.state_dict(),
                "value_opt": self.critic.v_optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.actor.optimizer.load_state_dict(state["actor_opt"])
        self.actor.num_updates = int(state["actor_updates"])
        self.critic.load_state_dict(state["critic"])
        self.critic.optimizer.load_state_dict(state["critic_opt"])
        self.critic.v_optimizer.load_state_dict(state["value_opt"])
