"""AWAC agent: critic TD step, advantage estimate, advantage-weighted actor step, target update."""

from __future__ import annotations

import torch

from cs224r.critics.awac_critic import AWACCritic
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import AWACConfig
from cs224r.infrastructure.schedules import LRSchedule
from cs224r.policies.MLP_policy import MLPPolicyAWAC


class AWACAgent:
    def __init__(self, ob_dim: int, ac_dim: int, discrete: bool, config: AWACConfig) -> None:
        self.config = config
        self.discrete = discrete
        self.actor = MLPPolicyAWAC(ob_dim, ac_dim, config.actor_n_layers, config.actor_size, discrete,
                                   learning_rate=config.actor_lr, max_grad_norm=config.grad_clip,
                                   lambda_awac=config.lambda_awac, max_weight=config.max_weight)
        self.critic = AWACCritic(ob_dim, ac_dim, config.critic_n_layers, config.critic_size, discrete,
                                 gamma=config.gamma, tau=config.tau, learning_rate=config.critic_lr,
                                 max_grad_norm=config.grad_clip)
        self.actor_lr = LRSchedule(self.actor.optimizer, config.actor_lr_schedule, config.total_steps)

    def estimate_advantage(self, ob_no: torch.Tensor, ac_na: torch.Tensor) -> torch.Tensor:
        """A(s, a) = min Q(s, a) - min Q(s, a_pi) of the online nets, one sample a_pi ~ pi(.|s); [B], no gradient."""
        ob_no, ac_na = ptu.from_numpy(ob_no), ptu.from_numpy(ac_na, torch.long if self.discrete else None)

        # BEGIN SOLUTION estimate_advantage
        with torch.no_grad():
            q_sa = self.critic.get_q(ob_no, ac_na)
            action_dist = self.actor(ob_no)
            ac_pi = action_dist.sample()
            v_s = self.critic.get_q(ob_no, ac_pi)
            adv_n = q_sa - v_s
        # END SOLUTION
        return adv_n

    def train(self, ob_no, ac_na, re_n, next_ob_no, terminal_n) -> dict[str, torch.Tensor]:
        """One AWAC step on a minibatch (arrays, or tensors on the device): critic, advantage, actor, targets."""
        ob_no, ac_na = ptu.from_numpy(ob_no), ptu.from_numpy(ac_na, torch.long if self.discrete else None)
        re_n, terminal_n = ptu.from_numpy(re_n, torch.float32), ptu.from_numpy(terminal_n, torch.float32)
        lr = self.actor_lr.step()  # sets the actor's learning rate for this step (constant or cosine)

        # BEGIN SOLUTION next_actions
        with torch.no_grad():
            next_obs_t = ptu.from_numpy(next_ob_no)
            next_dist = self.actor(next_obs_t)
            next_actions = next_dist.sample()
        # END SOLUTION

        log = self.critic.update(ob_no, ac_na, next_ob_no, re_n, terminal_n, next_actions)

        # BEGIN SOLUTION actor_update
        adv_n = self.estimate_advantage(ob_no, ac_na)
        actor_loss = self.actor.update(ob_no, ac_na, adv_n=adv_n)
        # END SOLUTION

        self.critic.update_target_network()
        log["Actor Loss"] = actor_loss
        if self.actor_lr.schedule != "constant":  # keep the default CSV columns unchanged
            log["Actor LR"] = lr
        log["Advantage Mean"] = adv_n.mean()
        return log

    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "actor_opt": self.actor.optimizer.state_dict(),
                "critic": self.critic.state_dict(), "critic_opt": self.critic.optimizer.state_dict(),
                "actor_lr": self.actor_lr.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.actor.optimizer.load_state_dict(state["actor_opt"])
        self.critic.load_state_dict(state["critic"])
        self.critic.optimizer.load_state_dict(state["critic_opt"])
        if "actor_lr" in state:
            self.actor_lr.load_state_dict(state["actor_lr"])
