"""Replay the fast path's whole training step as one CUDA graph (``--fast-cuda-graph``).

On a GPU a 2x256-MLP update is a few hundred tiny kernels, and launching them from Python costs more than
running them. Here one step - the minibatch gather from the device-resident table, the stacked agent's
``_update`` (critic and actor steps, clipping, fused Adam, Polyak) and the running sums of the logged
losses - is captured once and then replayed with a single launch. What stays outside the graph is what
must advance each seed's own RNG stream exactly as the eager path does: the minibatch indices
(``random_`` on seed s's sampler generator, as ``torch.randint`` draws them) and the action noise
(``normal_`` on seed s's noise generator), written into static buffers the graph reads. So the numbers
are the eager fast path's, step for step (tested on a GPU in ``tests/fast/test_cuda_graph.py``).
"""

from __future__ import annotations

import torch

from cs224r.fast.sampler import MultiSeedSampler


def graph_unavailable_reason(agent, device: torch.device) -> str | None:
    """Why the step cannot be captured here (None when it can)."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return "CUDA graphs need a CUDA device"
    return agent.graph_unsupported_reason()


class GraphedStep:
    """One multi-seed training step replayed as a CUDA graph.

    ``step()`` advances every seed by one update; ``sums`` holds the per-seed running sums of the logged
    values (each ``[S]``) since the last ``reset_sums()``, as the trainer's eager accumulation would.
    The first ``warmup`` calls run the step eagerly on a side stream (real training steps: the capture
    needs the optimizer state and cuBLAS workspaces to exist already); the next call captures the step
    and every call from then on replays it.
    """

    def __init__(self, agent, sampler: MultiSeedSampler, batch_size: int, sums: dict[str, torch.Tensor] | None = None,
                 warmup: int = 3) -> None:
        reason = graph_unavailable_reason(agent, sampler.device)
        if reason is not None:
            raise RuntimeError(reason)
        self.agent, self.sampler, self.B, self.warmup = agent, sampler, batch_size, warmup
        self.device = sampler.device
        S = agent.S
        self.idx = torch.zeros((S, batch_size), dtype=torch.int64, device=self.device)
        self.noise = [torch.zeros((S, *shape), device=self.device) for shape in agent.noise_shapes(batch_size)]
        self.sums: dict[str, torch.Tensor] = {k: v.clone() for k, v in (sums or {}).items()}
        for opt in agent.optimizers():  # fused Adam keeps its step count on the device; allow its capture
            for group in opt.param_groups:
                group["capturable"] = True
        self.graph: torch.cuda.CUDAGraph | None = None
        self.eager_steps = 0

    def step(self) -> None:
        """One update of every seed."""
        self._draw()
        if self.eager_steps < self.warmup:
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                self._body()
            torch.cuda.current_stream(self.device).wait_stream(side)
            self.eager_steps += 1
        else:
            if self.graph is None:  # capturing records the kernels without running them
                self.graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(self.graph):
                    self._body()
            self.graph.replay()
        self.agent.after_step()

    def _draw(self) -> None:
        """This step's random numbers from each seed's own streams, in the eager path's order."""
        for s, gen in enumerate(self.sampler.generators):
            self.idx[s].random_(0, self.sampler.size, generator=gen)
        for buf in self.noise:
            for s, gen in enumerate(self.agent.noise):
                buf[s].normal_(generator=gen)

    def _body(self) -> None:
        ob, ac, re, next_ob, term = self.sampler.split(self.sampler.table[self.idx])
        info = self.agent.graph_update(ob, ac, re, next_ob, term, self.noise)
        for key, value in info.items():
            if key not in self.sums:  # first eager step: create the accumulator outside the capture
                self.sums[key] = torch.zeros_like(value)
            self.sums[key].add_(value)

    def reset_sums(self) -> None:
        for value in self.sums.values():
            value.zero_()
