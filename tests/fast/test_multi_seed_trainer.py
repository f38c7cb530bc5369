import json
import os
import signal
import time
from functools import partial

import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.fast.cuda_graph import GraphedStep
from cs224r.fast.multi_seed_trainer import EVAL_SEED_STRIDE, MultiSeedTrainer
from cs224r.infrastructure import sweep
from cs224r.infrastructure.cli import run_cli
from cs224r.infrastructure.config import AWACConfig
from cs224r.infrastructure.rl_trainer import RL_Trainer, TrainingError, TrainingInterrupted
from cs224r.infrastructure.sweep import run_seeds_fast
from tests.fast.helpers import evaluating_beside
from tests.helpers import (
    assert_rows_close,
    assert_rows_equal,
    before_call,
    read_csv,
    record_checkpoint_times,
    subnormal_survives,
    trainer_config,
)

_config = partial(trainer_config, AWACConfig)


def test_each_seed_writes_the_reference_csv(tmp_path):
    seeds = [3, 5, 8]
    MultiSeedTrainer(_config(tmp_path / "fast"), seeds).run()
    for seed in seeds:
        RL_Trainer(_config(tmp_path / "ref", seed=seed), AWACAgent).run()
        fast_dir, ref_dir = tmp_path / "fast" / "t" / f"seed{seed}", tmp_path / "ref" / "t" / f"seed{seed}"
        assert_rows_close(read_csv(fast_dir / "metrics.csv"), read_csv(ref_dir / "metrics.csv"))
        assert json.loads((fast_dir / "config.json").read_text())["seed"] == seed
        for name in ("checkpoint.pt", "policy.pt"):
            assert (fast_dir / name).exists()
        fast_policy = torch.load(fast_dir / "policy.pt")
        for key, value in torch.load(ref_dir / "policy.pt").items():
            torch.testing.assert_close(fast_policy[key], value, rtol=1e-4, atol=1e-5)
    rows = read_csv(tmp_path / "fast" / "t" / "seed3" / "metrics.csv")
    assert [int(float(r["step"])) for r in rows] == [10, 20, 30]


def test_reference_trainer_resumes_a_fast_checkpoint(tmp_path):
    MultiSeedTrainer(_config(tmp_path / "a", total_steps=20), [3, 4]).run()
    resumed = RL_Trainer(_config(tmp_path / "a", total_steps=30, resume=True), AWACAgent)
    assert resumed.step == 20
    resumed.run()
    RL_Trainer(_config(tmp_path / "b"), AWACAgent).run()
    assert_rows_close(read_csv(tmp_path / "a" / "t" / "seed3" / "metrics.csv"),
                      read_csv(tmp_path / "b" / "t" / "seed3" / "metrics.csv"))


def test_checkpoint_between_evaluations_keeps_the_time_since_the_last(tmp_path, monkeypatch):
    trainer = MultiSeedTrainer(_config(tmp_path, total_steps=20, eval_interval=20, checkpoint_interval=10), [3, 4])
    saved = record_checkpoint_times(trainer, "save_checkpoints", monkeypatch)
    rows = trainer.run()
    (step1, time1), (step2, time2) = saved
    assert (step1, step2) == (10, 20)
    assert 0 < time1 < rows[0][-1]["Time_Elapsed"] <= time2


def _resume_matches_uninterrupted_run(tmp_path, seeds, at_step=20):
    """Resume the run in tmp_path/a (stopped at ``at_step``) to the end; its CSVs equal an uninterrupted
    run's in tmp_path/b."""
    resumed = MultiSeedTrainer(_config(tmp_path / "a", resume=True), seeds)
    assert resumed.step == at_step
    resumed.run()
    MultiSeedTrainer(_config(tmp_path / "b"), seeds).run()
    for seed in seeds:
        assert_rows_close(read_csv(tmp_path / "a" / "t" / f"seed{seed}" / "metrics.csv"),
                          read_csv(tmp_path / "b" / "t" / f"seed{seed}" / "metrics.csv"))


def test_fast_trainer_resumes_its_own_checkpoints(tmp_path):
    MultiSeedTrainer(_config(tmp_path / "a", total_steps=20), [3, 4]).run()
    _resume_matches_uninterrupted_run(tmp_path, [3, 4])


def test_sigterm_checkpoints_every_seed_at_that_step_and_resume_loses_nothing(tmp_path, monkeypatch,
                                                                              catch_signals):
    seeds = [3, 4]
    stopped = MultiSeedTrainer(_config(tmp_path / "a"), seeds)
    # between the step-10 and step-20 checkpoints
    before_call(stopped.agent, "update", 17, lambda: os.kill(os.getpid(), signal.SIGTERM), monkeypatch)
    with pytest.raises(TrainingInterrupted, match="SIGTERM: stopped at step 17"):
        stopped.run()
    for seed in seeds:
        assert torch.load(tmp_path / "a" / "t" / f"seed{seed}" / "checkpoint.pt", weights_only=True)["step"] == 17
    _resume_matches_uninterrupted_run(tmp_path, seeds, at_step=17)


def test_existing_run_and_bad_input_are_clear_errors(tmp_path):
    MultiSeedTrainer(_config(tmp_path, total_steps=10), [3]).run()
    with pytest.raises(TrainingError, match="already holds a run"):
        MultiSeedTrainer(_config(tmp_path, total_steps=10), [3, 4])
    with pytest.raises(TrainingError, match="checkpoints are missing"):
        MultiSeedTrainer(_config(tmp_path, total_steps=10, resume=True), [3, 4])
    with pytest.raises(ValueError, match="distinct"):
        MultiSeedTrainer(_config(tmp_path), [1, 1])
    with pytest.raises(TrainingError, match="discrete"):
        MultiSeedTrainer(_config(tmp_path, env_name="chain-v0"), [1])


def test_cli_fast_flag_and_sweep_hook(tmp_path, capsys):
    flags = ["--env-name", "line-v0", "--total-steps", "10", "--eval-interval", "10", "--eval-episodes", "2",
             "--batch-size", "16", "--actor-size", "8", "--critic-size", "8", "--no-progress", "--device", "cpu"]
    assert run_cli(AWACConfig, AWACAgent, [*flags, "--log-dir", str(tmp_path), "--seeds", "1", "2", "--fast"]) == 0
    out = capsys.readouterr().out
    assert "seed1" in out and "seed2" in out
    assert (tmp_path / "awac" / "seed2" / "metrics.csv").exists()
    assert sweep.FAST_MULTI_SEED["awac"] is not None
    summaries = run_seeds_fast("awac", [*flags, "--exp-name", "h"], [4, 6], tmp_path, "tok")
    assert [s["seed"] for s in summaries] == [4, 6] and all(s["step"] == 10 for s in summaries)
    assert json.loads((tmp_path / "h" / "seed6" / sweep.LAUNCH_FILE).read_text())["launch_token"] == "tok"
    # a retry of the same launch resumes (here: already finished) instead of failing
    assert run_seeds_fast("awac", [*flags, "--exp-name", "h"], [4, 6], tmp_path, "tok")[0]["step"] == 10


def test_sweep_hook_runs_discrete_tasks_one_after_another(tmp_path, capsys):
    flags = ["--env-name", "chain-v0", "--total-steps", "10", "--eval-interval", "10", "--eval-episodes", "2",
             "--batch-size", "16", "--actor-size", "8", "--critic-size", "8", "--no-progress", "--device", "cpu"]
    summaries = sweep.run_seeds_in_one_process("awac", [*flags, "--exp-name", "d"], [1, 2], tmp_path)
    assert [s["seed"] for s in summaries] == [1, 2] and "one after another" in capsys.readouterr().out
    assert (tmp_path / "d" / "seed2" / "policy.pt").exists()


def test_cli_rejects_seed_with_seeds(tmp_path, capsys):
    assert run_cli(AWACConfig, AWACAgent, ["--seed", "1", "--seeds", "2", "3", "--log-dir", str(tmp_path)]) == 2
    assert "either --seed or --seeds" in capsys.readouterr().err


def test_fast_trainer_resumes_reference_checkpoints(tmp_path):
    for seed in (3, 4):
        RL_Trainer(_config(tmp_path / "a", seed=seed, total_steps=20), AWACAgent).run()
    _resume_matches_uninterrupted_run(tmp_path, [3, 4])


def test_action_clip_and_cosine_schedule_match_the_reference_csv(tmp_path):
    extra = dict(action_clip=0.5, actor_lr_schedule="cosine")
    MultiSeedTrainer(_config(tmp_path / "fast", **extra), [3, 5]).run()
    for seed in (3, 5):
        RL_Trainer(_config(tmp_path / "ref", seed=seed, **extra), AWACAgent).run()
        fast = read_csv(tmp_path / "fast" / "t" / f"seed{seed}" / "metrics.csv")
        assert_rows_close(fast, read_csv(tmp_path / "ref" / "t" / f"seed{seed}" / "metrics.csv"))
        assert float(fast[-1]["Actor LR"]) < float(fast[0]["Actor LR"])


def test_cli_accepts_the_course_preset_with_fast(tmp_path, capsys):
    flags = ["--env-name", "line-v0", "--preset", "cs224r", "--total-steps", "6", "--eval-interval", "6",
             "--eval-episodes", "2", "--batch-size", "8", "--actor-size", "8", "--critic-size", "8",
             "--no-progress", "--device", "cpu", "--log-dir", str(tmp_path)]
    assert run_cli(AWACConfig, AWACAgent, [*flags, "--seeds", "1", "2", "--fast"]) == 0
    config = json.loads((tmp_path / "awac" / "seed2" / "config.json").read_text())
    assert config["action_clip"] > 0 and config["actor_lr_schedule"] == "cosine"
    assert "Actor LR" in read_csv(tmp_path / "awac" / "seed2" / "metrics.csv")[0]
    assert run_cli(AWACConfig, AWACAgent, [*flags, "--seeds", "3", "--fast", "--save-video"]) == 2
    assert "--save-video" in capsys.readouterr().err


def test_the_fast_trainer_flushes_subnormals_unless_told_not_to(tmp_path):
    MultiSeedTrainer(_config(tmp_path / "a", flush_denormal=False), [3, 4])
    assert subnormal_survives()
    MultiSeedTrainer(_config(tmp_path / "b"), [3, 4])
    assert not subnormal_survives()


@pytest.mark.skipif(not os.environ.get("CS224R_TEST_COMPILE"),
                    reason="compiling takes 1-2 minutes on a CPU; set CS224R_TEST_COMPILE=1 to run")
def test_compiled_trainer_writes_the_eager_csv_and_its_checkpoint_resumes_eagerly(tmp_path, capsys):
    """``--fast-compile``: each seed's CSV equals the eager fast trainer's up to rounding, and a compiled
    run stopped at 20 steps continues without compilation (the checkpoint holds no compiled state)."""
    seeds = [3, 4]
    compiled = MultiSeedTrainer(_config(tmp_path / "c", fast_compile=True), seeds)
    assert compiled.agent._compiled is not None
    compiled.run()
    assert capsys.readouterr().out.count("setup before full speed: first update, incl. torch.compile ") == 1
    MultiSeedTrainer(_config(tmp_path / "a", total_steps=20, fast_compile=True), seeds).run()
    _resume_matches_uninterrupted_run(tmp_path, seeds)  # resumed eagerly in a, uninterrupted eager run in b
    for seed in seeds:
        assert_rows_close(read_csv(tmp_path / "c" / "t" / f"seed{seed}" / "metrics.csv"),
                          read_csv(tmp_path / "b" / "t" / f"seed{seed}" / "metrics.csv"))


@pytest.mark.parametrize("held", [False, True])
def test_evaluating_beside_training_writes_the_same_csv_and_checkpoints(tmp_path, monkeypatch, held):
    """Each evaluation acts with the actor of its own step although training has gone on (held: it runs
    only when the trainer waits for it), and each checkpoint holds the rows up to its step."""
    seeds = [3, 4]
    MultiSeedTrainer(_config(tmp_path / "plain"), seeds).run()
    trainer = evaluating_beside(_config(tmp_path / "beside"), seeds, monkeypatch if held else None)
    written = []
    write = trainer._write_checkpoints
    monkeypatch.setattr(trainer, "_write_checkpoints",
                        lambda states: (written.append((states[0]["step"], len(trainer.loggers[0].rows))),
                                        write(states)))
    reset_seeds = []
    for env in trainer.eval_envs:
        monkeypatch.setattr(env, "reset", lambda seed, reset=env.reset: (reset_seeds.append(seed), reset(seed=seed))[1])
    trainer.run()
    assert written == [(10, 1), (20, 2), (30, 3)]
    assert reset_seeds == [seed * EVAL_SEED_STRIDE + step for step in (10, 20, 30) for seed in seeds]
    for seed in seeds:
        rows = read_csv(tmp_path / "beside" / "t" / f"seed{seed}" / "metrics.csv")
        assert_rows_equal(rows, read_csv(tmp_path / "plain" / "t" / f"seed{seed}" / "metrics.csv"))
        times = [float(r["Time_Elapsed"]) for r in rows]
        assert 0 < times[0] < times[1] < times[2]
        ckpt = torch.load(tmp_path / "beside" / "t" / f"seed{seed}" / "checkpoint.pt", weights_only=True)
        assert ckpt["step"] == 30 and [r["step"] for r in ckpt["rows"]] == [10, 20, 30]


def test_waiting_for_an_evaluation_beside_training_is_not_training_time(tmp_path, monkeypatch):
    """Train_StepsPerSecond is the training's speed: a slow held-back evaluation, waited for at the next
    event, does not count (if it did: at most 10 steps / 1 s = 10 steps/s; tiny steps run at hundreds per
    second even on a loaded machine, so the margin is wide)."""
    trainer = evaluating_beside(_config(tmp_path), [3, 4], monkeypatch)
    evaluate = trainer.evaluate
    monkeypatch.setattr(trainer, "evaluate", lambda *args: (time.sleep(1.0), evaluate(*args))[1])
    rows = trainer.run()[0]
    assert all(row["Train_StepsPerSecond"] > 25 for row in rows), [row["Train_StepsPerSecond"] for row in rows]


def test_no_evaluation_runs_beside_warm_up_or_graph_capture(tmp_path, monkeypatch):
    """The trainer waits for an evaluation before graph steps that warm up or capture (uncaptured here)."""
    trainer = evaluating_beside(_config(tmp_path, total_steps=12, eval_interval=2, checkpoint_interval=4), [3, 4],
                                monkeypatch)
    trainer.graph = GraphedStep(trainer.agent, trainer.sampler, trainer.config.batch_size, trainer.loss_sums,
                                warmup=5, steps_per_replay=4, capture=False)
    advance, setups = trainer.graph.advance, []

    def checked(n):
        setups.append(trainer.graph.needs_setup(n))
        assert not (setups[-1] and trainer._pending is not None)
        advance(n)

    monkeypatch.setattr(trainer.graph, "advance", checked)
    trainer.run()
    assert setups[:3] == [True, True, True] and not any(setups[3:])  # warm-up steps 1-5, with evaluations at 2, 4


def test_a_stop_while_an_evaluation_runs_beside_training_keeps_it_and_resumes(tmp_path, monkeypatch,
                                                                             catch_signals):
    seeds = [3, 4]
    stopped = evaluating_beside(_config(tmp_path / "a"), seeds, monkeypatch)
    before_call(stopped.agent, "update", 17, lambda: os.kill(os.getpid(), signal.SIGTERM), monkeypatch)
    with pytest.raises(TrainingInterrupted, match="stopped at step 17"):
        stopped.run()
    for seed in seeds:
        ckpt = torch.load(tmp_path / "a" / "t" / f"seed{seed}" / "checkpoint.pt", weights_only=True)
        assert ckpt["step"] == 17 and [r["step"] for r in ckpt["rows"]] == [10]
    _resume_matches_uninterrupted_run(tmp_path, seeds, at_step=17)


def test_a_training_error_keeps_the_evaluation_running_beside_it(tmp_path, monkeypatch):
    """Its row and the checkpoint of its step are written; resuming from that checkpoint (states taken at
    step 10, written at step 15) gives the uninterrupted run."""
    seeds = [3, 4]
    trainer = evaluating_beside(_config(tmp_path / "a"), seeds, monkeypatch)

    def fail():
        raise RuntimeError("boom")

    before_call(trainer.agent, "update", 15, fail, monkeypatch)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.run()
    for seed in seeds:
        run_dir = tmp_path / "a" / "t" / f"seed{seed}"
        assert [r["step"] for r in read_csv(run_dir / "metrics.csv")] == ["10"]
        assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["step"] == 10
    _resume_matches_uninterrupted_run(tmp_path, seeds, at_step=10)


@pytest.mark.parametrize("beside", [False, True])
def test_sweep_hook_reports_every_checkpoint(tmp_path, monkeypatch, beside):
    """``on_checkpoint`` (on Modal: commit the volume) follows every checkpoint written, also one written
    after an evaluation that ran beside training, and the end of the run."""
    if beside:
        init = MultiSeedTrainer.__init__

        def init_beside(self, *args, **kwargs):
            init(self, *args, **kwargs)
            self.overlap_eval = True

        monkeypatch.setattr(MultiSeedTrainer, "__init__", init_beside)
    written = []
    flags = ["--env-name", "line-v0", "--total-steps", "30", "--eval-interval", "10", "--checkpoint-interval", "10",
             "--eval-episodes", "2", "--batch-size", "16", "--actor-size", "8", "--critic-size", "8",
             "--no-progress", "--device", "cpu", "--exp-name", "h"]
    ckpt = tmp_path / "h" / "seed4" / "checkpoint.pt"
    run_seeds_fast("awac", flags, [4, 6], tmp_path, "tok",
                   on_checkpoint=lambda: written.append(ckpt.exists() and torch.load(ckpt, weights_only=True)["step"]))
    assert written == [False, 10, 20, 30, 30]  # the claim in launch.json, every checkpoint, the end


def test_on_a_gpu_flush_denormal_zeroes_subnormal_moments_at_each_log(tmp_path, monkeypatch):
    """A CPU flushes as it computes; elsewhere the trainer zeroes the agent's subnormal Adam moments at each
    log (called here on the CPU by hand: the rows are the same, as nothing is subnormal yet)."""
    assert not MultiSeedTrainer(_config(tmp_path / "cpu"), [3]).zero_subnormals  # the CPU's own flush covers it
    assert not MultiSeedTrainer(_config(tmp_path / "off", flush_denormal=False), [3]).zero_subnormals
    MultiSeedTrainer(_config(tmp_path / "plain"), [3, 4]).run()
    trainer = MultiSeedTrainer(_config(tmp_path / "zeroed"), [3, 4])
    trainer.zero_subnormals = True
    calls = before_call(trainer.agent, "zero_subnormal_moments", 0, lambda: None, monkeypatch)
    trainer.run()
    assert calls["n"] == 3  # steps 10, 20, 30
    for seed in (3, 4):
        assert_rows_equal(read_csv(tmp_path / "zeroed" / "t" / f"seed{seed}" / "metrics.csv"),
                   read_csv(tmp_path / "plain" / "t" / f"seed{seed}" / "metrics.csv"))
