"""Per-seed minibatches from one dataset held on the device, drawn as ``ReplayBuffer.sample`` draws them."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cs224r.data.dataset import Dataset
from cs224r.infrastructure.replay_buffer import ReplayBuffer


class MultiSeedSampler:
    """One table [N, D] of (obs, act, rew, next_obs, terminal) on the device; seed s draws its indices
    from its own generator seeded with ``seeds[s]`` (as ``ReplayBuffer(dataset, device, seed)`` does), and
    all seeds' rows come out of one gather as [S, B, ...] tensors."""

    def __init__(self, dataset: Dataset, device: torch.device | str, seeds: Sequence[int]) -> None:
        if dataset.discrete:
            raise ValueError("the fast multi-seed path supports continuous actions only; "
                             "run discrete tasks without --fast")
        self.device = torch.device(device)
        self.size = len(dataset)
        cols = [torch.as_tensor(getattr(dataset, k)).to(self.device, torch.float32).reshape(self.size, -1)
                for k in ReplayBuffer.KEYS]
        self.widths = [c.shape[1] for c in cols]
        self.table = torch.cat(cols, 1).contiguous()
        self.generators = []
        for seed in seeds:
            gen = torch.Generator(device=self.device)
            gen.manual_seed(seed)
            self.generators.append(gen)

    def indices(self, batch_size: int) -> torch.Tensor:
        """[S, B] row indices, seed s's drawn exactly as its ``ReplayBuffer`` would."""
        return torch.stack([torch.randint(0, self.size, (batch_size,), device=self.device, generator=g)
                            for g in self.generators])

    def sample(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """(obs, act, rew, next_obs, terminal) for every seed: [S, B, d] (rewards/terminals [S, B])."""
        return self.split(self.gather(self.indices(batch_size)))

    def gather(self, idx: torch.Tensor) -> torch.Tensor:
        """Rows ``table[idx]`` for [S, B] indices as [S, B, D] (``index_select``: the same rows, 2-4x faster
        on a CPU than advanced indexing, most on large tables)."""
        return self.table.index_select(0, idx.reshape(-1)).view(*idx.shape, self.table.shape[1])

    def split(self, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Gathered rows [S, B, D] -> (obs, act, rew, next_obs, terminal) views."""
        ob, ac, re, next_ob, term = torch.split(rows, self.widths, -1)
        return ob, ac, re.squeeze(-1), next_ob, term.squeeze(-1)
