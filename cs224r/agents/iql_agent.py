"""IQL agent: expectile V step, advantage-weighted actor step, Q step toward V(s'), target update.

The order follows the IQL reference implementation: V is fit to the target Q-nets first, the actor
uses that new V, and the Q-nets then bootstrap from it; only dataset actions are ever evaluated.
"""

from __future__ import annotations

import torch

from cs224r.critics.iql_critic import IQLCritic
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import IQLConfig
from cs224r.policies.MLP_policy import MLPPolicyIQL


class IQLAgent:
    def __init__(self, ob_dim: int, ac_dim: int, discrete: bool, config: IQLConfig) -> None:
        self.config = config
        self.discrete = discrete
        self.actor = MLPPolicyIQL(ob_dim, ac_dim, config.actor_n_layers, config.actor_size, discrete,
                                  learning_rate=config.actor_lr, max_grad_norm=config.grad_clip,
                                  beta=config.temperature, max_weight=config.max_weight,
                                  total_steps=config.total_steps, lr_schedule=config.actor_lr_schedule)
        self.critic = IQLCritic(ob_dim, ac_dim, config.critic_n_layers, config.critic_size, discrete,
                                gamma=config.gamma, tau=config.tau, expectile=config.expectile,
                                learning_rate=config.critic_lr, value_learning_rate=config.value_lr,
                                max_grad_norm=config.grad_clip)

    def estimate_advantage(self, ob_no: torch.Tensor, ac_na: torch.Tensor) -> torch.Tensor:
        """A(s, a) = min Q_target(s, a) - V(s) at the dataset action; [B], no gradient."""
        ob_no, ac_na = ptu.from_numpy(ob_no), ptu.from_numpy(ac_na, torch.long if self.discrete else None)

        # BEGIN SOLUTION iql_advantage
        with torch.no_grad():
            q_sa = self.critic.get_target_q(ob_no, ac_na)
            v_s = self.critic.get_v(ob_no)
            adv_n = q_sa - v_s
        # END SOLUTION
        return adv_n

    def train(self, ob_no, ac_na, re_n, next_ob_no, terminal_n) -> dict[str, torch.Tensor]:
        """One IQL step on a minibatch (arrays, or tensors on the device); all values detached."""
        ob_no, ac_na = ptu.from_numpy(ob_no), ptu.from_numpy(ac_na, torch.long if self.discrete else None)
        log = self.critic.update_v(ob_no, ac_na)
        adv_n = self.estimate_advantage(ob_no, ac_na)
        log.update(self.actor.update(ob_no, ac_na, adv_n=adv_n))
        log["Advantage Mean"] = adv_n.mean()
        log.update(self.critic.update_q(ob_no, ac_na, next_ob_no, re_n, terminal_n))
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
