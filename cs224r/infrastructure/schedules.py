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
    a resumed run continues the schedule.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: str = "constant", total_steps: int = 1) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown learning-rate schedule '{schedule}'; use one of {', '.join(SCHEDULES)}")
        self.optimizer, self.schedule, self.total_steps = optimizer, schedule, total_steps
        # the rate the optimizer was built with (kept in the group, as torch's own schedulers do)
        self.base_lr = optimizer.param_groups[0].setdefault("initial_lr", optimizer.param_groups[0]["lr"])
        self.num_updates = 0
        if schedule == "cosine" and total_steps <= 0:
            raise ValueError(f"total_steps must be positive for the cosine schedule, got {total_steps}")

    def current_lr(self) -> float:
        if self.schedule == "constant":
            return self.base_lr
        return cosine_lr(self.base_lr, self.num_updates, self.total_steps)

    def step(self) -> float:
        lr = self.current_lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.num_updates += 1
        return lr

    def state_dict(self) -> dict:
        return {"num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        self.num_updates = int(state["num_updates"])
