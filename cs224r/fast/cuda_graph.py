"""Replay the fast path's training steps as CUDA graphs (``--fast-cuda-graph``).

On a GPU a 2x256-MLP update is a couple of hundred tiny kernels, and launching them from Python costs more
than running them. Here one step - this step's random numbers, the minibatch gather from the
device-resident table, the stacked agent's ``graph_update`` (critic and actor steps, clipping, fused Adam,
Polyak, the actor's rate read from a device table of the schedule) and the running sums of the logged
values - is captured once, and so are ``steps_per_replay`` steps back to back; the trainer then replays
the long graph while a whole chunk fits before its next log, evaluation or checkpoint, and the one-step
graph otherwise. The random numbers come from each seed's own generators as in the eager path (``random_``
on seed s's sampler generator, as ``torch.randint`` draws them; ``normal_`` on seed s's noise generator):
the generators are registered with the graphs, so each replay advances their offsets as the eager draws
would. Where a torch lacks generator registration the draws run outside the graph, into static buffers.
So the numbers are the eager fast path's, step for step (tested on a GPU in ``tests/fast/test_cuda_graph.py``;
``capture=False`` runs the same code without capturing, which the CPU tests use).
"""

from __future__ import annotations

import time

import torch

from cs224r.fast.sampler import MultiSeedSampler
from cs224r.infrastructure.graph_step import check_capture


def graph_unavailable_reason(device: torch.device) -> str | None:
    """Why steps cannot be captured here (None when they can)."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return "CUDA graphs need a CUDA device"
    return None


def generators_registrable() -> bool:
    """Whether this torch lets a CUDA graph advance a custom generator's state on each replay."""
    return hasattr(torch.cuda.CUDAGraph, "register_generator_state")


class GraphedStep:
    """The fast path's multi-seed training steps, replayed as CUDA graphs.

    ``advance(n)`` advances every seed by n updates; ``sums`` holds the per-seed running sums of the logged
    values (each ``[S]``) since the last ``reset_sums()``, as the trainer's eager accumulation would.
    The first ``warmup`` updates run eagerly on a side stream (real training steps: the capture needs the
    optimizer state and cuBLAS workspaces to exist already); after that ``n == steps_per_replay`` replays
    the long graph and any other n replays the one-step graph n times (each graph captured on first use).
    ``setup_seconds`` records what the warm-up (with ``--fast-compile``: the compilation) and each capture took.
    """

    def __init__(self, agent, sampler: MultiSeedSampler, batch_size: int, sums: dict[str, torch.Tensor] | None = None,
                 warmup: int = 3, steps_per_replay: int = 1, capture: bool = True,
                 rng_in_graph: bool | None = None) -> None:
        check_capture(graph_unavailable_reason(sampler.device) if capture else None, steps_per_replay)
        self.agent, self.sampler, self.B, self.warmup = agent, sampler, batch_size, warmup
        self.capture, self.device = capture, sampler.device
        self.rng_in_graph = generators_registrable() if rng_in_graph is None else rng_in_graph
        # a multi-step graph has to draw its random numbers inside; without that, one step per replay
        self.steps_per_replay = steps_per_replay if self.rng_in_graph or not capture else 1
        S = agent.S
        self.idx = torch.zeros((S, batch_size), dtype=torch.int64, device=self.device)
        self.noise = [torch.zeros((S, *shape), device=self.device) for shape in agent.noise_shapes(batch_size)]
        self.generators = list(sampler.generators) + (list(agent.noise) if self.noise else [])
        self.sums: dict[str, torch.Tensor] = {k: v.clone() for k, v in (sums or {}).items()}
        if capture:
            for opt in agent.optimizers():  # fused Adam keeps its step count on the device; allow its capture
                for group in opt.param_groups:
                    group["capturable"] = True
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self.eager_steps = 0
        self.setup_seconds: dict[str, float] = {}  # warm-up (compilation with --fast-compile) and each capture

    def advance(self, n: int = 1) -> None:
        """n updates of every seed."""
        if n > 0 and self.eager_steps < self.warmup:
            t0 = time.perf_counter()
            while n > 0 and self.eager_steps < self.warmup:
                self._eager(1)
                self.eager_steps += 1
                n -= 1
            if self.capture:
                torch.cuda.synchronize(self.device)
            self._add_setup("eager warm-up", t0)
        if n <= 0:
            return
        if not self.capture:
            self._eager(n)
        elif n == self.steps_per_replay:
            self._replay(n)
        else:
            for _ in range(n):
                self._replay(1)

    def needs_setup(self, n: int) -> bool:
        """Whether ``advance(n)`` would run warm-up steps or capture a graph (which must have the GPU to itself)."""
        if n <= 0:
            return False
        if self.eager_steps < self.warmup:
            return True
        if not self.capture:
            return False
        return (n if n == self.steps_per_replay else 1) not in self.graphs

    def _add_setup(self, what: str, t0: float) -> None:
        self.setup_seconds[what] = self.setup_seconds.get(what, 0.0) + time.perf_counter() - t0

    def _eager(self, n: int) -> None:
        if self.capture:
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                self._steps(n, draw=True)
            torch.cuda.current_stream(self.device).wait_stream(side)
        else:
            self._steps(n, draw=True)
        for _ in range(n):
            self.agent.after_step()

    def _replay(self, n: int) -> None:
        graph = self.graphs.get(n)
        if graph is None:  # capturing records the kernels without running them
            graph = torch.cuda.CUDAGraph()
            if self.rng_in_graph:
                for gen in self.generators:
                    graph.register_generator_state(gen)
            t0 = time.perf_counter()
            try:
                with torch.cuda.graph(graph):
                    self._steps(n, draw=self.rng_in_graph)
            except RuntimeError as err:
                raise RuntimeError(f"capturing {n} training step(s) as a CUDA graph failed ({err}); continue with "
                                   "--resume and --no-fast-cuda-graph (or without --fast-compile)") from err
            self.graphs[n] = graph
            self._add_setup(f"capture of the {n}-step graph", t0)
        if not self.rng_in_graph:
            self._draw()  # n == 1 here: the long graph needs the draws inside
        graph.replay()
        for _ in range(n):
            self.agent.after_step()

    def _steps(self, n: int, draw: bool) -> None:
        for _ in range(n):
            if draw:
                self._draw()
            self._body()

    def _draw(self) -> None:
        """This step's random numbers from each seed's own streams, in the eager path's order."""
        for s, gen in enumerate(self.sampler.generators):
            self.idx[s].random_(0, self.sampler.size, generator=gen)
        for buf in self.noise:
            for s, gen in enumerate(self.agent.noise):
                buf[s].normal_(generator=gen)

    def _body(self) -> None:
        ob, ac, re, next_ob, term = self.sampler.split(self.sampler.gather(self.idx))
        info = self.agent.graph_update(ob, ac, re, next_ob, term, self.noise)
        for key, value in info.items():
            if key not in self.sums:  # first eager step: create the accumulator outside the capture
                self.sums[key] = torch.zeros_like(value)
            self.sums[key].add_(value)

    def reset_sums(self) -> None:
        for value in self.sums.values():
            value.zero_()
