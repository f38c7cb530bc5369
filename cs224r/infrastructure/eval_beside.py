"""Evaluation beside training (``--eval-beside``) for ``RL_Trainer``.

While the GPU replays the training graphs the host has nothing to do, so each evaluation but the last runs on
a worker thread beside the next steps. It acts with a copy of the actor taken at its step (:class:`ActorCopy`,
any actor class), so its numbers are those of an evaluation in the foreground; the trainer writes the row of
that step, and the checkpoint due there, once it is in (:class:`PendingEval`).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


class PendingEval:
    """``work`` (an evaluation) running on a worker thread; ``logged`` (the losses of its interval: the plain
    trainer's row, or the fast path's rows, one per seed) and ``timing`` wait for its result, ``checkpoint``
    (the trainer's state at the same step, if one was due) for them to be logged."""

    def __init__(self, work: Callable[[], Any], logged: Any, timing: dict[str, float]) -> None:
        self.logged, self.timing, self.checkpoint = logged, timing, None
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(work,), name="cs224r-eval", daemon=True)
        self.thread.start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self.result = work()
        except BaseException as err:  # re-raised in the training thread by wait()
            self.error = err

    def done(self) -> bool:
        return not self.thread.is_alive()

    def wait(self) -> Any:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result


def finish(pending: PendingEval | None, log: Callable[[Any, Any, dict[str, float]], None],
           write_checkpoint: Callable[[Any], None]) -> float:
    """Wait for ``pending`` (None: nothing runs beside), ``log(logged, result, timing)``, then write the
    checkpoint taken at its step if one was due; returns the seconds spent."""
    if pending is None:
        return 0.0
    t0 = time.perf_counter()
    result = pending.wait()
    log(pending.logged, result, pending.timing)
    if pending.checkpoint is not None:
        write_checkpoint(pending.checkpoint)
    return time.perf_counter() - t0


class ActorCopy:
    """A spare of the agent's actor (``copy.deepcopy`` once, so any actor class, on its device) that takes the
    live actor's weights (``state_dict``) at each evaluation. On CUDA the weights are copied in the training
    stream's order and read on a stream of the evaluation's own; the next copy waits until that one is read.
    (Python attributes are not copied again: a graphed step cannot change them, ``graph_step.changed_state``.)"""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.spare: nn.Module | None = None
        self.stream: torch.cuda.Stream | None = None

    def bind(self, actor: nn.Module, work: Callable[[nn.Module], Any]) -> Callable[[], Any]:
        """``work(copy)`` for a worker thread, ``copy`` holding ``actor``'s weights as of now."""
        cuda = self.device.type == "cuda"
        if cuda and self.stream is not None:  # the last evaluation's reads come before this overwrite
            torch.cuda.current_stream(self.device).wait_stream(self.stream)
        if self.spare is None:
            self.spare = copy.deepcopy(actor)
        else:
            self.spare.load_state_dict(actor.state_dict())
        spare = self.spare
        if not cuda:
            return lambda: work(spare)
        if self.stream is None:
            self.stream = torch.cuda.Stream(self.device)
        stream, ready = self.stream, torch.cuda.Event()
        ready.record(torch.cuda.current_stream(self.device))

        def run() -> Any:
            with torch.cuda.stream(stream):
                stream.wait_event(ready)
                return work(spare)
        return run
