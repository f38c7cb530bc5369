"""Replay ``RL_Trainer``'s whole training step as a CUDA graph, for any agent (``--cuda-graph``).

On a GPU the plain step (a few hundred small kernels: the minibatch gather, ``agent.train`` with its
critic and actor steps, clipping, Adam and Polyak updates) is bound by launching kernels from Python. Here
the trainer records one step - ``buffer.sample`` and ``agent.train`` as the agent wrote them, and the running
sums of the logged values - once as a CUDA graph, and ``steps_per_replay`` steps back to back as a second
one, then replays them; the agent's code does not know. What the trainer does for that:

- every optimizer reachable from the agent is made capturable (Adam keeps its step count on the device);
- every ``LRSchedule`` is moved to the device (``LRSchedule.on_device``: a table of the schedule's rates
  indexed by a device counter), so a cosine schedule keeps moving inside the replays;
- the replay buffer's generator is registered with each graph (and torch registers the default CUDA
  generator that ``dist.sample()`` uses), so a replay draws the numbers the eager steps would draw;
- the first step runs eagerly under a probe (:class:`CaptureProbe`) that looks for what a graph cannot
  hold: a host sync (``.item()``, ``.cpu()``, ``.tolist()``, ``print(tensor)``, ``if tensor:``), an
  output whose shape depends on the data (``nonzero``, boolean masks, ``unique``), or a Python attribute
  of the agent that changes every step (a graph would freeze it). Then the run trains eagerly and says
  once why, naming the file and line of the agent's code. A capture that fails anyway does the same.

``capture=False`` runs the same code without recording it (the CPU tests: same numbers as the plain
eager trainer to float rounding). Evaluation and checkpoints cut the replays: a chunk never runs past one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from tqdm.auto import tqdm

from cs224r.infrastructure.replay_buffer import ReplayBuffer
from cs224r.infrastructure.schedules import LRSchedule

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_OPTIM_DIR = os.path.join(_TORCH_DIR, "optim") + os.sep
_INFRA_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # the trainer's own files
_STDLIB_DIR = os.path.abspath(sysconfig.get_paths()["stdlib"]) + os.sep

SYNC = "waits for the GPU: a host sync"
SHAPE = "an output shape that depends on the data"
# Python-level calls (TorchFunctionMode) that a CUDA graph cannot hold, by the function's name
_CALLS = {
    "item": f"`.item()` ({SYNC})", "tolist": f"`.tolist()` ({SYNC})", "numpy": f"`.numpy()` ({SYNC})",
    "cpu": f"`.cpu()` ({SYNC})", "__bool__": f"a Python branch on a tensor value (`bool(tensor)` {SYNC})",
    "__float__": f"`float(tensor)` ({SYNC})", "__int__": f"`int(tensor)` ({SYNC})",
    "__index__": f"a tensor used as a Python index ({SYNC})", "__repr__": f"printing a tensor ({SYNC})",
    "__str__": f"printing a tensor ({SYNC})", "__format__": f"formatting a tensor into a string ({SYNC})",
    "nonzero": f"`nonzero` ({SHAPE})", "argwhere": f"`argwhere` ({SHAPE})",
    "masked_select": f"`masked_select` ({SHAPE})", "unique": f"`unique` ({SHAPE})",
    "unique_consecutive": f"`unique_consecutive` ({SHAPE})",
}
# the same at the level of aten ops (TorchDispatchMode): what reaches them without a Python call above
_OPS = {
    "_local_scalar_dense": f"a tensor value read on the host ({SYNC})", "is_nonzero": _CALLS["__bool__"],
    "nonzero": f"`nonzero` or one-argument `torch.where` ({SHAPE})", "masked_select": _CALLS["masked_select"],
    "_unique2": _CALLS["unique"], "unique_dim": _CALLS["unique"], "unique_consecutive": _CALLS["unique_consecutive"],
}
BOOL_INDEX = f"indexing with a boolean mask ({SHAPE})"


def check_capture(reason: str | None, steps_per_replay: int) -> None:
    """``RuntimeError(reason)`` when graphs cannot run here (``reason`` not None); ``ValueError`` for fewer
    than one step per replay."""
    if reason is not None:
        raise RuntimeError(reason)
    if steps_per_replay < 1:
        raise ValueError(f"steps_per_replay must be at least 1, got {steps_per_replay}")


def graph_unavailable_reason(device: torch.device) -> str | None:
    """Why the step cannot be captured here (None when it can)."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return "CUDA graphs need a CUDA device"
    if not hasattr(torch.cuda.CUDAGraph, "register_generator_state"):
        return f"torch {torch.__version__} cannot register the replay buffer's generator with a graph"
    return None


@dataclass
class Hazard:
    """Why a step cannot be captured, and where in the agent's code (``path:line``; None if unknown)."""

    cause: str
    where: str | None = None

    def message(self) -> str:
        at = f" at {self.where}" if self.where else ""
        return (f"no CUDA graph: {self.cause}{at}; training eagerly (slower on a GPU; take it out of the "
                "training step, or pass --no-cuda-graph to silence this)")


def _outside(filename: str) -> bool:
    """Whether ``filename`` is the agent's code: not torch's, the trainer's or Python's own library."""
    name = os.path.abspath(filename)
    if name.startswith((_TORCH_DIR, _INFRA_DIR)):
        return False
    return not name.startswith(_STDLIB_DIR) or "site-packages" in name[len(_STDLIB_DIR):]


def _where(filename: str, lineno: int | None) -> str:
    """``path:line``, the path relative to the working directory when it is below it."""
    rel = os.path.relpath(filename)
    return f"{filename if rel.startswith('..') else rel}:{lineno}"


def _location() -> tuple[str | None, bool]:
    """(``path:line`` of the innermost frame in the agent's code, or None; whether torch.optim's own code
    made the call), looking outward from the probe."""
    frame, in_optim = sys._getframe(1), False
    while frame is not None:
        name = frame.f_code.co_filename
        if _outside(name):
            return _where(name, frame.f_lineno), in_optim
        in_optim = in_optim or os.path.abspath(name).startswith(_OPTIM_DIR)
        frame = frame.f_back
    return None, in_optim


def traceback_location(err: BaseException) -> str | None:
    """``path:line`` of the innermost frame of ``err``'s traceback in the agent's code (None if none)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if _outside(f.filename)]
    return _where(frames[-1].filename, frames[-1].lineno) if frames else None


class _Calls(TorchFunctionMode):
    def __init__(self, probe: CaptureProbe) -> None:
        super().__init__()
        self.probe = probe

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        cause = _CALLS.get(name)
        if name == "to" and args and isinstance(args[0], torch.Tensor) and args[0].device.type != "cpu":
            target = kwargs.get("device", next((a for a in args[1:] if isinstance(a, (str, torch.device))), None))
            if target is not None and torch.device(target).type == "cpu":
                cause = _CALLS["cpu"]
        if cause is not None:
            self.probe.report(cause)
        return func(*args, **kwargs)


class _Ops(TorchDispatchMode):
    def __init__(self, probe: CaptureProbe) -> None:
        super().__init__()
        self.probe = probe

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        cause = _OPS.get(name)
        if name == "index" and any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8)
                                   for i in (args[1] if len(args) > 1 else [])):
            cause = BOOL_INDEX
        elif name == "_to_copy" and args[0].device.type != "cpu" and kwargs.get("device") is not None \
                and torch.device(kwargs["device"]).type == "cpu":
            cause = _CALLS["cpu"]
        if cause is not None:
            self.probe.report(cause)
        return func(*args, **kwargs)


class CaptureProbe:
    """Within ``with``: the first call that a CUDA graph could not hold, as ``hazard`` (None if none).

    Works on any device (the CPU tests plant each kind in an agent). The optimizer's own host reads in
    torch.optim are ignored where ``ignore_optimizer`` (a CPU, whose Adam cannot be made capturable; on a
    GPU the trainer makes it capturable and such a read would be a real hazard). Only observes: the
    step's numbers are those of an eager step.
    """

    def __init__(self, ignore_optimizer: bool = True) -> None:
        self.hazard: Hazard | None = None
        self.ignore_optimizer = ignore_optimizer
        self._modes: list = []

    def report(self, cause: str) -> None:
        if self.hazard is not None:
            return
        where, in_optim = _location()
        if in_optim and self.ignore_optimizer:
            return
        self.hazard = Hazard(cause, where)

    def __enter__(self) -> CaptureProbe:
        self._modes = [_Calls(self), _Ops(self)]
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        for mode in reversed(self._modes):
            mode.__exit__(*exc)
        self._modes = []


def agent_objects(root: Any) -> Iterator[tuple[str, Any]]:
    """(dotted path, object) for everything reachable from ``root`` through attributes, containers and
    submodules; tensors, optimizers and library objects are yielded but not entered."""
    seen: set[int] = set()
    stack = [(type(root).__name__, root)]
    while stack:
        path, obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        yield path, obj
        if isinstance(obj, (torch.Tensor, torch.optim.Optimizer, torch.Generator, type)):
            continue
        if isinstance(obj, nn.Module):
            children = {**{k: v for k, v in vars(obj).items() if not k.startswith("_")}, **obj._modules}
        elif isinstance(obj, dict):
            children = {str(k): v for k, v in obj.items()}
        elif isinstance(obj, (list, tuple)):
            children = {str(i): v for i, v in enumerate(obj)}
        elif hasattr(obj, "__dict__") and not type(obj).__module__.startswith(("torch", "numpy", "builtins")):
            children = vars(obj)
        else:
            continue
        stack.extend((f"{path}.{k}", v) for k, v in children.items())


def python_scalars(agent: Any) -> dict[str, Any]:
    """The agent's Python numbers and strings by path (a graph would replay them frozen if they changed)."""
    return {path: obj for path, obj in agent_objects(agent) if isinstance(obj, (bool, int, float, str))}


def changed_state(before: dict[str, Any], after: dict[str, Any]) -> Hazard | None:
    """A hazard naming the first Python value of the agent that a step changed."""
    for path in after:
        if path in before and before[path] is not after[path] and before[path] != after[path]:
            return Hazard(f"{path} changes on every step outside tensors ({before[path]!r} -> {after[path]!r}), "
                          "which a graph would replay frozen")
    new = [p for p in after if p not in before]
    if new:
        return Hazard(f"{new[0]} is set during the step outside tensors, which a graph would replay frozen")
    return None


def make_capturable(optimizer: torch.optim.Optimizer) -> None:
    """Adam's (and other torch optimizers') ``capturable`` mode: step counts on the parameters' device."""
    for group in optimizer.param_groups:
        if "capturable" in group:
            group["capturable"] = True
            for p in group["params"]:
                state = optimizer.state.get(p, {})
                if isinstance(state.get("step"), torch.Tensor):
                    state["step"] = state["step"].to(device=p.device, dtype=torch.float32)


def eager_format(state: Any) -> Any:
    """``state`` (an agent's ``state_dict``) with every optimizer's state as an eager run writes it: host
    step counts, float rates, not capturable; so a checkpoint reads the same whichever mode wrote it."""
    if isinstance(state, dict) and "param_groups" in state and "state" in state:
        groups = [{**g, "lr": float(g["lr"]) if isinstance(g.get("lr"), torch.Tensor) else g.get("lr"),
                   **({"capturable": False} if "capturable" in g else {})} for g in state["param_groups"]]
        per_param = {k: {n: (v.detach().to("cpu", torch.float32) if n == "step" and isinstance(v, torch.Tensor)
                             else v) for n, v in st.items()} for k, st in state["state"].items()}
        return {**state, "param_groups": groups, "state": per_param}
    if isinstance(state, dict):
        return {k: eager_format(v) for k, v in state.items()}
    return state


class GraphedTrainStep:
    """``RL_Trainer``'s training steps (``buffer.sample`` + ``agent.train`` + the running sums of the logged
    values), replayed as CUDA graphs.

    ``advance(n)`` makes n training steps; ``sums`` holds the sums of each logged value since the last
    ``reset_sums()`` (the trainer's ``loss_sums``). The first ``warmup`` steps run eagerly (on a side stream
    on a GPU: the capture needs Adam's state and cuBLAS workspaces to exist), the first of them under
    :class:`CaptureProbe`; then ``n == steps_per_replay`` replays the long graph and any other n the one-step
    graph n times. ``fallback`` is the reason the run trains eagerly instead (printed once), else None.
    """

    def __init__(self, agent: Any, buffer: ReplayBuffer, batch_size: int, sums: dict[str, Any] | None = None,
                 steps_per_replay: int = 10, capture: bool = True, warmup: int = 3) -> None:
        self.device = buffer.device
        check_capture(graph_unavailable_reason(self.device) if capture else None, steps_per_replay)
        self.agent, self.buffer, self.batch_size = agent, buffer, batch_size
        self.capture, self.steps_per_replay, self.warmup = capture, steps_per_replay, max(warmup, 1)
        self.sums: dict[str, torch.Tensor] = {k: torch.as_tensor(v).to(self.device).clone()
                                              for k, v in (sums or {}).items()}
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self.eager_steps = 0
        self.fallback: Hazard | None = None
        self.setup_seconds: dict[str, float] = {}
        self._capturing = False
        for _, obj in agent_objects(agent):
            if isinstance(obj, LRSchedule):
                obj.on_device(self.device)
            elif isinstance(obj, torch.optim.Optimizer) and self.device.type == "cuda":
                make_capturable(obj)

    def advance(self, n: int = 1) -> None:
        """n training steps."""
        while n > 0 and self.eager_steps < self.warmup:
            t0 = time.perf_counter()
            self._warm_step(probe=self.eager_steps == 0)
            self.eager_steps += 1
            n -= 1
            self.setup_seconds["eager warm-up"] = self.setup_seconds.get("eager warm-up", 0.0) + \
                time.perf_counter() - t0
        if n <= 0:
            return
        if not self.capture or self.fallback is not None:
            self._steps(n)
        elif n == self.steps_per_replay:
            self._replay(n)
        else:
            for _ in range(n):
                self._replay(1)

    def needs_setup(self, n: int) -> bool:
        """Whether ``advance(n)`` would run eager warm-up steps or capture a graph (which must have the GPU to
        itself: the trainer finishes an evaluation running beside training first)."""
        if n <= 0:
            return False
        if self.eager_steps < self.warmup:
            return True
        if not self.capture or self.fallback is not None:
            return False
        return (n if n == self.steps_per_replay else 1) not in self.graphs

    def reset_sums(self) -> None:
        for value in self.sums.values():
            value.zero_()

    def _warm_step(self, probe: bool) -> None:
        side = torch.cuda.Stream(self.device) if self.capture and self.fallback is None else None
        if side is not None:
            side.wait_stream(torch.cuda.current_stream(self.device))
        before = python_scalars(self.agent) if probe else {}
        with torch.cuda.stream(side) if side is not None else contextlib.nullcontext():
            if probe:
                with CaptureProbe(ignore_optimizer=self.device.type != "cuda") as found:
                    self._steps(1)
            else:
                self._steps(1)
        if side is not None:
            torch.cuda.current_stream(self.device).wait_stream(side)
            torch.cuda.synchronize(self.device)
        if probe:
            hazard = found.hazard or changed_state(before, python_scalars(self.agent))
            if hazard is not None:
                self._fall_back(hazard)

    def _fall_back(self, hazard: Hazard) -> None:
        self.fallback = hazard
        tqdm.write(hazard.message())

    def _replay(self, n: int) -> None:
        graph = self.graphs.get(n)
        if graph is None:  # capturing records the kernels without running them; the replay below runs them
            graph = torch.cuda.CUDAGraph()
            graph.register_generator_state(self.buffer.generator)
            t0 = time.perf_counter()
            self._capturing = True
            try:
                with torch.cuda.graph(graph):
                    self._steps(n)
            except Exception as err:  # the probe missed it: train eagerly from here
                try:
                    torch.cuda.synchronize(self.device)
                except RuntimeError:
                    pass
                text = (str(err).strip().splitlines() or [type(err).__name__])[0]
                self._fall_back(Hazard(f"capturing the step failed ({text})", traceback_location(err)))
                self._steps(n)
                return
            finally:
                self._capturing = False
            self.graphs[n] = graph
            self.setup_seconds[f"capture of the {n}-step graph"] = time.perf_counter() - t0
        graph.replay()

    def _steps(self, n: int) -> None:
        for _ in range(n):
            info = self.agent.train(*self.buffer.sample(self.batch_size))
            for key, value in info.items():
                value = value.detach() if isinstance(value, torch.Tensor) else float(value)
                if key not in self.sums:
                    if self._capturing:
                        raise RuntimeError(f"the logged value '{key}' first appeared during the capture")
                    like = value if isinstance(value, torch.Tensor) else torch.tensor(value)
                    self.sums[key] = torch.zeros(like.shape, dtype=like.dtype, device=self.device)
                self.sums[key].add_(value)


def for_trainer(config: Any, agent: Any, buffer: ReplayBuffer, sums: dict[str, Any],
                uncaptured: bool = False) -> GraphedTrainStep | None:
    """The trainer's graphed step: on a CUDA device with ``config.cuda_graph`` (``uncaptured``: the same code
    without recording, on any device, for the tests); None otherwise (a CPU run: nothing changes)."""
    if not getattr(config, "cuda_graph", False):
        return None
    steps = getattr(config, "cuda_graph_steps", 10)
    if uncaptured:
        return GraphedTrainStep(agent, buffer, config.batch_size, sums, steps, capture=False)
    if buffer.device.type != "cuda":
        return None
    reason = graph_unavailable_reason(buffer.device)
    if reason is not None:
        tqdm.write(f"no CUDA graph: {reason}; training eagerly")
        return None
    return GraphedTrainStep(agent, buffer, config.batch_size, sums, steps)
