"""A fixed offline dataset held as tensors on the training device, sampled there."""

from __future__ import annotations

import torch

from cs224r.data.dataset import Dataset


class ReplayBuffer:
    """Uniform minibatches from a ``Dataset``; no host-to-device copies after construction."""

    KEYS = ("observations", "actions", "rewards", "next_observations", "terminals")

    def __init__(self, dataset: Dataset, device: torch.device, seed: int = 0) -> None:
        self.device = torch.device(device)
        self.size = len(dataset)
        self.discrete = dataset.discrete
        self.tensors = {}
        for key in self.KEYS:
            arr = getattr(dataset, key)
            dtype = torch.long if (key == "actions" and self.discrete) else torch.float32
            self.tensors[key] = torch.as_tensor(arr).to(device=self.device, dtype=dtype)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    def sample(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """(obs, act, rew, next_obs, terminal), indices drawn with replacement."""
        idx = torch.randint(0, self.size, (batch_size,), device=self.device, generator=self.generator)
        return tuple(self.tensors[k][idx] for k in self.KEYS)
