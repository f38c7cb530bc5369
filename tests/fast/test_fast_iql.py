import json
from functools import partial

import pytest
import torch

from cs224r.agents.iql_agent import IQLAgent
from cs224r.fast.awac import FastAWAC
from cs224r.fast.iql import LOG_KEYS, FastIQL
from cs224r.fast.multi_seed_trainer import MultiSeedTrainer
from cs224r.fast.sampler import MultiSeedSampler
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure import sweep
from cs224r.infrastructure.cli import run_cli
from cs224r.infrastructure.config import AWACConfig, IQLConfig
from cs224r.infrastructure.replay_buffer import ReplayBuffer
from cs224r.infrastructure.rl_trainer import RL_Trainer
from tests.fast.helpers import AC, OB, assert_seed_matches, dataset, fast_run, reference_run
from tests.helpers import assert_rows_close, read_csv, trainer_config


def _config(**kw):
    base = dict(actor_n_layers=2, actor_size=32, critic_n_layers=2, critic_size=32, batch_size=64,
                grad_clip=10.0, total_steps=20)  # 20 steps: the cosine actor lr decays visibly
    base.update(kw)
    return IQLConfig(**base)


_reference_run = partial(reference_run, IQLAgent)
_fast_run = partial(fast_run, FastIQL)
_assert_seed_matches = partial(assert_seed_matches, log_keys=LOG_KEYS)


def test_one_seed_matches_reference_steps(device):
    cfg, data = _config(), dataset()
    fast, fast_logs = _fast_run([4], cfg, data, 15)
    ref, ref_logs = _reference_run(4, cfg, data, 15)
    _assert_seed_matches(fast, 0, ref, fast_logs, ref_logs)
    # the run really trained and the schedule really decayed (a test that could not fail otherwise)
    assert fast_logs[0]["Value Loss"][0] != fast_logs[-1]["Value Loss"][0]
    assert float(fast_logs[-1]["Actor LR"][0]) < 0.5 * cfg.actor_lr


def test_three_seeds_each_match_their_own_reference_run(device):
    cfg, data = _config(grad_clip=0.5), dataset(seed=1)  # small clip: the per-seed clipping is active
    seeds = [1, 2, 7]
    fast, fast_logs = _fast_run(seeds, cfg, data, 10)
    for s, seed in enumerate(seeds):
        ref, ref_logs = _reference_run(seed, cfg, data, 10)
        _assert_seed_matches(fast, s, ref, fast_logs, ref_logs)
    assert fast_logs[-1]["Critic Loss"][0] != fast_logs[-1]["Critic Loss"][1]  # seeds differ


def test_constant_schedule_and_no_clipping_match(device):
    cfg, data = _config(actor_lr_schedule="constant", grad_clip=0.0), dataset(seed=2)
    fast, fast_logs = _fast_run([3, 5], cfg, data, 5)
    for s, seed in enumerate([3, 5]):
        ref, ref_logs = _reference_run(seed, cfg, data, 5)
        _assert_seed_matches(fast, s, ref, fast_logs, ref_logs)


def test_unknown_actor_schedule_is_refused():
    """The configs refuse it when built; the fast models check again for a config changed afterwards."""
    for fast_cls, cfg in ((FastIQL, _config()), (FastAWAC, AWACConfig())):
        cfg.actor_lr_schedule = "linear"
        with pytest.raises(ValueError, match="unknown .*schedule 'linear'"):
            fast_cls([1], OB, AC, cfg, device="cpu")


def test_resumed_shells_continue_like_the_reference(device):
    """Load reference checkpoints (weights, Adam moments, schedule position) into FastIQL and go on."""
    cfg, data = _config(), dataset()
    ref, _ = _reference_run(4, cfg, data, 4)
    fast = FastIQL([4], OB, AC, cfg, device=ptu.device)
    fast.shells[0].load_state_dict(ref.state_dict())
    fast.load_shells()
    assert fast.num_updates == 4
    ref2, _ = _reference_run(4, cfg, data, 4)
    sampler = MultiSeedSampler(data, ptu.device, [4])
    buffer = ReplayBuffer(data, ptu.device, seed=4)
    for _ in range(4):  # both sample streams past the first 4 batches
        sampler.sample(cfg.batch_size)
        buffer.sample(cfg.batch_size)
    fast_logs = [{k: v.clone() for k, v in fast.update(*sampler.sample(cfg.batch_size)).items()} for _ in range(3)]
    ref_logs = [{k: float(v) for k, v in ref2.train(*buffer.sample(cfg.batch_size)).items()} for _ in range(3)]
    _assert_seed_matches(fast, 0, ref2, fast_logs, ref_logs)


# ---------------------------------------------------------------- the multi-seed trainer, CLI and sweep hook
_trainer_config = partial(trainer_config, IQLConfig)


def test_each_seed_writes_the_reference_csv(tmp_path):
    seeds = [3, 5]
    trainer = MultiSeedTrainer(_trainer_config(tmp_path / "fast"), seeds)
    assert isinstance(trainer.agent, FastIQL)
    trainer.run()
    for seed in seeds:
        RL_Trainer(_trainer_config(tmp_path / "ref", seed=seed), IQLAgent).run()
        fast_dir, ref_dir = tmp_path / "fast" / "t" / f"seed{seed}", tmp_path / "ref" / "t" / f"seed{seed}"
        fast_rows, ref_rows = read_csv(fast_dir / "metrics.csv"), read_csv(ref_dir / "metrics.csv")
        assert "Value Loss" in ref_rows[0] and "Actor LR" in ref_rows[0]
        assert_rows_close(fast_rows, ref_rows)
        fast_policy = torch.load(fast_dir / "policy.pt")
        for key, value in torch.load(ref_dir / "policy.pt").items():
            torch.testing.assert_close(fast_policy[key], value, rtol=1e-4, atol=1e-5)


def test_reference_trainer_resumes_a_fast_iql_checkpoint(tmp_path):
    MultiSeedTrainer(_trainer_config(tmp_path / "a", total_steps=20), [3, 4]).run()
    resumed = RL_Trainer(_trainer_config(tmp_path / "a", total_steps=30, resume=True), IQLAgent)
    assert resumed.step == 20 and resumed.agent.actor.num_updates == 20
    resumed.run()
    # the reference along the same path (the cosine schedule depends on total_steps: 20, then 30)
    RL_Trainer(_trainer_config(tmp_path / "b", total_steps=20), IQLAgent).run()
    RL_Trainer(_trainer_config(tmp_path / "b", total_steps=30, resume=True), IQLAgent).run()
    assert_rows_close(read_csv(tmp_path / "a" / "t" / "seed3" / "metrics.csv"),
                      read_csv(tmp_path / "b" / "t" / "seed3" / "metrics.csv"))


def test_cli_fast_flag_and_sweep_hook_for_iql(tmp_path, capsys):
    flags = ["--env-name", "line-v0", "--total-steps", "10", "--eval-interval", "10", "--eval-episodes", "2",
             "--batch-size", "16", "--actor-size", "8", "--critic-size", "8", "--no-progress", "--device", "cpu"]
    assert run_cli(IQLConfig, IQLAgent, [*flags, "--log-dir", str(tmp_path), "--seeds", "1", "2", "--fast"]) == 0
    out = capsys.readouterr().out
    assert "seed1" in out and "seed2" in out
    assert "Value Loss" in read_csv(tmp_path / "iql" / "seed2" / "metrics.csv")[0]
    assert run_cli(IQLConfig, IQLAgent, [*flags, "--log-dir", str(tmp_path), "--exp-name", "c", "--seeds", "1",
                                         "--fast", "--action-clip", "0.99"]) == 0  # clipped as RL_Trainer clips
    assert json.loads((tmp_path / "c" / "seed1" / "config.json").read_text())["action_clip"] == 0.99
    assert sweep.FAST_MULTI_SEED["iql"] is not None
    summaries = sweep.run_seeds_in_one_process("iql", [*flags, "--exp-name", "h"], [4, 6], tmp_path, "tok")
    assert [s["seed"] for s in summaries] == [4, 6] and all(s["step"] == 10 for s in summaries)
    record = json.loads((tmp_path / "h" / "seed6" / sweep.LAUNCH_FILE).read_text())
    assert record["algo"] == "iql" and record["fast_multi_seed"] == [4, 6]
