"""Train S seeds of AWAC or IQL in one process as one stacked model; each seed gets the run directory, CSV,
TensorBoard logs, checkpoint and policy file that ``RL_Trainer`` would write for it.

    python scripts/run_awac.py --seeds 1 2 3 --fast [training flags]
    python scripts/run_iql.py --seeds 1 2 3 --fast [training flags]

A sweep's runs (values x seeds) train the same way as one model whose members differ in the hyperparameters
(``MultiSeedTrainer(configs)``; ``cs224r.fast.members``), each in its own run directory.

Per seed the numbers are the reference's (``RL_Trainer`` + ``AWACAgent`` / ``IQLAgent``) up to float rounding: same
initial weights, minibatch order, action noise, evaluation seeds and logging intervals. A checkpoint here
has ``RL_Trainer``'s format, so either trainer can resume the other's run (on the CPU; on a GPU the
noise stream is stored as the CUDA state).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from cs224r.data.filtering import clip_actions
from cs224r.envs import get_spec
from cs224r.envs.base import step_envs
from cs224r.fast.awac import FastAWAC
from cs224r.fast.cuda_graph import GraphedStep, graph_unavailable_reason
from cs224r.fast.iql import FastIQL
from cs224r.fast.members import member_configs
from cs224r.fast.members import run_dir as member_run_dir
from cs224r.fast.sampler import MultiSeedSampler
from cs224r.infrastructure import checkpoint
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import AWACConfig, IQLConfig
from cs224r.infrastructure.eval_beside import PendingEval, finish
from cs224r.infrastructure.logger import Logger
from cs224r.infrastructure.rl_trainer import (
    RunClock,
    StopRequest,
    TrainingError,
    changed_settings_line,
    check_resume_dataset,
    check_resume_flags,
    cross_device_message,
    dataset_entry,
    device_change_line,
    device_change_seeds,
    normalizer_entry,
    start_over,
    state_normalizer,
)
from cs224r.infrastructure.run_lock import RunLock, lock_all, release_all
from cs224r.infrastructure.utils import atomic_write, save_policy
from cs224r.tasks import load_dataset

EVAL_SEED_STRIDE = 1_000_003  # RL_Trainer.evaluate seeds episode batches with seed * stride + step
FastConfig = AWACConfig | IQLConfig


def fast_agent_class(config: FastConfig) -> type[FastAWAC] | type[FastIQL]:
    """The stacked agent for a config: ``FastIQL`` for an ``IQLConfig``, ``FastAWAC`` for an ``AWACConfig``."""
    if isinstance(config, IQLConfig):
        return FastIQL
    if isinstance(config, AWACConfig):
        return FastAWAC
    raise ValueError(f"--fast covers AWAC and IQL, not {type(config).__name__}; drop --fast")


class MultiSeedTrainer:
    """``RL_Trainer`` for several seeds of AWAC or IQL at once (``config.seed`` is replaced by each of ``seeds``),
    or for several runs given as their configs (``config`` a list, ``seeds`` None: a sweep's members, which may
    differ in the hyperparameters, ``cs224r.fast.members``). Holds every run directory's lock from its start
    until ``run`` ends (``locks``: ones the caller holds)."""

    def __init__(self, config: FastConfig | Sequence[FastConfig], seeds: Sequence[int] | None = None,
                 locks: list[RunLock] | None = None) -> None:
        configs = member_configs(config, seeds)
        self.config, self.seeds, self.S = configs[0], [c.seed for c in configs], len(configs)
        self.run_dirs = [member_run_dir(c) for c in configs]
        self.ckpt_paths = [d / "checkpoint.pt" for d in self.run_dirs]
        self._own_locks = locks is None
        self.locks = lock_all(self.run_dirs) if locks is None else locks  # before anything is written there
        try:
            self._build(configs)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._own_locks:
            release_all(self.locks)

    def _build(self, configs: list[FastConfig]) -> None:
        config, seeds, self.configs = configs[0], self.seeds, configs
        self.device = ptu.init_device(config.device)
        ptu.configure_cpu(config.torch_threads, config.flush_denormal)
        self.spec = get_spec(config.env_name)
        if self.spec.discrete:
            raise TrainingError(f"--fast supports continuous-action tasks; {config.env_name} is discrete, "
                                "run it without --fast")
        self.dataset = load_dataset(config.env_name, config.dataset, reward_shift=config.reward_shift,
                                    data_source=config.data_source)
        clip_actions(self.dataset, config.action_clip)  # as RL_Trainer does (--preset cs224r: 1 - 1e-5)
        self._dataset_entry = dataset_entry(self.dataset)
        have = [checkpoint.exists(p) for p in self.ckpt_paths]
        resume = config.resume and any(have)
        if resume and not all(have):
            missing = [str(p) for p, h in zip(self.ckpt_paths, have) if not h]
            raise TrainingError(f"--resume: checkpoints are missing for {', '.join(missing)}; resume with the "
                                "seeds that have one, or start those seeds under another --exp-name")
        if not resume:
            for d, p in zip(self.run_dirs, self.ckpt_paths):
                if (d / "metrics.csv").exists() or checkpoint.exists(p):
                    if not config.resume:
                        raise TrainingError(f"{d} already holds a run; pass --resume to continue it, "
                                            "or choose another --exp-name / --log-dir")
                    start_over(d)
        states = self._read_checkpoints() if resume else None
        # --normalize-states: one set of statistics for all seeds (one dataset), as RL_Trainer computes them
        self.obs_normalizer = state_normalizer(config, self.dataset, states and states[0])
        if self.obs_normalizer is not None:
            if states and any(not self.obs_normalizer.same_as(state_normalizer(config, self.dataset, st))
                              for st in states[1:]):
                raise TrainingError("the seeds' checkpoints hold different state statistics; resume each seed "
                                    "separately without --fast")
            self.dataset = self.obs_normalizer.normalize_dataset(self.dataset)
        self.agent = fast_agent_class(config)(seeds, self.spec.obs_dim, self.spec.act_dim, configs, device=self.device)
        self.sampler = MultiSeedSampler(self.dataset, self.device, seeds)
        self.eval_envs = [self.spec.make_batch(config.eval_episodes) for _ in seeds]
        self.step, self.clock = 0, RunClock()
        self.loss_sums: dict[str, torch.Tensor] = {}
        self.loss_count = 0
        rows: list[list[dict]] = [[] for _ in seeds]
        if states is not None:
            rows = self._restore(states)
        self.loggers = []
        for cfg, run_dir, seed_rows in zip(self.configs, self.run_dirs, rows):
            cfg_dict = dataclasses.asdict(cfg)
            atomic_write(run_dir / "config.json",
                         lambda tmp, c=cfg_dict: Path(tmp).write_text(json.dumps(c, indent=2, default=str)))
            self.loggers.append(Logger(run_dir, seed_rows, cfg.use_wandb, cfg.wandb_project,
                                       f"{cfg.exp_name}_seed{cfg.seed}", cfg_dict,
                                       purge_step=self.step if self.step else None))
        # with the graphs: compiled in their eager warm-up, its kernels replayed
        self.compiled = config.fast_compile and self.agent.enable_compile()
        self.graph: GraphedStep | None = None
        self._setup: dict[str, float] = {}  # without graphs: the first compiled update's time
        self._setup_reported = False
        if config.fast_cuda_graph:
            reason = graph_unavailable_reason(self.device)
            if reason is None:
                self.graph = GraphedStep(self.agent, self.sampler, config.batch_size, self.loss_sums,
                                         steps_per_replay=config.fast_graph_steps)
            elif self.device.type == "cuda":  # on a CPU there is nothing to say
                print(f"no CUDA graph: {reason}; using the eager fast path")
        # With the graphs the host is idle while the GPU trains, so an evaluation (CPU simulation) runs on a
        # worker thread beside the next steps, acting with a copy of the actor taken at its step: the same
        # numbers (--no-fast-eval-beside: in the foreground). The last one runs in the foreground (nothing
        # left to overlap). On a CPU the two would share the cores, so it stays in the foreground there.
        self.overlap_eval = self.graph is not None and config.fast_eval_beside
        # a GPU has no flush-to-zero switch: --flush-denormal there zeroes the subnormal Adam moments at each log
        self.zero_subnormals = config.flush_denormal and self.device.type != "cpu"
        self._pending: PendingEval | None = None
        self._eval_stream: torch.cuda.Stream | None = None
        self._eval_wait = 0.0  # seconds this interval spent waiting for (and logging) such an evaluation
        self._bar: Any = None

    # ---------------------------------------------------------------- main loop
    def run(self) -> list[list[dict]]:
        """Train to ``total_steps``; returns each seed's logged rows."""
        cfg = self.config
        bar = tqdm(total=cfg.total_steps, initial=self.step, disable=not cfg.progress,
                   desc=self._label(), dynamic_ncols=True)
        self._bar = bar
        interval_start, steps_at_start = time.perf_counter(), self.step
        self.clock.restart()
        stop = StopRequest().install()
        try:
            while self.step < cfg.total_steps:
                stop.check(self.step, self._finish_and_save, f"{self._parent()}/seed*/checkpoint.pt")
                if self._pending is not None and self._pending.done():
                    self._finish_eval()
                if self.graph is not None:  # the graph keeps the running sums itself
                    n = min(self.graph.steps_per_replay, self._steps_to_next_event())
                    if self.graph.needs_setup(n):  # a capture must have the GPU to itself
                        self._finish_eval()
                    self.graph.advance(n)
                    self.loss_sums = self.graph.sums
                else:
                    n = 1
                    t0 = time.perf_counter()
                    info = self.agent.update(*self.sampler.sample(cfg.batch_size))
                    if self.compiled and not self._setup:
                        self._setup["first update, incl. torch.compile"] = time.perf_counter() - t0
                    for key, value in info.items():  # stays on the device until the logging interval
                        self.loss_sums[key] = self.loss_sums[key] + value if key in self.loss_sums else value
                self.loss_count += n
                self.step += n
                bar.update(n)
                eval_due = self.step % cfg.eval_interval == 0 or self.step == cfg.total_steps
                checkpoint_due = self.step % cfg.checkpoint_interval == 0 or self.step == cfg.total_steps
                if eval_due or checkpoint_due:  # one evaluation at a time, and a checkpoint holds every row before it
                    self._finish_eval()
                if eval_due:
                    if self.device.type == "cuda":
                        torch.cuda.synchronize(self.device)
                    train_seconds = time.perf_counter() - interval_start - self._eval_wait  # training alone
                    sps = (self.step - steps_at_start) / max(train_seconds, 1e-9)
                    self._log_interval(sps, beside=self.overlap_eval and self.step < cfg.total_steps)
                    self._report_setup()
                    interval_start, steps_at_start, self._eval_wait = time.perf_counter(), self.step, 0.0
                if checkpoint_due:
                    if self._pending is not None:  # written with this step's rows once its evaluation is in
                        # a copy: the states hold the shells' weights, which a later sync_shell overwrites
                        self._pending.checkpoint = copy.deepcopy(self._checkpoint_states())
                    else:
                        self.save_checkpoints()
            for s, run_dir in enumerate(self.run_dirs):
                save_policy(self.agent.sync_shell(s).actor, run_dir / "policy.pt", self.obs_normalizer)
        except BaseException as err:
            if self._pending is not None and not isinstance(err, KeyboardInterrupt):
                try:  # training failed: keep the rows (and checkpoint) of the evaluation still running
                    self._finish_eval()
                except Exception as eval_err:
                    tqdm.write(f"the evaluation running beside training failed too: {eval_err}")
            raise
        finally:
            stop.restore()
            bar.close()
            for logger in self.loggers:
                logger.close()
            self._release()
        return [logger.rows for logger in self.loggers]

    def _parent(self) -> str:
        """The runs' experiment directory (``<log_dir>/*`` when the members have several)."""
        parents = {d.parent for d in self.run_dirs}
        return str(parents.pop()) if len(parents) == 1 else f"{self.config.log_dir}/*"

    def _label(self) -> str:
        """The progress bar's title: the experiment and its seeds, or the number of runs of a sweep."""
        names = {c.exp_name for c in self.configs}
        if len(names) == 1:
            return f"{self.config.exp_name} seeds {' '.join(map(str, self.seeds))}"
        return f"{self.S} runs of {len(names)} experiments"

    def _report_setup(self) -> None:
        """Once, at the first log: what the start cost before full speed (compilation, graph capture)."""
        setup = self.graph.setup_seconds if self.graph is not None else self._setup
        if setup and not self._setup_reported:
            self._setup_reported = True
            tqdm.write("setup before full speed: " + ", ".join(f"{k} {v:.1f} s" for k, v in setup.items()))

    def _steps_to_next_event(self) -> int:
        """Steps until the next evaluation, checkpoint or the end (so a multi-step graph never runs past one)."""
        cfg = self.config
        nxt = min(cfg.total_steps, *((self.step // k + 1) * k for k in (cfg.eval_interval, cfg.checkpoint_interval)))
        return nxt - self.step

    def _log_interval(self, steps_per_second: float, beside: bool = False) -> None:
        """One row per seed: mean losses over the interval (one host copy), evaluation, timing. ``beside``:
        the evaluation runs on a worker thread and the rows are logged when it is in (``_finish_eval``)."""
        keys = list(self.loss_sums)
        means = torch.stack([self.loss_sums[k] for k in keys]).cpu() if keys else None
        rows = []
        for s in range(self.S):
            row: dict[str, Any] = {"step": self.step}
            for i, key in enumerate(keys):
                row[key] = float(means[i, s]) / max(self.loss_count, 1)
                if not math.isfinite(row[key]):
                    raise TrainingError(
                        f"{key} of {self.run_dirs[s]} became {row[key]} before step {self.step}; the last good "
                        f"checkpoint is {self.ckpt_paths[s]} - lower the learning rates or check the dataset")
            rows.append(row)
        self.loss_sums, self.loss_count = {}, 0
        if self.graph is not None:
            self.graph.reset_sums()
        if self.zero_subnormals:
            self.agent.zero_subnormal_moments()
        timing = {"Train_StepsPerSecond": steps_per_second}
        if beside:  # the time at which this step was reached; the evaluation costs the run nothing more
            timing["Time_Elapsed"] = self.clock.tick()
            self._pending = PendingEval(self._evaluate_beside(), rows, timing)
            return
        results = self.evaluate()
        timing["Time_Elapsed"] = self.clock.tick()
        self._log_rows(rows, results, timing)

    def _log_rows(self, rows: list[dict], results: list[dict], timing: dict[str, float]) -> None:
        for row, result, logger in zip(rows, results, self.loggers):
            row.update(result)
            row.update(timing)
            logger.log(row)
        self._bar.set_postfix(eval_return=" ".join(f"{r['Eval_AverageReturn']:.1f}" for r in rows))

    def _evaluate_beside(self) -> Callable[[], list[dict[str, float]]]:
        """A copy of the actor now (in stream order on a GPU) and the evaluation to run with it on a worker."""
        actor, step = self.agent.actor_snapshot(), self.step
        if self.device.type != "cuda":
            return lambda: self.evaluate(actor, step)
        if self._eval_stream is None:
            self._eval_stream = torch.cuda.Stream(self.device)
        stream, ready = self._eval_stream, torch.cuda.Event()
        ready.record(torch.cuda.current_stream(self.device))
        for p in actor:  # made on the training stream, read on this one: not reused before it is done
            p.record_stream(stream)

        def run() -> list[dict[str, float]]:
            with torch.cuda.stream(stream):
                stream.wait_event(ready)
                return self.evaluate(actor, step)
        return run

    def _finish_eval(self) -> None:
        """Wait for the evaluation running beside training (if any), log its rows, write its checkpoint."""
        pending, self._pending = self._pending, None
        self._eval_wait += finish(pending, self._log_rows, self._write_checkpoints)

    def _finish_and_save(self) -> None:
        self._finish_eval()
        self.save_checkpoints()

    def evaluate(self, actor: list[torch.Tensor] | None = None, step: int | None = None) -> list[dict[str, float]]:
        """Every seed's ``eval_episodes`` deterministic episodes, stepped together: one batched actor call
        per env step for all seeds; seed s's episodes are seeded as ``RL_Trainer.evaluate`` seeds them.
        ``actor``/``step``: a copy of the stacked actor and the step it was taken at (default: now)."""
        S, step = self.S, self.step if step is None else step
        obs = [env.reset(seed=seed * EVAL_SEED_STRIDE + step) for env, seed in zip(self.eval_envs, self.seeds)]
        n = self.eval_envs[0].num_envs
        returns, lengths = np.zeros((S, n)), np.zeros((S, n), dtype=np.int64)
        successes, alive = np.zeros((S, n), dtype=bool), np.ones((S, n), dtype=bool)
        while alive.any():
            batch = np.stack([np.asarray(o, dtype=np.float32) for o in obs])
            if self.obs_normalizer is not None:  # the networks see what RL_Trainer.evaluate gives them
                batch = self.obs_normalizer(batch)
            batch = torch.from_numpy(batch).to(self.device)
            actions = ptu.to_numpy(self.agent.act_deterministic(batch, actor))
            # AntMaze: every seed's live episodes in one threaded simulator call
            live = [s for s in range(S) if alive[s].any()]
            results = step_envs([self.eval_envs[s] for s in live], [actions[s] for s in live], [alive[s] for s in live])
            for s, (next_obs, reward, terminated, truncated, info) in zip(live, results):
                obs[s] = next_obs
                a = alive[s]
                returns[s, a] += np.asarray(reward)[a]
                lengths[s, a] += 1
                if "success" in info:
                    successes[s, a] |= np.asarray(info["success"], dtype=bool)[a]
                alive[s] &= ~(np.asarray(terminated) | np.asarray(truncated))
        return [{"Eval_AverageReturn": float(returns[s].mean()), "Eval_StdReturn": float(returns[s].std()),
                 "Eval_MaxReturn": float(returns[s].max()), "Eval_MinReturn": float(returns[s].min()),
                 "Eval_AverageEpLen": float(lengths[s].mean()),
                 "Eval_SuccessRate": float(successes[s].mean())} for s in range(S)]

    # ---------------------------------------------------------------- checkpoints (RL_Trainer's format)
    def save_checkpoints(self) -> None:
        self._write_checkpoints(self._checkpoint_states())

    def _checkpoint_states(self) -> list[dict]:
        """Each seed's checkpoint as of now, without its rows (added when written)."""
        elapsed = self.clock.tick()
        return [{"step": self.step, "elapsed": elapsed, "agent": self.agent.sync_shell(s).state_dict(),
                 "rng": self.agent.rng_state(s), "buffer_rng": self.sampler.generators[s].get_state(),
                 "loss_sums": {k: v[s].clone() for k, v in self.loss_sums.items()}, "loss_count": self.loss_count,
                 "config": dataclasses.asdict(self.configs[s]), **normalizer_entry(self.obs_normalizer),
                 **self._dataset_entry}
                for s in range(self.S)]

    def _write_checkpoints(self, states: list[dict]) -> None:
        for s, state in enumerate(states):
            state = {**state, "rows": list(self.loggers[s].rows)}
            checkpoint.save(self.ckpt_paths[s], state)

    def _read_checkpoints(self) -> list[dict]:
        """Every seed's newest checkpoint at a step that all seeds have (a damaged latest one falls back to
        the previous, for all seeds alike)."""
        found, changes = [], {}
        for s, path in enumerate(self.ckpt_paths):
            try:
                found.append(checkpoint.read_all(path))
            except checkpoint.CheckpointError as err:
                raise TrainingError(str(err)) from err
            for used, state in found[-1].states:
                changes.update(dict.fromkeys(check_resume_flags(used, state["config"], self.configs[s])))
                check_resume_dataset(used, state, self._dataset_entry, self.dataset)
        line = changed_settings_line(self.ckpt_paths[0].parent.parent, list(changes))
        if line:
            print(line)
        for path, f in zip(self.ckpt_paths, found):
            if not f.states:
                raise TrainingError(f"{'; '.join(f.problems)}; delete {path.parent} to start that seed over")
        common = set.intersection(*({st["step"] for _, st in f.states} for f in found))
        if not common:
            steps = [[st["step"] for _, st in f.states] for f in found]
            raise TrainingError(f"the seeds' checkpoints are at different steps {steps}; resume each seed "
                                "separately without --fast")
        step = max(common)
        states = []
        for path, f in zip(self.ckpt_paths, found):
            used, state = next((u, st) for u, st in f.states if st["step"] == step)
            if used != path:
                latest = dict(f.states).get(path)
                why = (f.problems[0] if latest is None
                       else f"{path} (step {latest['step']}) is ahead of the other seeds'")
                print(f"{why}; resuming from the previous checkpoint {used} (step {step})")
            states.append(state)
        return states

    def _restore(self, states: list[dict]) -> list[list[dict]]:
        """Continue every seed from its checkpoint state; returns each seed's logged rows."""
        step = states[0]["step"]
        for s, state in enumerate(states):
            self.agent.shells[s].load_state_dict(state["agent"])
            try:
                self.agent.set_rng_state(s, state["rng"])
                self.sampler.generators[s].set_state(state["buffer_rng"])
            except (RuntimeError, TypeError, KeyError) as err:
                if not self.configs[s].allow_device_change:
                    raise TrainingError(cross_device_message(self.ckpt_paths[s], state)) from err
                noise_seed, buffer_seed = device_change_seeds(self.configs[s].seed, step)
                self.agent.noise[s].manual_seed(noise_seed)
                self.sampler.generators[s].manual_seed(buffer_seed)
                print(device_change_line(self.ckpt_paths[s], state, self.device))
        self.agent.load_shells()
        self.step, self.clock.elapsed = step, states[0]["elapsed"]
        self.loss_count = states[0]["loss_count"]
        keys = list(states[0]["loss_sums"])
        self.loss_sums = {k: torch.stack([torch.as_tensor(st["loss_sums"][k], dtype=torch.float32)
                                          for st in states]).to(self.device) for k in keys}
        print(f"resuming {', '.join(map(str, self.run_dirs))} from step {self.step}")
        return [st["rows"] for st in states]


def train_seeds(config: FastConfig, seeds: Sequence[int]) -> list[list[dict]]:
    """Build a ``MultiSeedTrainer`` and run it; returns each seed's rows."""
    return MultiSeedTrainer(config, seeds).run()
