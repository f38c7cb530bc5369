"""Members of a stacked model that differ in the algorithm's scalar hyperparameters (a sweep as one model).

A member is one run: its config (seed, run name, hyperparameters). The stacked model holds a hyperparameter
as a Python float when every member has the same value (the seeds-only case, unchanged) and otherwise as
an [S] tensor shaped to broadcast in the update's arithmetic. Everything else - network shapes, the data,
the batch size, the budget and the logging intervals - is one for all members.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

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
