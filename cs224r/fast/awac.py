"""AWAC for S seeds at once: one stacked model whose member s is numerically seed s's reference agent.

Per seed this reproduces ``AWACAgent.train`` (reference: ``cs224r/agents/awac_agent.py``):
its initial weights (the reference agent is built under ``torch.manual_seed(seed)`` and copied), its
minibatch indices (a generator seeded like ``ReplayBuffer``'s), its action noise (a generator continuing
the global RNG stream right after the agent was built, drawn with ``normal_`` as
``MultivariateNormal.sample`` does), its losses, per-seed gradient clipping, Adam and Polyak steps.
What changes is only how the work is laid out: stacked parameters and batched matmuls, one actor forward
on ``ob`` serving both the a_pi sample and the log-probability, one critic call for Q(s, a) and
Q(s, a_pi) of both Q-nets, the closed-form diagonal-Gaussian log-probability, and one gather for all
seeds' minibatches.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence

import numpy as np
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.fast.ensemble import MemberGradClip, diag_gaussian_log_prob, mlp_forward, stack_mlps, unstack_into
from cs224r.fast.members import MemberAdam, check_shared, cosine_table, member_value
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import AWACConfig
from cs224r.infrastructure.schedules import cosine_lr
from cs224r.infrastructure.utils import set_seed
from cs224r.policies.MLP_policy import LOG_STD_MAX, LOG_STD_MIN

LOG_KEYS = ("Critic Loss", "Critic Loss2", "Q Mean", "Actor Loss", "Advantage Mean")


def build_reference_agent(seed: int, ob_dim: int, ac_dim: int, config: AWACConfig) -> AWACAgent:
    """Seed the global RNGs and build the reference agent as ``RL_Trainer`` does for ``seed``."""
    set_seed(seed)
    return AWACAgent(ob_dim, ac_dim, False, config)


def noise_generator_after_init(device: torch.device) -> torch.Generator:
    """A generator holding the global RNG state now (where the reference draws its action noise)."""
    gen = torch.Generator(device=device)
    if device.type == "cuda":
        gen.set_state(torch.cuda.get_rng_state(device))
    else:
        gen.set_state(torch.get_rng_state())
    return gen


def _adam(params: list[torch.Tensor], lr: float) -> torch.optim.Adam:
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except RuntimeError:  # a torch or device without the fused kernel
        return torch.optim.Adam(params, lr=lr)


def _step_hooks(opt: torch.optim.Optimizer) -> bool:
    """Whether ``opt.step()`` would run step hooks (the optimizer's own or global ones)."""
    module = sys.modules.get("torch.optim.optimizer")
    return bool(getattr(opt, "_optimizer_step_pre_hooks", None) or getattr(opt, "_optimizer_step_post_hooks", None)
                or getattr(module, "_global_optimizer_pre_hooks", None)
                or getattr(module, "_global_optimizer_post_hooks", None))


@torch.compiler.disable  # two kernels, nothing to fuse: compiled code calls it as it is
def adam_step(opt: torch.optim.Adam) -> None:
    """``opt.step()`` for a fused Adam on the CPU with one parameter group and its state created: the two
    kernels that step runs (step counts + 1, then ``_fused_adam_``) without its per-call Python (hooks,
    profiler scope, regrouping the state), which costs about 3% of a 3-seed CPU step. Anything else goes
    through ``opt.step()`` (on a GPU the steps are replayed as CUDA graphs, where Python costs nothing)."""
    group = opt.param_groups[0]
    params = group["params"]
    if not group.get("fused") or len(opt.param_groups) != 1 or group["amsgrad"] or group["weight_decay"] \
            or group["maximize"] or group.get("decoupled_weight_decay") or _step_hooks(opt) \
            or any(p.device.type != "cpu" or p.grad is None or p not in opt.state for p in params):
        opt.step()
        return
    states = [opt.state[p] for p in params]
    steps = [st["step"] for st in states]
    torch._foreach_add_(steps, 1)
    torch._fused_adam_(params, [p.grad for p in params], [st["exp_avg"] for st in states],
                       [st["exp_avg_sq"] for st in states], [], steps, amsgrad=False, lr=group["lr"],
                       beta1=group["betas"][0], beta2=group["betas"][1], weight_decay=0.0, eps=group["eps"],
                       maximize=False, grad_scale=None, found_inf=None)


class FastAWAC:
    """S seeds of AWAC as one stacked model on one device.

    Stacked layouts: actor MLP members are the S seeds; critic MLP members are [q_net of seeds 0..S-1,
    q_net2 of seeds 0..S-1] (2S members), likewise the two target nets.

    ``config`` is one config for every seed, or one per seed: then the members may differ in the scalar
    hyperparameters (``cs224r.fast.members.HYPERPARAMETERS``) and the actor schedule's length
    (``total_steps``), each held as a float when the members agree and as an [S] tensor otherwise.
    """

    def __init__(self, seeds: Sequence[int], ob_dim: int, ac_dim: int, config: AWACConfig | Sequence[AWACConfig],
                 device: torch.device | str | None = None) -> None:
        self.seeds = list(seeds)
        self.S = len(self.seeds)
        self.configs = list(config) if isinstance(config, (list, tuple)) else [config] * self.S
        if len(self.configs) != self.S:
            raise ValueError(f"{len(self.configs)} configs for {self.S} seeds; give one per seed")
        check_shared(self.configs, also_per_member=("total_steps",))
        config = self.configs[0]
        self.ob_dim, self.ac_dim, self.config = ob_dim, ac_dim, config
        self.device = torch.device(device) if device is not None else ptu.device
        # each seed's reference agent (its initial weights; later the per-seed checkpoint / policy format;
        # building it checks the config, e.g. the actor lr schedule) and its action-noise stream, continuing
        # the global RNG right after that agent was built
        self.shells = []
        self.noise: list[torch.Generator] = []
        for seed, cfg in zip(self.seeds, self.configs):
            self.shells.append(self.build_reference(seed, ob_dim, ac_dim, cfg))
            self.noise.append(noise_generator_after_init(self.device))
        # the actor's learning-rate schedule (reference: AWACAgent.actor_lr, an LRSchedule), per member
        self.lr_schedule = config.actor_lr_schedule
        self.base_lrs = [c.actor_lr for c in self.configs]
        self.member_total_steps = [c.total_steps for c in self.configs]
        self.total_steps, self.base_lr = config.total_steps, config.actor_lr  # member 0's (all, when shared)
        # one actor rate for all members (a float or a 0-d tensor) unless their rates or schedules differ
        self.shared_actor_lr = len(set(self.base_lrs)) == 1 and (
            self.lr_schedule == "constant" or len(set(self.member_total_steps)) == 1)
        self.gamma, self.grad_clip = self._member("gamma"), config.grad_clip
        # Polyak rate against the stacked critic tensors [2S, ...]: [q_net of members, q_net2 of members]
        self.tau = member_value([c.tau for c in self.configs] * 2, self.device, (-1, 1, 1))
        self._set_weighting(config)
        self._clippers: dict[tuple, MemberGradClip] = {}
        self.flat_clip = self.device.type == "cuda"  # MemberGradClip's layout: fewer kernels on a GPU
        self._load_from_shells()
        self._compiled = None

    build_reference = staticmethod(build_reference_agent)  # the algorithm's reference agent for one seed

    def _member(self, name: str) -> float | torch.Tensor:
        """Hyperparameter ``name`` of every member: a float when they agree, else [S, 1] (against [S, B])."""
        return member_value([getattr(c, name) for c in self.configs], self.device)

    def _set_weighting(self, config: AWACConfig) -> None:
        """The actor weights' hyperparameters: exp(A / lambda) clamped at max_weight."""
        self.lambda_awac, self.max_weight = self._member("lambda_awac"), self._member("max_weight")

    # ------------------------------------------------------------------ parameters
    def _load_from_shells(self) -> None:
        self._stack_nets()
        # fused Adam: one kernel over each stacked tensor (CPU and CUDA); elementwise, so per seed it is
        # the reference's Adam up to float rounding
        self._make_optimizers()
        updates = {self._shell_updates(a) for a in self.shells}
        if len(updates) != 1:
            raise ValueError(f"the seeds' actors are at different update counts {sorted(updates)}")
        self.num_updates = updates.pop()  # the schedule's position
        self._load_opt_state_from_shells()
        self._init_actor_lr()

    def _stack_nets(self) -> None:
        dev = self.device
        self.actor = [p.requires_grad_(True) for p in stack_mlps([a.actor.mean_net for a in self.shells], dev)]
        self.logstd = torch.stack([a.actor.logstd.detach() for a in self.shells]).to(dev).requires_grad_(True)
        crit = [a.critic for a in self.shells]
        self.critic = [p.requires_grad_(True) for p in
                       stack_mlps([c.q_net for c in crit] + [c.q_net2 for c in crit], dev)]
        self.critic_target = stack_mlps([c.q_net_target for c in crit] + [c.q_net2_target for c in crit], dev)

    def _member_adam(self, params: list[torch.Tensor], rates: Sequence[float],
                     member_dims: tuple[int, ...] = ()) -> torch.optim.Optimizer:
        """The fused Adam when every member has the same rate, else a ``MemberAdam`` with an [S] rate."""
        if len(set(rates)) == 1:
            return _adam(params, rates[0])
        return MemberAdam(params, torch.tensor(list(rates), dtype=torch.float32, device=self.device), member_dims)

    def _make_optimizers(self) -> None:
        actor_params = [*self.actor, self.logstd]
        if self.shared_actor_lr:
            self.actor_opt = _adam(actor_params, self.config.actor_lr)
        else:  # a MemberAdam even when the base rates agree: the schedules' lengths differ
            self.actor_opt = MemberAdam(actor_params, torch.tensor(self.base_lrs, dtype=torch.float32,
                                                                   device=self.device))
        self.critic_opt = self._member_adam(self.critic, [c.critic_lr for c in self.configs], (2,))

    def _init_actor_lr(self) -> None:
        """A changing actor rate lives in a device tensor that Adam reads (0-d for all members, the
        ``MemberAdam``'s [S] rate when they differ), written before each step (from the host in ``update``,
        from a device table in ``graph_update``), so that a CUDA graph of the step replays the schedule.
        A constant shared rate stays a Python float."""
        self._lr_now: torch.Tensor | None = None
        self._lr_table: torch.Tensor | None = None
        self._lr_step: torch.Tensor | None = None
        if self.lr_schedule == "constant":
            return
        if not self.shared_actor_lr:
            self._lr_now = self.actor_opt.rate
            self._lr_now.copy_(torch.tensor(self.current_lr(), dtype=torch.float32))
            return
        self._lr_now = torch.tensor(self.current_lr(), dtype=torch.float32, device=self.device)
        for group in self.actor_opt.param_groups:
            group["lr"] = self._lr_now

    @staticmethod
    def _shell_updates(shell: AWACAgent) -> int:
        return shell.actor_lr.num_updates

    def _set_shell_updates(self, shell: AWACAgent) -> None:
        shell.actor_lr.num_updates = self.num_updates

    # optimizer groups: each pairs one stacked Adam with one Adam per reference agent
    OPT_GROUPS: tuple[str, ...] = ("actor", "critic")

    def _opt(self, which: str) -> torch.optim.Optimizer:
        return {"actor": self.actor_opt, "critic": self.critic_opt}[which]

    @staticmethod
    def _ref_opt(shell: AWACAgent, which: str) -> torch.optim.Optimizer:
        return shell.actor.optimizer if which == "actor" else shell.critic.optimizer

    def _ref_params(self, shell: AWACAgent, which: str) -> list[torch.nn.Parameter]:
        """The reference's parameters of group ``which``, in the stacked order."""
        if which == "actor":
            return [*shell.actor.mean_net.parameters(), shell.actor.logstd]
        return [*shell.critic.q_net.parameters(), *shell.critic.q_net2.parameters()]

    def _stacked_params(self, which: str) -> list[torch.Tensor]:
        return [*self.actor, self.logstd] if which == "actor" else list(self.critic)

    def _load_opt_state_from_shells(self) -> None:
        """Copy the shells' Adam moments (after loading a checkpoint) into the stacked optimizers."""
        for which in self.OPT_GROUPS:
            opt = self._opt(which)
            ref_opts = [self._ref_opt(sh, which) for sh in self.shells]
            ref_params = [self._ref_params(sh, which) for sh in self.shells]
            if not any(ro.state for ro in ref_opts):
                continue
            steps = {float(ro.state[rp[0]]["step"]) for ro, rp in zip(ref_opts, ref_params)}
            if len(steps) != 1:
                raise ValueError(f"the seeds' {which} optimizers are at different steps {sorted(steps)}")
            step = steps.pop()
            on_device = opt.defaults.get("fused") or isinstance(opt, MemberAdam)  # else Adam's CPU count
            for p in self._stacked_params(which):
                where = p.device if on_device else "cpu"
                opt.state[p] = {"step": torch.tensor(step, dtype=torch.float32, device=where),
                                "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
            for s in range(self.S):
                for key in ("exp_avg", "exp_avg_sq"):
                    for view, rp in zip(self._state_views(which, s, key, opt), ref_params[s]):
                        view.copy_(ref_opts[s].state[rp][key])

    def _state_views(self, which: str, s: int, key: str, opt: torch.optim.Optimizer) -> list[torch.Tensor]:
        """Seed ``s``'s slices of Adam state ``key``, shaped and ordered like the reference's parameters."""
        params = self._stacked_params(which)
        states = [opt.state[p][key] for p in params]
        if which == "actor":
            return [st[s].t() if i % 2 == 0 else st[s, 0] for i, st in enumerate(states[:-1])] + [states[-1][s]]
        out = []
        for net in range(2):
            m = net * self.S + s
            out += [st[m].t() if i % 2 == 0 else st[m, 0] for i, st in enumerate(states)]
        return out

    @torch.no_grad()
    def _unstack_weights(self, shell: AWACAgent, s: int) -> None:
        """Write seed ``s``'s actor, Q-nets and target nets into its reference agent."""
        unstack_into(self.actor, s, shell.actor.mean_net)
        shell.actor.logstd.copy_(self.logstd[s])
        c = shell.critic
        for net, (online, target) in enumerate(((c.q_net, c.q_net_target), (c.q_net2, c.q_net2_target))):
            unstack_into(self.critic, net * self.S + s, online)
            unstack_into(self.critic_target, net * self.S + s, target)
        self._set_shell_updates(shell)

    @torch.no_grad()
    def sync_shell(self, s: int) -> AWACAgent:
        """Write seed ``s``'s weights and Adam state into its reference agent and return it."""
        shell = self.shells[s]
        self._unstack_weights(shell, s)
        for which in self.OPT_GROUPS:
            opt, ref_opt = self._opt(which), self._ref_opt(shell, which)
            first = self._stacked_params(which)[0]
            if first not in opt.state:
                continue
            step = opt.state[first]["step"].detach().float().cpu()
            moments = {key: self._state_views(which, s, key, opt) for key in ("exp_avg", "exp_avg_sq")}
            for i, rp in enumerate(self._ref_params(shell, which)):
                ref_opt.state[rp] = {"step": step.clone(),
                                     "exp_avg": moments["exp_avg"][i].clone().contiguous(),
                                     "exp_avg_sq": moments["exp_avg_sq"][i].clone().contiguous()}
            rate = opt.rate[s] if isinstance(opt, MemberAdam) else opt.param_groups[0]["lr"]
            for group in ref_opt.param_groups:  # the rate the last step used, as the reference leaves it
                group["lr"] = float(rate)
        return shell

    def load_shells(self) -> None:
        """Rebuild the stacked model from the shells (after ``shell.load_state_dict`` on each)."""
        self._load_from_shells()
        self._compiled = None

    # ------------------------------------------------------------------ the update
    def _policy_std(self) -> torch.Tensor:
        return torch.exp(self.logstd.clamp(LOG_STD_MIN, LOG_STD_MAX))  # [S, A]; temperature 1

    def _noise(self, shape: tuple[int, ...]) -> torch.Tensor:
        """One standard-normal draw per seed from that seed's stream: [S, *shape]."""
        return torch.stack([torch.empty(shape, device=self.device).normal_(generator=g) for g in self.noise])

    def _q_all(self, params: Sequence[torch.Tensor], obs_act: torch.Tensor) -> torch.Tensor:
        """Both Q-nets of every seed: obs_act [S, N, in] -> [2, S, N]."""
        x = obs_act.unsqueeze(0).expand(2, *obs_act.shape).reshape(2 * self.S, *obs_act.shape[1:])
        return mlp_forward(params, x).view(2, self.S, -1)

    def _descend(self, loss: torch.Tensor, params: list[torch.Tensor], member_dims: tuple[int, ...],
                 opt: torch.optim.Optimizer) -> None:
        """One optimizer step on ``loss`` (summed over seeds) with ``clip_grad_norm_`` per seed; ``member_dims``
        are the leading dims of each tensor that belong to one seed (``(2,)`` for both Q-nets of a seed)."""
        grads = torch.autograd.grad(loss, params)
        if self.grad_clip:
            grads, _ = self._clipper(params, member_dims)(grads)
        for p, g in zip(params, grads):
            p.grad = g
        adam_step(opt)

    def _clipper(self, params: Sequence[torch.Tensor], member_dims: tuple[int, ...]) -> MemberGradClip:
        """The per-seed gradient clipping of one parameter group (built on first use)."""
        key = (member_dims, *(p.shape for p in params))
        if key not in self._clippers:
            self._clippers[key] = MemberGradClip([p.shape for p in params], [member_dims] * len(params),
                                                 self.S, self.grad_clip, self.device, flat=self.flat_clip)
        return self._clippers[key]

    def _descent_groups(self) -> list[tuple[list[torch.Tensor], tuple[int, ...]]]:
        """Each parameter group that ``_update`` passes to ``_descend``, with its per-seed leading dims."""
        return [(self.critic, (2,)), ([*self.actor, self.logstd], ())]

    @torch.no_grad()
    def _polyak(self) -> None:
        """target <- target + tau (online - target), with each member's tau."""
        if isinstance(self.tau, float):
            torch._foreach_lerp_(self.critic_target, self.critic, self.tau)
        else:
            for target, online in zip(self.critic_target, self.critic):
                target.lerp_(online, self.tau)

    def _actor_step(self, ac: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                    weights: torch.Tensor) -> torch.Tensor:
        """Weighted log-likelihood of the dataset actions under N(mean, std); one actor step; [S] losses."""
        actor_loss = -(diag_gaussian_log_prob(ac, mean, std) * weights).mean(-1)  # [S]
        self._descend(actor_loss.sum(), [*self.actor, self.logstd], (), self.actor_opt)
        return actor_loss

    def _set_actor_lr(self) -> float | torch.Tensor:
        """Put the schedule's rate for this update into the actor's optimizer (before the step, as the
        reference does) and return it (a float, or the members' [S] rates)."""
        lr = self.current_lr()
        if self._lr_now is not None:
            if self.shared_actor_lr:
                self._lr_now.fill_(lr)
            else:
                self._lr_now.copy_(torch.tensor(lr, dtype=torch.float32))
            if self._lr_step is not None:  # keep a graph's device counter in step with eager updates
                self._lr_step.fill_(self.num_updates + 1)
        return lr if self.shared_actor_lr else self.actor_opt.rate

    def _graph_actor_lr(self) -> float | torch.Tensor:
        """``_set_actor_lr`` without the host: the rate is read from a table of the whole schedule at a
        device-side update counter, which then advances (what a replayed graph can do)."""
        if self._lr_now is None:
            return self.base_lr if self.shared_actor_lr else self.actor_opt.rate
        if self._lr_table is None:
            rates = cosine_table(self.base_lrs, self.member_total_steps)  # [T+1, S]
            self._lr_table = torch.tensor(rates[:, 0] if self.shared_actor_lr else rates, dtype=torch.float32,
                                          device=self.device)
            self._lr_step = torch.tensor([self.num_updates], dtype=torch.int64, device=self.device)
        last = self._lr_table.shape[0] - 1  # the schedule stays at its end value past total_steps
        self._lr_now.copy_(self._lr_table.index_select(0, self._lr_step.clamp(max=last)).squeeze(0))
        self._lr_step.add_(1)
        return self._lr_now

    def _lr_log(self, lr: float | list[float] | torch.Tensor) -> torch.Tensor:
        """The logged ``Actor LR``: the [S] rates this update used (a copy)."""
        if isinstance(lr, torch.Tensor):
            return lr.repeat(self.S) if lr.dim() == 0 else lr.clone()
        if isinstance(lr, list):
            return torch.tensor(lr, dtype=torch.float32, device=self.device)
        return torch.full((self.S,), lr, device=self.device)

    def current_lr(self) -> float | list[float]:
        """The actor's rate for the next update: constant, or cosine decay over ``total_steps``; a list
        of the members' rates when they differ."""
        rates = [base if self.lr_schedule == "constant" else cosine_lr(base, self.num_updates, total)
                 for base, total in zip(self.base_lrs, self.member_total_steps)]
        return rates[0] if self.shared_actor_lr else rates

    def update(self, ob: torch.Tensor, ac: torch.Tensor, re: torch.Tensor, next_ob: torch.Tensor,
               terminal: torch.Tensor) -> dict[str, torch.Tensor]:
        """One AWAC step for every seed on its own minibatch ([S, B, ...] tensors); returns [S] logs."""
        B = ob.shape[1]
        lr = self._set_actor_lr()
        eps_next = self._noise((B, self.ac_dim))  # a' ~ pi(.|s') (reference: AWACAgent.train, next_actions)
        eps_pi = self._noise((B, self.ac_dim))  # a_pi ~ pi(.|s) (reference: estimate_advantage)
        log = self._update_fn()(ob, ac, re, next_ob, terminal, eps_next, eps_pi)
        self.num_updates += 1
        return self._with_lr(log, lr)

    def _update_fn(self):
        """The compiled update after ``enable_compile``, else the eager one."""
        return self._compiled if self._compiled is not None else self._update

    def _with_lr(self, log: dict[str, torch.Tensor], lr: float | torch.Tensor) -> dict[str, torch.Tensor]:
        """The update's logs with the ``Actor LR`` this update used, in the reference's column order."""
        if self.lr_schedule != "constant":  # logged as (and in the column order) the reference logs it
            adv_mean = log.pop("Advantage Mean")
            log["Actor LR"] = self._lr_log(lr)
            log["Advantage Mean"] = adv_mean
        return log

    def _update(self, ob, ac, re, next_ob, terminal, eps_next, eps_pi) -> dict[str, torch.Tensor]:
        # ---- critic: TD target from the targets at a' ~ pi(.|s')
        with torch.no_grad():
            std = self._policy_std()[:, None, :]
            next_ac = torch.tanh(mlp_forward(self.actor, next_ob)) + std * eps_next
            q_next = self._q_all(self.critic_target, torch.cat([next_ob, next_ac], -1))
            target = re + self.gamma * (1.0 - terminal) * torch.minimum(q_next[0], q_next[1])
        q = self._q_all(self.critic, torch.cat([ob, ac], -1))  # [2, S, B]
        losses = (q - target).pow(2).mean(-1)  # [2, S]: MSE of each Q-net of each seed
        self._descend(losses.sum(), self.critic, (2,), self.critic_opt)

        # ---- advantage with the updated critic; one actor forward on ob serves a_pi and log pi(a|s)
        mean = torch.tanh(mlp_forward(self.actor, ob))  # [S, B, A], with grad for the actor loss
        std = self._policy_std()[:, None, :]
        with torch.no_grad():
            a_pi = mean.detach() + std.detach() * eps_pi
            q_both = self._q_all(self.critic, torch.cat([torch.cat([ob, ac], -1), torch.cat([ob, a_pi], -1)], 1))
            q_min = torch.minimum(q_both[0], q_both[1])  # [S, 2B]
            adv = q_min[:, :ob.shape[1]] - q_min[:, ob.shape[1]:]
            weights = torch.exp(adv / self.lambda_awac).clamp(max=self.max_weight)

        # ---- actor: advantage-weighted log-likelihood of the dataset actions
        actor_loss = self._actor_step(ac, mean, std, weights)

        # ---- Polyak
        self._polyak()
        return {"Critic Loss": losses[0].detach(), "Critic Loss2": losses[1].detach(),
                "Q Mean": q[0].detach().mean(-1), "Actor Loss": actor_loss.detach(),
                "Advantage Mean": adv.mean(-1)}

    def enable_compile(self) -> bool:
        """``torch.compile`` the update's arithmetic (the RNG draws stay eager); False when unavailable.
        A changing actor rate is a device tensor (``_init_actor_lr``), so the schedule does not recompile."""
        if self.grad_clip:  # built before tracing: else the first call traces the building and the next recompiles
            for params, member_dims in self._descent_groups():
                self._clipper(params, member_dims)
        try:  # a tiny compiled call first: a missing C++ compiler or unsupported platform shows up here
            probe = torch.ones(2, device=self.device)
            torch.compile(lambda t: torch.relu(t) * 2.0, dynamic=False)(probe)
            self._compiled = torch.compile(self._update, dynamic=False)
        except Exception as err:  # keep the eager update
            print(f"torch.compile unavailable ({type(err).__name__}: {err}); using the eager fast path")
            self._compiled = None
        return self._compiled is not None

    # ------------------------------------------------------------------ CUDA-graph hooks (cs224r/fast/cuda_graph.py)
    def noise_shapes(self, batch_size: int) -> list[tuple[int, ...]]:
        """Per-seed shapes of the noise one update draws, in drawing order: a' then a_pi."""
        return [(batch_size, self.ac_dim), (batch_size, self.ac_dim)]

    def graph_update(self, ob, ac, re, next_ob, terminal, noise: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """``update`` with its noise given and the rate set on the device: the part a CUDA graph replays
        (the compiled update's kernels, after ``enable_compile``)."""
        lr = self._graph_actor_lr()
        return self._with_lr(self._update_fn()(ob, ac, re, next_ob, terminal, *noise), lr)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self._opt(which) for which in self.OPT_GROUPS]

    @torch.no_grad()
    def zero_subnormal_moments(self) -> None:
        """Set Adam moments below float32's normal range (1.2e-38) to 0, in place. A GPU keeps such values
        where a CPU with ``--flush-denormal`` makes them 0: a dead unit's moments decay into that range and,
        rounded to nearest, stay there for good (0.9 times the smallest subnormal rounds back to it)."""
        tiny = torch.finfo(torch.float32).tiny
        for opt in self.optimizers():
            for state in opt.state.values():
                for key in ("exp_avg", "exp_avg_sq"):
                    if key in state:
                        state[key].masked_fill_(state[key].abs() < tiny, 0.0)

    def after_step(self) -> None:
        """Host-side bookkeeping after a replayed step: the schedule's position."""
        self.num_updates += 1

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act_deterministic(self, obs: torch.Tensor, actor: list[torch.Tensor] | None = None) -> torch.Tensor:
        """tanh(mean_net(obs)) for every seed: obs [S, N, ob_dim] -> [S, N, A] (with ``actor``: a snapshot's)."""
        return torch.tanh(mlp_forward(self.actor if actor is None else actor, obs))

    @torch.no_grad()
    def actor_snapshot(self) -> list[torch.Tensor]:
        """A copy of the stacked mean net's weights, to act with while training goes on."""
        return [p.detach().clone() for p in self.actor]

    def rng_state(self, s: int) -> dict:
        """Seed ``s``'s RNG state in ``utils.rng_state()``'s format (its noise stream as torch's)."""
        state = {"python": random.getstate(), "numpy": np.random.get_state()}
        if self.device.type == "cuda":
            state["torch"] = torch.get_rng_state()
            state["cuda"] = [self.noise[s].get_state()]
        else:
            state["torch"] = self.noise[s].get_state()
        return state

    def set_rng_state(self, s: int, state: dict) -> None:
        if self.device.type == "cuda":
            self.noise[s].set_state(state["cuda"][self.device.index or 0])
        else:
            self.noise[s].set_state(state["torch"])
