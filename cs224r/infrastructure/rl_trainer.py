"""RL_Trainer: offline training from a fixed dataset with periodic evaluation and checkpoints."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from cs224r.data.filtering import clip_actions
from cs224r.data.normalization import EPS, StateNormalizer
from cs224r.envs import evaluate, get_spec
from cs224r.infrastructure import checkpoint, graph_step
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.eval_beside import ActorCopy, PendingEval, finish
from cs224r.infrastructure.logger import Logger
from cs224r.infrastructure.replay_buffer import ReplayBuffer
from cs224r.infrastructure.run_lock import RunLock
from cs224r.infrastructure.utils import atomic_write, rng_state, save_policy, set_rng_state, set_seed
from cs224r.tasks import load_dataset


class TrainingError(RuntimeError):
    pass


class RunClock:
    """Seconds of training and evaluation in a run, carried across resumes by the checkpoints' ``elapsed``."""

    def __init__(self) -> None:
        self.elapsed, self._mark = 0.0, time.perf_counter()

    def restart(self) -> None:
        """Count from now (the time before a run starts is not the run's)."""
        self._mark = time.perf_counter()

    def tick(self) -> float:
        """Add the time since the last tick or restart to ``elapsed`` and return it."""
        now = time.perf_counter()
        self.elapsed, self._mark = self.elapsed + now - self._mark, now
        return self.elapsed


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after Ctrl-C or SIGTERM stopped training at a step boundary and a checkpoint was written."""


class StopRequest:
    """Ctrl-C (SIGINT) or SIGTERM during training asks the loop to stop after the current step; the trainer
    then writes a checkpoint at that step, so ``--resume`` loses nothing. A second signal stops at once
    (the last checkpoint stands). Handlers are installed only in the main thread; elsewhere nothing changes.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested: str | None = None  # the name of the signal that asked, once one did
        self._previous: dict[int, Any] = {}

    def install(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested is not None:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def check(self, step: int, save: Callable[[], None], where: str) -> None:
        """Between steps: if a signal asked, ``save()`` a checkpoint and raise ``TrainingInterrupted``."""
        if self.requested is None:
            return
        save()
        raise TrainingInterrupted(f"{self.requested}: stopped at step {step} and wrote its checkpoint ({where}); "
                                  "continue with the same command plus --resume")


class RL_Trainer:
    """Builds the dataset, agent and logger for ``config`` and runs ``agent_cls`` on it.

    Layout of a run: ``<log_dir>/<exp_name>/seed<seed>/`` with ``metrics.csv``, ``tb/``,
    ``config.json``, ``checkpoint.pt`` (latest), ``checkpoint.prev.pt`` (the one before), ``policy.pt``
    (final actor weights) and ``run.lock``. The trainer holds the directory's lock from its start until
    ``run`` ends (``lock``: one the caller took and releases itself).

    On a CUDA device with ``config.cuda_graph`` the steps are replayed as CUDA graphs
    (``graph_step.GraphedTrainStep``; same numbers); ``uncaptured_graph`` runs that code without
    recording it, on any device (the CPU tests). With the graphs (and ``config.eval_beside``) each evaluation but
    the last runs on a worker thread beside the next steps (``eval_beside.py``); same rows and checkpoints.
    """

    def __init__(self, config: Any, agent_cls: type, callbacks: list | None = None,
                 lock: RunLock | None = None, uncaptured_graph: bool = False) -> None:
        self.config = config
        self._uncaptured_graph = uncaptured_graph
        # each called as cb(trainer, row) after an evaluation (one with ``final_only = True``: the last one alone)
        self.callbacks = list(callbacks or [])
        self.run_dir = Path(config.log_dir) / config.exp_name / f"seed{config.seed}"
        self.ckpt_path = self.run_dir / "checkpoint.pt"
        self._own_lock = lock is None
        self.lock = RunLock(self.run_dir) if lock is None else lock  # before anything is written there
        try:
            self._build(config, agent_cls)
        except BaseException:
            self._release()
            raise

    def _build(self, config: Any, agent_cls: type) -> None:
        self.device = ptu.init_device(config.device)
        ptu.configure_cpu(config.torch_threads, config.flush_denormal)
        set_seed(config.seed)
        self.spec = get_spec(config.env_name)
        self.dataset = load_dataset(config.env_name, config.dataset, reward_shift=config.reward_shift,
                                    data_source=config.data_source)
        clip_actions(self.dataset, getattr(config, "action_clip", 0.0))
        self._dataset_entry = dataset_entry(self.dataset)  # before filtering: the file's transitions
        if hasattr(agent_cls, "prepare_dataset"):  # e.g. filtered BC keeps the best trajectories
            self.dataset = agent_cls.prepare_dataset(self.dataset, config)
        resume_from = None
        if config.resume and checkpoint.exists(self.ckpt_path):
            resume_from = self._read_checkpoint()
        elif (self.run_dir / "metrics.csv").exists() or checkpoint.exists(self.ckpt_path):
            if not config.resume:
                raise TrainingError(f"{self.run_dir} already holds a run; pass --resume to continue it, "
                                    "or choose another --exp-name / --log-dir")
            start_over(self.run_dir)
        # --normalize-states: the statistics of this dataset, or on resume the ones the run started with
        self.obs_normalizer = state_normalizer(config, self.dataset, resume_from and resume_from[1])
        if self.obs_normalizer is not None:
            self.dataset = self.obs_normalizer.normalize_dataset(self.dataset)
        self.buffer = ReplayBuffer(self.dataset, self.device, seed=config.seed)
        self.agent = agent_cls(self.spec.obs_dim, self.spec.act_dim, self.spec.discrete, config)
        self.eval_env = self.spec.make_batch(config.eval_episodes)
        self.step = 0
        self.clock = RunClock()
        self.loss_sums: dict[str, torch.Tensor] = {}
        self.loss_count = 0
        rows: list[dict] = []
        if resume_from is not None:
            rows = self._restore(*resume_from)
        cfg = dataclasses.asdict(config)
        atomic_write(self.run_dir / "config.json",
                     lambda tmp: Path(tmp).write_text(json.dumps(cfg, indent=2, default=str)))
        self.logger = Logger(self.run_dir, rows, config.use_wandb, config.wandb_project,
                             f"{config.exp_name}_seed{config.seed}", cfg,
                             purge_step=self.step if self.step else None)
        # after the checkpoint is loaded: the graph works on the optimizers and schedules as resumed
        self.graph = graph_step.for_trainer(config, self.agent, self.buffer, self.loss_sums, self._uncaptured_graph)
        # With the graphs the host is idle while the GPU trains, so each evaluation but the last runs on a worker
        # thread beside the next steps, acting with a copy of the actor taken at its step (--no-eval-beside: in
        # the foreground). On a CPU the two would share the cores: it stays in the foreground there.
        self.overlap_eval = self.graph is not None and self.graph.capture and getattr(config, "eval_beside", True)
        self._pending: PendingEval | None = None
        self._actor_copy = ActorCopy(self.device)
        self._eval_wait = 0.0  # seconds this interval spent waiting for (and logging) such an evaluation
        self._bar: Any = None

    def _release(self) -> None:
        if self._own_lock:
            self.lock.release()

    # ---------------------------------------------------------------- main loop
    def run(self) -> list[dict]:
        cfg = self.config
        bar = tqdm(total=cfg.total_steps, initial=self.step, disable=not cfg.progress,
                   desc=f"{cfg.exp_name} seed{cfg.seed}", dynamic_ncols=True)
        self._bar = bar
        interval_start, steps_at_start = time.perf_counter(), self.step
        self.clock.restart()
        stop = StopRequest().install()
        try:
            while self.step < cfg.total_steps:
                stop.check(self.step, self._finish_and_save, str(self.ckpt_path))  # after Ctrl-C / SIGTERM
                if self._pending is not None and self._pending.done():
                    self._finish_eval()
                n = self._train_steps()
                self.step += n
                bar.update(n)
                eval_due = self.step % cfg.eval_interval == 0 or self.step == cfg.total_steps
                checkpoint_due = self.step % cfg.checkpoint_interval == 0 or self.step == cfg.total_steps
                if eval_due or checkpoint_due:  # one evaluation at a time, and a checkpoint holds every row before it
                    self._finish_eval()
                if eval_due:
                    if self.graph is not None and self.graph.capture:  # the replays still queued are this interval's
                        torch.cuda.synchronize(self.device)
                    train_seconds = time.perf_counter() - interval_start - self._eval_wait  # training alone
                    self._log_interval((self.step - steps_at_start) / max(train_seconds, 1e-9))
                    interval_start, steps_at_start, self._eval_wait = time.perf_counter(), self.step, 0.0
                if checkpoint_due:
                    if self._pending is not None:  # written with this step's row once its evaluation is in
                        self._pending.checkpoint = copy.deepcopy(self._checkpoint_state())  # training changes it
                    else:
                        self.save_checkpoint()
            save_policy(self.agent.actor, self.run_dir / "policy.pt", self.obs_normalizer)
        except BaseException as err:
            if self._pending is not None and not isinstance(err, KeyboardInterrupt):
                try:  # training failed: keep the row (and checkpoint) of the evaluation still running
                    self._finish_eval()
                except Exception as eval_err:
                    tqdm.write(f"the evaluation running beside training failed too: {eval_err}")
            raise
        finally:
            stop.restore()
            bar.close()
            self.logger.close()
            self._release()
        return self.logger.rows

    def _train_steps(self) -> int:
        """One eager step, or graphed steps up to the next evaluation, checkpoint or the end; returns how many."""
        cfg = self.config
        if self.graph is None:
            self._accumulate(self.agent.train(*self.buffer.sample(cfg.batch_size)))
            return 1
        nxt = min(cfg.total_steps, *((self.step // k + 1) * k for k in (cfg.eval_interval, cfg.checkpoint_interval)))
        n = min(self.graph.steps_per_replay, nxt - self.step)
        if self._pending is not None and self.graph.needs_setup(n):  # warm-up and capture have the GPU alone
            self._finish_eval()
        self.graph.advance(n)
        self.loss_sums = self.graph.sums  # the graph keeps the running sums itself
        self.loss_count += n
        return n

    def _accumulate(self, info: dict) -> None:
        for key, value in info.items():
            value = value.detach() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
            self.loss_sums[key] = self.loss_sums.get(key, 0.0) + value
        self.loss_count += 1

    def _log_interval(self, steps_per_second: float) -> None:
        """The interval's row: mean losses (one host copy each), evaluation, timing. Evaluated beside training
        (``_beside``), the row is logged when the evaluation is in (``_finish_eval``)."""
        row: dict[str, Any] = {"step": self.step}
        for key, total in self.loss_sums.items():
            row[key] = float(total) / max(self.loss_count, 1)
            if not math.isfinite(row[key]):
                raise TrainingError(
                    f"{key} became {row[key]} before step {self.step}; the last good checkpoint is "
                    f"{self.ckpt_path} - lower the learning rates or check the dataset for bad rewards")
        self.loss_sums, self.loss_count = {}, 0
        if self.graph is not None:
            self.graph.reset_sums()
        timing = {"Train_StepsPerSecond": steps_per_second}
        work = self._evaluate_beside() if self._beside() else None
        if work is not None:  # the time at which this step was reached; the evaluation costs the run nothing more
            timing["Time_Elapsed"] = self.clock.tick()
            self._pending = PendingEval(work, row, timing)
            return
        result = self.evaluate()
        timing["Time_Elapsed"] = self.clock.tick()
        self._log_row({**row, **result, **timing})

    def _log_row(self, row: dict) -> None:
        """Write an evaluation's row, then call the callbacks with it."""
        self.logger.log(row)
        for callback in self.callbacks:
            if row["step"] == self.config.total_steps or not getattr(callback, "final_only", False):
                callback(self, row)
        self._bar.set_postfix(eval_return=f"{row['Eval_AverageReturn']:.1f}", success=f"{row['Eval_SuccessRate']:.2f}")

    def _beside(self) -> bool:
        """Whether this evaluation runs beside training: with the graphs replaying, not the last one, and no
        callback that wants the trainer as of this step (only ``final_only`` ones, which the last one serves)."""
        return (self.overlap_eval and self.step < self.config.total_steps
                and (self.graph is None or self.graph.fallback is None)
                and all(getattr(callback, "final_only", False) for callback in self.callbacks))

    def _evaluate_beside(self) -> Callable[[], dict[str, float]] | None:
        """The evaluation of this step for a worker thread, with a copy of the actor now (None: it cannot be
        copied; the evaluations stay in the foreground)."""
        step = self.step
        try:
            return self._actor_copy.bind(self.agent.actor, lambda actor: self.evaluate(actor, step))
        except Exception as err:  # e.g. an actor holding something deepcopy refuses
            tqdm.write(f"evaluating in the foreground: the actor cannot be copied ({type(err).__name__}: {err})")
            self.overlap_eval = False
            return None

    def _finish_eval(self) -> None:
        """Wait for the evaluation running beside training (if any), log its row, write its checkpoint."""
        pending, self._pending = self._pending, None
        self._eval_wait += finish(pending, lambda row, result, timing: self._log_row(
            {**row, **result, **timing}), self._write_checkpoint)

    def _finish_and_save(self) -> None:
        self._finish_eval()
        self.save_checkpoint()

    def normalize_obs(self, obs: np.ndarray) -> np.ndarray:
        """Observations as the networks see them (``--normalize-states``; unchanged without it)."""
        return obs if self.obs_normalizer is None else self.obs_normalizer(obs)

    def policy(self, actor: Any = None) -> Callable[[np.ndarray], np.ndarray]:
        """The deterministic policy on the env's raw observations (what evaluation, videos and pictures run);
        ``actor``: a copy of the agent's actor to act with (default: the agent's own)."""
        actor = self.agent.actor if actor is None else actor
        return lambda obs: actor.get_action(self.normalize_obs(obs), deterministic=True)

    def evaluate(self, actor: Any = None, step: int | None = None) -> dict[str, float]:
        """``eval_episodes`` episodes of the deterministic policy, seeded by (seed, step). ``actor``/``step``: a
        copy of the actor and the step it was taken at (an evaluation beside training; default: now)."""
        step = self.step if step is None else step
        result = evaluate(self.policy(actor), self.eval_env, seed=self.config.seed * 1_000_003 + step)
        returns = result["returns"]
        out = {"Eval_AverageReturn": float(returns.mean()), "Eval_StdReturn": float(returns.std()),
               "Eval_MaxReturn": float(returns.max()), "Eval_MinReturn": float(returns.min()),
               "Eval_AverageEpLen": float(result["lengths"].mean()),
               "Eval_SuccessRate": float(result["successes"].mean())}
        if self.spec.success_score:
            out["Eval_NormalizedScore"] = 100.0 * out["Eval_SuccessRate"]
        return out

    # ---------------------------------------------------------------- checkpoints
    def save_checkpoint(self) -> None:
        self._write_checkpoint(self._checkpoint_state())

    def _checkpoint_state(self) -> dict:
        """The checkpoint as of now, without the rows (added when it is written)."""
        agent = self.agent.state_dict()
        if self.graph is not None:  # the same file whichever mode wrote it
            agent = graph_step.eager_format(agent)
        return {"step": self.step, "elapsed": self.clock.tick(), "agent": agent,
                "rng": rng_state(), "buffer_rng": self.buffer.generator.get_state(),
                "loss_sums": self.loss_sums, "loss_count": self.loss_count,
                "config": dataclasses.asdict(self.config), **normalizer_entry(self.obs_normalizer),
                **self._dataset_entry}

    def _write_checkpoint(self, state: dict) -> None:
        """Write ``state`` (taken now, or at the step of an evaluation that ran beside) with the rows logged so far."""
        checkpoint.save(self.ckpt_path, {**state, "rows": list(self.logger.rows)})

    def _read_checkpoint(self) -> tuple[Path, dict]:
        """The newest readable checkpoint of this run, checked against the flags it must share with them."""
        try:
            path, state = checkpoint.load_latest(self.ckpt_path)
        except checkpoint.CheckpointError as err:
            raise TrainingError(str(err)) from err
        line = changed_settings_line(self.run_dir, check_resume_flags(path, state["config"], self.config))
        check_resume_dataset(path, state, self._dataset_entry, self.dataset)
        if line:
            print(line)
        return path, state

    def _restore(self, path: Path, state: dict) -> list[dict]:
        """Continue from checkpoint ``state`` (read from ``path``); returns its logged rows."""
        self.agent.load_state_dict(state["agent"])
        try:
            set_rng_state(state["rng"])
            self.buffer.generator.set_state(state["buffer_rng"])
        except (RuntimeError, TypeError, KeyError) as err:
            if not self.config.allow_device_change:
                raise TrainingError(cross_device_message(path, state)) from err
            noise_seed, buffer_seed = device_change_seeds(self.config.seed, state["step"])
            torch.manual_seed(noise_seed)  # the global streams: the action noise on a CPU and on a GPU
            self.buffer.generator.manual_seed(buffer_seed)
            print(device_change_line(path, state, self.device))
        self.step, self.clock.elapsed = state["step"], state["elapsed"]
        self.loss_sums = {k: torch.as_tensor(v).to(self.device) for k, v in state["loss_sums"].items()}
        self.loss_count = state["loss_count"]
        print(f"resuming {self.run_dir} from step {self.step}")
        return state["rows"]


RESUME_FLAGS = {"env_name": None, "seed": None, "batch_size": None, "normalize_states": False}  # -> default if absent


# fields that say where and how fast a run goes, not what it learns: a resume may change them unremarked
RUNTIME_FIELDS = frozenset({
    "exp_name", "log_dir", "device", "torch_threads", "resume", "allow_device_change", "use_wandb", "wandb_project",
    "progress", "fast_compile", "fast_cuda_graph", "fast_graph_steps", "fast_eval_beside", "cuda_graph",
    "cuda_graph_steps", "eval_beside", "plot_interval", "save_video", "checkpoint_interval"})


def check_resume_flags(path: Any, old: dict, config: Any) -> list[str]:
    """``TrainingError`` when checkpoint ``path`` (its config ``old``) was made with other values of the flags a
    resumed run must keep (older checkpoints without a field count as its default); else the other settings
    that differ from the checkpoint's, as ``"field old -> new"`` (a longer budget, or a changed default)."""
    for key, default in RESUME_FLAGS.items():
        before, now = old.get(key, default), getattr(config, key, default)
        if before != now:
            raise TrainingError(f"checkpoint {path} was made with {key}={before!r}, not {now!r}; "
                                "resume with the same flags")
    return [f"{key} {old[key]!r} -> {value!r}" for key, value in dataclasses.asdict(config).items()
            if key in old and key not in RUNTIME_FIELDS and key not in RESUME_FLAGS and old[key] != value]


def changed_settings_line(run: Any, changes: list[str]) -> str | None:
    """The one line a resume prints when its settings differ from the checkpoint's (None when none do)."""
    if not changes:
        return None
    return (f"note: resuming {run} with settings that differ from its checkpoint's: {', '.join(changes)} "
            "(pass the old values to continue exactly as before)")


def dataset_entry(dataset: Any) -> dict:
    """A checkpoint's ``dataset_checksum``: the SHA-256 of the transitions the run trains on, as loaded."""
    return {"dataset_checksum": dataset.checksum()}


def check_resume_dataset(path: Any, state: dict, entry: dict, dataset: Any) -> None:
    """``TrainingError`` when checkpoint ``path`` trained on other transitions than ``dataset``, loaded now
    (``entry``: its ``dataset_entry``) - e.g. a file generated with other knobs or by an older version,
    whose bytes differ. Checkpoints written before the checksum was stored pass."""
    before, now = state.get("dataset_checksum"), entry["dataset_checksum"]
    if before is not None and before != now:
        where = dataset.metadata.get("path", "the dataset")
        raise TrainingError(f"--resume: checkpoint {path} trained on a dataset with checksum {before[:12]}..., but "
                            f"{where} has {now[:12]}... (another file, or one made again on another machine); "
                            "resume with the file the run trained on (--dataset PATH) or start a new --exp-name")


def normalizer_entry(normalizer: StateNormalizer | None) -> dict:
    """A checkpoint's ``obs_normalizer`` entry (what ``state_normalizer`` reads back), or nothing."""
    return {} if normalizer is None else {"obs_normalizer": normalizer.state_dict()}


def state_normalizer(config: Any, dataset: Any, resumed: dict | None = None) -> StateNormalizer | None:
    """``--normalize-states``: the statistics a resumed checkpoint stored, else those of ``dataset`` (saying
    which columns are constant in it); None without the flag."""
    if not getattr(config, "normalize_states", False):
        return None
    stored = StateNormalizer.from_state_dict((resumed or {}).get("obs_normalizer") or {})
    if stored is not None:
        if stored.obs_dim != dataset.obs_dim:
            raise TrainingError(f"the checkpoint's state statistics have {stored.obs_dim} columns, the dataset "
                                f"{dataset.obs_dim}; resume with the dataset the run started with")
        return stored
    if resumed is not None:
        raise TrainingError("the checkpoint was written without state statistics although the run uses "
                            "--normalize-states; start a new --exp-name")
    normalizer = StateNormalizer.from_dataset(dataset)
    constant = normalizer.constant_columns()
    if constant:
        print(f"--normalize-states: observation column(s) {constant} are constant in the dataset; normalized "
              f"they are 0 (std = {EPS})")
    return normalizer


def start_over(run_dir: Path) -> None:
    """``--resume`` of a run stopped before its first checkpoint: drop its logs (the rerun writes them again)."""
    print(f"{run_dir} has no checkpoint yet; starting the run over")
    (run_dir / "metrics.csv").unlink(missing_ok=True)
    shutil.rmtree(run_dir / "tb", ignore_errors=True)


def _made_on(state: dict) -> str:
    """'a 'cuda' run' for a checkpoint's ``--device``, or 'a run on another device type' when it was auto."""
    device = state.get("config", {}).get("device")
    return f"a {device!r} run" if device in ("cpu", "cuda") else "a run on another device type"


def cross_device_message(path: Any, state: dict) -> str:
    """The error for a checkpoint whose RNG states belong to another device type."""
    return (f"checkpoint {path} holds the random-number states of {_made_on(state)}, which this device cannot "
            "continue; resume on the device type it was written on (--device), add --allow-device-change to "
            "continue here with fresh random streams, or start a new --exp-name")


def device_change_seeds(seed: int, step: int) -> tuple[int, int]:
    """The seeds of the fresh (action noise, minibatch) streams of a run resumed at ``step`` on another device
    type (``--allow-device-change``): derived from the run's seed and the step, so such a resume is repeatable."""
    noise, batches = np.random.SeedSequence([seed, step]).generate_state(2)
    return int(noise), int(batches)


def device_change_line(path: Any, state: dict, device: torch.device) -> str:
    """What a resume with ``--allow-device-change`` prints when the device type did change."""
    return (f"checkpoint {path} was written by {_made_on(state)}; continuing on {device.type} from step "
            f"{state['step']} with fresh random streams (seeded from the seed and step), so from here the "
            "numbers differ from an uninterrupted run's")


def train(config: Any, agent_cls: type, callbacks: list | None = None) -> list[dict]:
    """Build an ``RL_Trainer`` and run it; returns the logged rows."""
    return RL_Trainer(config, agent_cls, callbacks).run()


def final_return(rows: list[dict]) -> float:
    return float(np.asarray([r["Eval_AverageReturn"] for r in rows])[-1])
