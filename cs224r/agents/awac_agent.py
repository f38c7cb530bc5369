"""AWAC agent: critic TD step, advantage estimate, advantage-weighted actor step, target update."""

from __future__ import annotations

import numpy as np
import torch

from cs224r.critics.awac_critic import AWACCritic
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import AWACConfig
from cs224r.policies.MLP_policy import MLPPolicyAWAC


def _as_tensor(x, dtype: torch.dtype | None = None) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else ptu.from_numpy(np.asarray(x), dtype)


class AWACAgent:
    def __init__(self, ob_dim: int, ac_dim: int, discrete: bool, config: AWACConfig) -> None:
        self.config = config
        self.discrete = discrete
        self.actor = MLPPolicyAWAC(ob_dim, ac_dim, config.actor_n_layers, config.actor_size, discrete,
                                   learning_rate=config.actor_lr, grad_clip=config.grad_clip,
                                   lambda_awac=config.lambda_awac, max_weight=config.max_weight)
        self.critic = AWACCritic(ob_dim, ac_dim, config.critic_n_layers, config.critic_size, discrete,
                                 gamma=config.gamma, tau=config.tau, learning_rate=config.critic_lr,
                                 grad_clip=config.grad_clip)

    def sample_next_action(self, next_ob: torch.Tensor) -> torch.Tensor:
        """a' ~ pi(.|s') for the TD target, with no gradient into the actor."""
        # BEGIN SOLUTION next_action
        with torch.no_grad():
            next_ac = self.actor(next_ob).sample()
        # END SOLUTION
        return next_ac

    def estimate_advantage(self, ob: torch.Tensor, ac: torch.Tensor) -> torch.Tensor:
        """A(s, a) = min Q(s, a) - min Q(s, a_pi) with one sample a_pi ~ pi(.|s); no gradient."""
        # BEGIN SOLUTION advantage
        with torch.no_grad():
            a_pi = self.actor(ob).sample()
            adv = self.critic.get_q(ob, ac) - self.critic.get_q(ob, a_pi)
        # END SOLUTION
        return adv

    def train(self, ob, ac, re, next_ob, terminal) -> dict[str, torch.Tensor]:
        """One AWAC step on a minibatch (tensors on the device, or arrays)."""
        ob, next_ob = _as_tensor(ob), _as_tensor(next_ob)
        ac = _as_tensor(ac, torch.long if self.discrete else None)
        re, terminal = _as_tensor(re).float(), _as_tensor(terminal).float()

        # BEGIN SOLUTION agent_updates
        next_ac = self.sample_next_action(next_ob)
        log = self.critic.update(ob, ac, next_ob, next_ac, re, terminal)
        adv = self.estimate_advantage(ob, ac)
        log["Actor Loss"] = self.actor.update(ob, ac, adv)
        # END SOLUTION
        log["Advantage Mean"] = adv.mean()
        self.critic.update_target_network()
        return log

    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "actor_opt": self.actor.optimizer.state_dict(),
                "critic": self.critic.state_dict(), "critic_opt": self.critic.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.actor.optimizer.load_state_dict(state["actor_opt"])
        self.critic.load_state_dict(state["critic"])
        self.critic.optimizer.load_state_dict(state["critic_opt"])
