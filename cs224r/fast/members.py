"""Members of a stacked model that differ in the algorithm's scalar hyperparameters (a sweep as one model).

A member is one run: its config (seed, run name, hyperparameters). The stacked model holds a hyperparameter
as a Python float when every member has the same value (the seeds-only case, unchanged) and otherwise as
an [S] tensor shaped to broadcast in the update's arithmetic. Everything else - network shapes, the data,
the batch size, the budget and the logging intervals - is one for all members.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

# the scalar hyperparameters a member may have of its own (fields a config lacks are skipped)
HYPERPARAMETERS = ("lambda_awac", "max_weight", "expectile", "temperature", "gamma", "tau",
                   "actor_lr", "critic_lr", "value_lr")
PER_RUN = ("seed", "exp_name")  # each member's own run directory <log_dir>/<exp_name>/seed<N>


def shared_fields(config: Any, also_per_member: Sequence[str] = ()) -> dict[str, Any]:
    """The config's fields that every member of one stacked model must share."""
    own = set(HYPERPARAMETERS) | set(PER_RUN) | set(also_per_member)
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in own}


def check_shared(configs: Sequence[Any], also_per_member: Sequence[str] = ()) -> None:
    """Raise ValueError naming the first field (other than the hyperparameters) in which members differ."""
    if len({type(c) for c in configs}) > 1:
        raise ValueError(f"the members mix algorithms ({', '.join(sorted({type(c).__name__ for c in configs}))}); "
                         "stack one algorithm at a time")
    first = shared_fields(configs[0], also_per_member)
    for cfg in configs[1:]:
        for name, value in shared_fields(cfg, also_per_member).items():
            if value != first[name]:
                raise ValueError(f"members of one stacked model must share --{name.replace('_', '-')} "
                                 f"({first[name]!r} vs {value!r}); only {', '.join(HYPERPARAMETERS)} may differ")


def member_configs(config: Any, seeds: Sequence[int] | None = None) -> list[Any]:
    """One config per member: ``config`` with each of ``seeds``, or ``config`` itself as a list of configs
    (checked: distinct run directories, shared fields equal)."""
    if not isinstance(config, (list, tuple)):
        seeds = [int(s) for s in seeds or ()]
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"--seeds needs distinct seeds, got {seeds}")
        return [dataclasses.replace(config, seed=s) for s in seeds]
    configs = list(config)
    if not configs:
        raise ValueError("a stacked model needs at least one member")
    if seeds is not None and [int(s) for s in seeds] != [c.seed for c in configs]:
        raise ValueError(f"seeds {list(seeds)} disagree with the members' configs {[c.seed for c in configs]}")
    dirs = [run_dir(c) for c in configs]
    twice = sorted({str(d) for d in dirs if dirs.count(d) > 1})
    if twice:
        raise ValueError(f"two members would write the same run directory {twice[0]}")
    check_shared(configs)
    return configs


def run_dir(config: Any) -> Path:
    """``<log_dir>/<exp_name>/seed<N>``: where a member's run lives (``RL_Trainer``'s layout)."""
    return Path(config.log_dir) / config.exp_name / f"seed{config.seed}"


def member_value(values: Sequence[float], device: torch.device | str,
                 shape: tuple[int, ...] = (-1, 1)) -> float | torch.Tensor:
    """One float when all members agree; else a float32 tensor of the values viewed as ``shape`` ([S, 1]:
    against [S, B] batches)."""
    if len(set(values)) == 1:
        return float(values[0])
    return torch.tensor(list(values), dtype=torch.float32, device=device).view(shape)


def cosine_table(base_lrs: Sequence[float], total_steps: Sequence[int]) -> np.ndarray:
    """``schedules.cosine_lr`` for every update 0..max(total_steps) and member: [max+1, S] (float64); a
    member past its own total_steps stays at 0."""
    rows = np.arange(max(total_steps) + 1, dtype=np.float64)[:, None]
    total = np.asarray(total_steps, dtype=np.float64)
    if (total <= 0).any():
        raise ValueError(f"total_steps must be positive for the cosine schedule, got {list(total_steps)}")
    frac = np.minimum(rows, total) / total
    return np.asarray(base_lrs, dtype=np.float64) * 0.5 * (1.0 + np.cos(np.pi * frac))


class MemberAdam(torch.optim.Adam):
    """Adam over stacked parameters whose members learn at their own rates.

    ``rate`` is an [M] tensor on the parameters' device (a schedule writes it in place); a parameter's
    leading ``member_dims`` groups belong to the same member (the two Q-nets of a member: ``(2,)``), then
    its M members. Per member the arithmetic is ``torch.optim.Adam``'s with the step count and bias
    corrections on the device (its capturable form), so a CUDA graph replays it. The state has Adam's
    format (``step``, ``exp_avg``, ``exp_avg_sq``); ``param_groups[0]["lr"]`` is member 0's starting rate.
    """

    def __init__(self, params: Sequence[torch.Tensor], rate: torch.Tensor, member_dims: tuple[int, ...] = ()) -> None:
        super().__init__(params, lr=float(rate[0]), foreach=False)
        self.rate, self.groups_per_member = rate, math.prod(member_dims)

    def _rows(self, p: torch.Tensor) -> torch.Tensor:
        """The rate of each row of ``p``, shaped to broadcast against it."""
        rate = self.rate.repeat(self.groups_per_member) if self.groups_per_member > 1 else self.rate
        return rate.view(-1, *(1,) * (p.dim() - 1))

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # noqa: D102 - Adam's
        if closure is not None:
            raise ValueError("MemberAdam.step takes no closure")
        group = self.param_groups[0]
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state.update(step=torch.zeros((), dtype=torch.float32, device=p.device),
                             exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
            step, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
            step.add_(1)
            m.lerp_(p.grad, 1 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            bias1, bias2 = 1 - torch.pow(beta1, step), 1 - torch.pow(beta2, step)
            denom = (v.sqrt() / bias2.sqrt()).add_(group["eps"])
            p.addcdiv_(m * (self._rows(p) / bias1), denom, value=-1.0)


# ------------------------------------------------------------------ splitting a grid into stacked models
MEMORY_SHARE = 0.5  # of the free device memory a plan fills: room for evaluation, graph pools, the allocator


def _mlp_params(sizes: Sequence[int]) -> int:
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def member_bytes(config: Any, ob_dim: int, ac_dim: int, graph_steps: int = 1) -> int:
    """Device bytes one member adds to a stacked model (an estimate from the shapes): weights, gradients, two
    Adam moments and a clipping copy of each trained net, the target Q-nets, and one update's activations
    (saved for the backward pass and its gradients; ``graph_steps`` times: a CUDA graph of that many steps
    keeps each step's in its pool)."""
    actor_h = [config.actor_size] * config.actor_n_layers
    critic_h = [config.critic_size] * config.critic_n_layers
    q = _mlp_params([ob_dim + ac_dim, *critic_h, 1])
    value = _mlp_params([ob_dim, *critic_h, 1]) if hasattr(config, "expectile") else 0
    trained = _mlp_params([ob_dim, *actor_h, ac_dim]) + ac_dim + 2 * q + value
    weights = 5 * trained + 2 * q
    batch = config.batch_size
    # actor on s (and s' for AWAC), both Q-nets on up to 3 batches, V on s and s'; x3: saved, gradient, scratch
    activations = 3 * batch * (2 * sum(actor_h) + 6 * sum(critic_h) + (2 * sum(critic_h) if value else 0)
                               + 4 * (2 * ob_dim + ac_dim + 2))
    return 4 * (weights + graph_steps * activations)


def free_bytes(device: torch.device) -> int:
    """Free memory where the stacked model lives: the GPU's, or the host's available RAM."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # no sysconf: assume 4 GiB
        return 4 << 30


def capacity(per_member: int, shared: int, free: int, max_members: int | None = None) -> int:
    """How many members one stacked model may hold: ``MEMORY_SHARE`` of ``free`` less the ``shared`` bytes
    (the dataset), over ``per_member`` bytes; at least 1, at most ``max_members``."""
    fit = max(1, int((MEMORY_SHARE * free - shared) // max(per_member, 1)))
    return min(fit, max_members) if max_members else fit


def plan_groups(keys: Sequence[Any], cap: int) -> list[list[int]]:
    """Member indices split into as few groups as fit: only members with equal ``keys`` (what they must share)
    stack together, at most ``cap`` per group, the groups of one key as even as possible, in member order."""
    if cap < 1:
        raise ValueError(f"a group holds at least 1 member, got {cap}")
    by_key: dict[Any, list[int]] = {}
    for i, key in enumerate(keys):
        by_key.setdefault(key, []).append(i)
    groups = []
    for indices in by_key.values():
        n_groups = -(-len(indices) // cap)
        base, extra = divmod(len(indices), n_groups)
        start = 0
        for g in range(n_groups):
            size = base + (1 if g < extra else 0)
            groups.append(indices[start:start + size])
            start += size
    return groups
