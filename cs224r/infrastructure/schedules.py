"""Learning-rate schedules shared by the agents (the actor's cosine decay of the CS224R homework and IQL)."""

from __future__ import annotations

import math

import torch

from cs224r.infrastructure.config import SCHEDULES  # the names, defined with the config


def cosine_lr(base_lr: float, step: int, total_steps: int) -> float:
    """base_lr * (1 + cos(pi * step / total_steps)) / 2 for update ``step`` (0-based); 0 after ``total_steps``."""
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive for the cosine schedule, got {total_steps}")
    frac = min(step, total_steps) / total_steps
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * frac))


class LRSchedule:
    """Sets an optimizer's learning rate before each update: ``constant`` or ``cosine`` decay to 0.

    Call :meth:`step` once before each optimizer step; it returns the rate that step uses (the agents
    log it as ``Actor LR`` when the schedule is not constant). ``state_dict`` holds the update count so
    a resumed run continues the schedule. After :meth:`on_device` (the trainer's CUDA-graph step) a
    cosine schedule keeps its count and rate as device tensors, so a replayed graph moves it.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: str = "constant", total_steps: int = 1) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown learning-rate schedule '{schedule}'; use one of {', '.join(SCHEDULES)}")
        self.optimizer, self.schedule, self.total_steps = optimizer, schedule, total_steps
        # the rate the optimizer was built with (kept in the group, as torch's own schedulers do)
        self.base_lr = optimizer.param_groups[0].setdefault("initial_lr", optimizer.param_groups[0]["lr"])
        self._updates = 0
        # on_device: the count, the schedule's rates for every count, and the rate the optimizer reads
        self._count: torch.Tensor | None = None
        self._table: torch.Tensor | None = None
        self._lr: torch.Tensor | None = None
        if schedule == "cosine" and total_steps <= 0:
            raise ValueError(f"total_steps must be positive for the cosine schedule, got {total_steps}")

    @property
    def num_updates(self) -> int:
        """Updates made so far (read from the device after ``on_device``)."""
        return self._updates if self._count is None else int(self._count)

    @num_updates.setter
    def num_updates(self, value: int) -> None:
        self._updates = int(value)
        if self._count is not None:
            self._count.fill_(self._updates)

    def current_lr(self) -> float:
        if self.schedule == "constant":
            return self.base_lr
        return cosine_lr(self.base_lr, self.num_updates, self.total_steps)

    def on_device(self, device: torch.device) -> None:
        """Keep the count on ``device`` (a graph replays no Python), and for a cosine schedule the rates of
        counts 0..total_steps in a table (float32, as the optimizer would round the host's rate) and the
        optimizer's ``lr`` as a 0-d tensor that :meth:`step` overwrites in place (a constant rate stays a float)."""
        if self._count is not None:
            return
        self._count = torch.tensor([self._updates], dtype=torch.int64, device=device)
        if self.schedule == "constant":
            return
        rates = [cosine_lr(self.base_lr, n, self.total_steps) for n in range(self.total_steps + 1)]
        self._table = torch.tensor(rates, dtype=torch.float32, device=device)
        self._lr = torch.tensor(self.current_lr(), dtype=torch.float32, device=device)
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr

    def step(self) -> float | torch.Tensor:
        if self._count is not None and self._lr is None:  # a constant rate, the count on the device
            for group in self.optimizer.param_groups:
                group["lr"] = self.base_lr
            self._count.add_(1)
            return self.base_lr
        if self._count is not None:  # on the device: no host value, so a CUDA graph can replay it
            last = self._table.shape[0] - 1  # past total_steps the rate stays at its end value
            self._lr.copy_(self._table.index_select(0, self._count.clamp(max=last)).squeeze(0))
            self._count.add_(1)
            for group in self.optimizer.param_groups:  # the agent may have set a float since
                group["lr"] = self._lr
            return self._lr.clone()
        lr = self.current_lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self._updates += 1
        return lr

    def state_dict(self) -> dict:
        return {"num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        self.num_updates = int(state["num_updates"])
