"""IQL for S seeds at once: one stacked model whose member s is numerically seed s's reference agent.

Per seed this reproduces ``IQLAgent.train`` (reference: ``cs224r/agents/iql_agent.py``,
``cs224r/critics/iql_critic.py``, ``MLPPolicyIQL``): its initial weights (the reference agent is built
under ``torch.manual_seed(seed)`` and copied), its minibatch indices (``MultiSeedSampler``), the order
V step -> actor step (weights from the target Q-nets and the new V) -> Q step (toward the new V(s')) ->
Polyak, per-seed gradient clipping over the same parameter groups, Adam, and the actor's cosine
learning rate set before each actor step from the update count. IQL draws no random numbers while
training, so the per-seed generator kept here only carries the global RNG state after the agent was built
(the checkpoint's ``rng`` entry, as ``RL_Trainer`` saves it).
"""

from __future__ import annotations

import torch

from cs224r.agents.iql_agent import IQLAgent
from cs224r.fast.awac import FastAWAC
from cs224r.fast.ensemble import mlp_forward, stack_mlps, unstack_into
from cs224r.fast.members import member_value
from cs224r.infrastructure.config import IQLConfig
from cs224r.infrastructure.utils import set_seed

# IQLAgent.train's log keys, in its order (the CSV column order)
LOG_KEYS = ("Value Loss", "V Mean", "Actor Loss", "Actor LR", "Weight Mean", "Advantage Mean",
            "Critic Loss", "Critic Loss2", "Q Mean")


def build_reference_agent(seed: int, ob_dim: int, ac_dim: int, config: IQLConfig) -> IQLAgent:
    """Seed the global RNGs and build the reference agent as ``RL_Trainer`` does for ``seed``."""
    set_seed(seed)
    return IQLAgent(ob_dim, ac_dim, False, config)


class FastIQL(FastAWAC):
    """S seeds of IQL as one stacked model on one device.

    Stacked layouts: actor and V MLP members are the S seeds; critic MLP members are [q_net of seeds
    0..S-1, q_net2 of seeds 0..S-1] (2S members), likewise the two target nets.
    """

    build_reference = staticmethod(build_reference_agent)

    def _set_weighting(self, config: IQLConfig) -> None:
        """exp(beta * (Q - V)) clamped at max_weight, with V fitted by expectile regression (weight
        expectile above V, 1 - expectile below, each computed in double as the reference does)."""
        self.beta, self.max_weight = self._member("temperature"), self._member("max_weight")
        self.expectile = self._member("expectile")
        self.expectile_below = member_value([1.0 - c.expectile for c in self.configs], self.device)

    # ------------------------------------------------------------------ parameters
    def _stack_nets(self) -> None:
        super()._stack_nets()
        self.value = [p.requires_grad_(True) for p in stack_mlps([a.critic.v_net for a in self.shells], self.device)]

    def _make_optimizers(self) -> None:
        super()._make_optimizers()
        self.value_opt = self._member_adam(self.value, [c.value_lr for c in self.configs])

    @staticmethod
    def _shell_updates(shell: IQLAgent) -> int:
        return shell.actor.num_updates

    def _set_shell_updates(self, shell: IQLAgent) -> None:
        shell.actor.num_updates = self.num_updates

    OPT_GROUPS = ("actor", "critic", "value")
    def _opt(self, which: str) -> torch.optim.Optimizer:
        return self.value_opt if which == "value" else super()._opt(which)

    @staticmethod
    def _ref_opt(shell: IQLAgent, which: str) -> torch.optim.Optimizer:
        return shell.critic.v_optimizer if which == "value" else FastAWAC._ref_opt(shell, which)

    def _ref_params(self, shell: IQLAgent, which: str) -> list[torch.nn.Parameter]:
        if which == "value":
            return list(shell.critic.v_net.parameters())
        return super()._ref_params(shell, which)

    def _stacked_params(self, which: str) -> list[torch.Tensor]:
        if which == "value":
            return list(self.value)
        return super()._stacked_params(which)

    def _state_views(self, which: str, s: int, key: str, opt: torch.optim.Optimizer) -> list[torch.Tensor]:
        if which == "value":
            states = [opt.state[p][key] for p in self.value]
            return [st[s].t() if i % 2 == 0 else st[s, 0] for i, st in enumerate(states)]
        return super()._state_views(which, s, key, opt)

    @torch.no_grad()
    def _unstack_weights(self, shell: IQLAgent, s: int) -> None:
        """AWAC's weights, plus V and the cosine schedule's position."""
        super()._unstack_weights(shell, s)
        unstack_into(self.value, s, shell.critic.v_net)

    # ------------------------------------------------------------------ the update
    def _descent_groups(self) -> list[tuple[list[torch.Tensor], tuple[int, ...]]]:
        return [(list(self.value), ()), *super()._descent_groups()]

    def update(self, ob: torch.Tensor, ac: torch.Tensor, re: torch.Tensor, next_ob: torch.Tensor,
               terminal: torch.Tensor) -> dict[str, torch.Tensor]:
        """One IQL step for every seed on its own minibatch ([S, B, ...] tensors); returns [S] logs."""
        lr = self._set_actor_lr()  # before the step, as MLPPolicyIQL.update does
        log = self._update_fn()(ob, ac, re, next_ob, terminal)
        self.num_updates += 1
        return self._with_lr(log, lr)

    def _with_lr(self, log: dict[str, torch.Tensor], lr: float | torch.Tensor) -> dict[str, torch.Tensor]:
        log["Actor LR"] = self._lr_log(lr)  # IQL logs its rate with either schedule
        return {key: log[key] for key in LOG_KEYS}

    def _v_all(self, obs: torch.Tensor) -> torch.Tensor:
        return mlp_forward(self.value, obs).squeeze(-1)  # [S, N]

    def _update(self, ob, ac, re, next_ob, terminal) -> dict[str, torch.Tensor]:
        obs_act = torch.cat([ob, ac], -1)
        # ---- V: expectile regression toward min target Q at the dataset action
        with torch.no_grad():
            q_t = self._q_all(self.critic_target, obs_act)
            q_target = torch.minimum(q_t[0], q_t[1])  # [S, B]
        v = self._v_all(ob)
        diff = q_target - v
        weight = torch.where(diff > 0, self.expectile, self.expectile_below)
        v_loss = (weight * diff.pow(2)).mean(-1)  # [S]
        self._descend(v_loss.sum(), self.value, (), self.value_opt)

        # ---- actor: exp(beta * (Q_target - new V)) weighted log-likelihood of the dataset actions
        with torch.no_grad():
            v_new = self._v_all(ob)
            adv = q_target - v_new
            weights = torch.exp(self.beta * adv).clamp(max=self.max_weight)
        mean = torch.tanh(mlp_forward(self.actor, ob))
        std = self._policy_std()[:, None, :]  # temperature 1, clamped log-std
        actor_loss = self._actor_step(ac, mean, std, weights)

        # ---- Q: both nets toward r + gamma (1 - done) V(s') with the new V
        with torch.no_grad():
            target = re + self.gamma * (1.0 - terminal) * self._v_all(next_ob)
        q = self._q_all(self.critic, obs_act)  # [2, S, B]
        losses = (q - target).pow(2).mean(-1)  # [2, S]
        self._descend(losses.sum(), self.critic, (2,), self.critic_opt)

        self._polyak()
        return {"Value Loss": v_loss.detach(), "V Mean": v.detach().mean(-1), "Actor Loss": actor_loss.detach(),
                "Weight Mean": weights.mean(-1), "Advantage Mean": adv.mean(-1),
                "Critic Loss": losses[0].detach(), "Critic Loss2": losses[1].detach(),
                "Q Mean": q[0].detach().mean(-1)}

    # ------------------------------------------------------------------ CUDA-graph hooks (cs224r/fast/cuda_graph.py)
    def noise_shapes(self, batch_size: int) -> list[tuple[int, ...]]:
        return []  # IQL's update draws no random numbers: FastAWAC.graph_update passes it none

