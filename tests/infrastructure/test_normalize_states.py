"""``--normalize-states``: the buffer, evaluation, pictures, checkpoints, ``policy.pt`` and the fast path see
observations normalized by the training dataset's statistics; without the flag nothing changes."""

from functools import partial

import numpy as np
import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.agents.iql_agent import IQLAgent
from cs224r.data.dataset import Dataset
from cs224r.data.normalization import StateNormalizer
from cs224r.envs import get_spec
from cs224r.infrastructure import rl_trainer as rl_trainer_module
from cs224r.infrastructure import visualize
from cs224r.infrastructure.config import AWACConfig, IQLConfig, config_from_args
from cs224r.infrastructure.rl_trainer import RL_Trainer, TrainingError
from cs224r.infrastructure.utils import load_policy
from cs224r.tasks import load_dataset
from tests.helpers import assert_rows_close, read_csv, trainer_config

_awac = partial(trainer_config, AWACConfig)


def _fast_trainer():
    """The fast path's trainer (the students' starter tree has no cs224r/fast: skip there)."""
    return pytest.importorskip("cs224r.fast.multi_seed_trainer",
                               reason="the students' starter tree has no cs224r/fast").MultiSeedTrainer


def _dataset_normalizer(env_name):
    return StateNormalizer.from_dataset(load_dataset(env_name))


def _hand_stats(env_name="line-v0"):
    obs = load_dataset(env_name).observations.astype(np.float64)
    return obs.mean(0).astype(np.float32), (obs.std(0) + 1e-3).astype(np.float32)


def test_the_buffer_holds_hand_normalized_observations(tmp_path):
    mean, std = _hand_stats()
    raw = load_dataset("line-v0")
    trainer = RL_Trainer(_awac(tmp_path, normalize_states=True), AWACAgent)
    for key in ("observations", "next_observations"):
        np.testing.assert_allclose(trainer.buffer.tensors[key].numpy(), (getattr(raw, key) - mean) / std,
                                   rtol=1e-6, atol=1e-6)
    plain = RL_Trainer(_awac(tmp_path / "plain"), AWACAgent)
    assert plain.obs_normalizer is None
    np.testing.assert_array_equal(plain.buffer.tensors["observations"].numpy(), raw.observations)
    trainer._release()
    plain._release()


def test_evaluation_acts_on_hand_normalized_observations(tmp_path):
    mean, std = _hand_stats()
    trainer = RL_Trainer(_awac(tmp_path, normalize_states=True), AWACAgent)
    seen, raw = [], []
    get_action = trainer.agent.actor.get_action
    env = trainer.eval_env
    reset, step = env.reset, env.step

    def spy_reset(*a, **k):
        raw.append(np.array(reset(*a, **k)))
        return raw[-1]

    def spy_step(*a, **k):
        out = step(*a, **k)
        raw.append(np.array(out[0]))
        return out

    trainer.agent.actor.get_action = lambda obs, **k: (seen.append(np.array(obs)), get_action(obs, **k))[1]
    env.reset, env.step = spy_reset, spy_step
    trainer.evaluate()
    trainer._release()
    assert len(seen) >= 2
    for got, obs in zip(seen, raw):
        np.testing.assert_allclose(got, (obs - mean) / std, rtol=1e-6, atol=1e-6)


def test_policy_file_carries_the_statistics_and_acts_identically_when_loaded(tmp_path):
    trainer = RL_Trainer(_awac(tmp_path, normalize_states=True, total_steps=20), AWACAgent)
    trainer.run()
    path = tmp_path / "t" / "seed3" / "policy.pt"
    spec = get_spec("line-v0")
    fresh = AWACAgent(spec.obs_dim, spec.act_dim, spec.discrete, _awac(tmp_path))
    with pytest.raises(RuntimeError, match="obs_normalizer"):  # a plain load says the statistics are there
        fresh.actor.load_state_dict(torch.load(path, weights_only=True))
    normalizer = load_policy(path, fresh.actor)
    assert normalizer.same_as(trainer.obs_normalizer)
    obs = np.linspace(-1, 1, 7, dtype=np.float32).reshape(-1, 1)
    loaded = fresh.actor.get_action(normalizer(obs), deterministic=True)
    np.testing.assert_allclose(loaded, trainer.policy()(obs), rtol=1e-6, atol=1e-6)
    assert not np.allclose(fresh.actor.get_action(obs, deterministic=True), loaded)  # the statistics matter
    plain = RL_Trainer(_awac(tmp_path / "plain", total_steps=10), AWACAgent)
    plain.run()
    assert load_policy(tmp_path / "plain" / "t" / "seed3" / "policy.pt", fresh.actor) is None


def test_resume_keeps_the_statistics_and_the_numbers(tmp_path, monkeypatch):
    RL_Trainer(_awac(tmp_path / "whole", normalize_states=True), AWACAgent).run()
    first = RL_Trainer(_awac(tmp_path / "split", normalize_states=True, total_steps=20), AWACAgent)
    first.run()
    stats = first.obs_normalizer

    def recompute(*a, **k):
        raise AssertionError("a resumed run recomputed the statistics")

    monkeypatch.setattr(rl_trainer_module.StateNormalizer, "from_dataset", recompute)
    resumed = RL_Trainer(_awac(tmp_path / "split", normalize_states=True, resume=True), AWACAgent)
    assert resumed.obs_normalizer.same_as(stats)
    resumed.run()
    assert_rows_close(read_csv(tmp_path / "split" / "t" / "seed3" / "metrics.csv"),
                      read_csv(tmp_path / "whole" / "t" / "seed3" / "metrics.csv"))


def test_resume_with_the_flag_changed_is_a_one_line_error(tmp_path):
    RL_Trainer(_awac(tmp_path, total_steps=10), AWACAgent).run()
    with pytest.raises(TrainingError, match="normalize_states=False, not True; resume with the same flags"):
        RL_Trainer(_awac(tmp_path, normalize_states=True, total_steps=20, resume=True), AWACAgent)


def test_a_constant_observation_column_trains_and_is_named(tmp_path, monkeypatch, capsys):
    def constant(env_name, *a, **k):
        data = load_dataset(env_name)
        return Dataset(observations=np.full_like(data.observations, 0.25), actions=data.actions,
                       rewards=data.rewards, next_observations=data.next_observations, terminals=data.terminals)

    monkeypatch.setattr(rl_trainer_module, "load_dataset", constant)
    rows = RL_Trainer(_awac(tmp_path, normalize_states=True), AWACAgent).run()
    assert "column(s) [0] are constant" in capsys.readouterr().out
    assert all(np.isfinite(v) for row in rows for v in row.values())


@pytest.mark.parametrize("config_cls,agent_cls", [(AWACConfig, AWACAgent), (IQLConfig, IQLAgent)])
def test_the_fast_path_writes_the_plain_trainers_csv_and_policy(tmp_path, config_cls, agent_cls):
    MultiSeedTrainer = _fast_trainer()  # noqa: N806
    cfg = partial(trainer_config, config_cls, normalize_states=True)
    fast = MultiSeedTrainer(cfg(tmp_path / "fast"), [3, 4])
    assert fast.obs_normalizer.same_as(_dataset_normalizer("line-v0"))
    fast.run()
    for seed in (3, 4):
        RL_Trainer(cfg(tmp_path / "ref", seed=seed), agent_cls).run()
        fast_dir, ref_dir = (tmp_path / d / "t" / f"seed{seed}" for d in ("fast", "ref"))
        assert_rows_close(read_csv(fast_dir / "metrics.csv"), read_csv(ref_dir / "metrics.csv"))
        fast_policy, ref_policy = (torch.load(d / "policy.pt", weights_only=True) for d in (fast_dir, ref_dir))
        assert set(fast_policy) == set(ref_policy)
        torch.testing.assert_close(fast_policy["obs_normalizer.std"], ref_policy["obs_normalizer.std"])


def test_the_fast_path_resumes_with_the_stored_statistics(tmp_path):
    MultiSeedTrainer = _fast_trainer()  # noqa: N806
    cfg = partial(_awac, normalize_states=True)
    MultiSeedTrainer(cfg(tmp_path / "split", total_steps=20), [3, 4]).run()
    resumed = MultiSeedTrainer(cfg(tmp_path / "split", resume=True), [3, 4])
    assert resumed.obs_normalizer.same_as(_dataset_normalizer("line-v0"))
    resumed.run()
    MultiSeedTrainer(cfg(tmp_path / "whole"), [3, 4]).run()
    for seed in (3, 4):
        assert_rows_close(read_csv(tmp_path / "split" / "t" / f"seed{seed}" / "metrics.csv"),
                          read_csv(tmp_path / "whole" / "t" / f"seed{seed}" / "metrics.csv"))


def test_pointmass_value_picture_reads_normalized_grid_states(tmp_path, monkeypatch):
    cfg = AWACConfig(env_name="pointmass-medium-v0", total_steps=10, eval_interval=10, eval_episodes=2,
                     actor_size=16, critic_size=16, log_dir=str(tmp_path), device="cpu", progress=False,
                     normalize_states=True)
    trainer = RL_Trainer(cfg, AWACAgent, callbacks=[visualize.PointmassPictures(10, num_episodes=2)])
    seen = []
    values = visualize.state_values
    monkeypatch.setattr(visualize, "state_values", lambda agent, obs: (seen.append(obs), values(agent, obs))[1])
    trainer.run()
    grid, _ = visualize.grid_observations()
    mean, std = _hand_stats("pointmass-medium-v0")
    np.testing.assert_allclose(seen[0], (grid.reshape(-1, 2) - mean) / std, rtol=1e-5, atol=1e-5)


def test_the_corl_preset_turns_it_on():
    cfg = config_from_args(IQLConfig, {"preset": "corl"})
    assert cfg.normalize_states and cfg.grad_clip == 0.0
    assert config_from_args(AWACConfig, {"preset": "corl"}).lambda_awac == 0.1
    assert not IQLConfig().normalize_states and not AWACConfig().normalize_states


TINY_ARGV = ["--env-name", "line-v0", "--total-steps", "10", "--eval-interval", "10", "--eval-episodes", "2",
             "--batch-size", "16", "--actor-size", "16", "--critic-size", "16", "--device", "cpu", "--no-progress",
             "--normalize-states"]


@pytest.mark.parametrize("one_process", [False, True], ids=["run_seed", "one_container_fast"])
def test_sweeps_and_modal_functions_pass_the_flag_through(tmp_path, one_process):
    """``scripts/sweep*.py`` and the Modal apps train through these two functions with the user's flags."""
    from cs224r.infrastructure import checkpoint, sweep

    argv = [*TINY_ARGV, "--exp-name", "n"]
    if one_process:
        sweep.run_seeds_in_one_process("awac", argv, [1, 2], tmp_path)
    else:
        sweep.run_seed("awac", argv, 1, tmp_path, "tok")
    run_dir = tmp_path / "n" / "seed1"
    stats = _dataset_normalizer("line-v0")
    assert StateNormalizer.from_state_dict(torch.load(run_dir / "policy.pt", weights_only=True)).same_as(stats)
    assert StateNormalizer.from_state_dict(checkpoint.read(run_dir / "checkpoint.pt")["obs_normalizer"]).same_as(stats)


def test_a_stacked_sweep_grid_gives_every_member_the_statistics(tmp_path):
    """``--grid`` members (different expectiles, one stacked model) share the dataset and so its statistics."""
    pytest.importorskip("cs224r.fast", reason="the students' starter tree has no cs224r/fast")
    from cs224r.infrastructure import sweep

    members = sweep.grid_members("iql", [*TINY_ARGV, "--exp-name", "g"], [("expectile", [0.7, 0.9])], [1])
    out = sweep.run_grid_fast("iql", members, tmp_path)
    assert len(out) == 2 and not any("error" in r for r in out)
    stats = _dataset_normalizer("line-v0")
    policies = sorted(tmp_path.glob("g_*/seed1/policy.pt"))
    assert len(policies) == 2
    for path in policies:
        assert StateNormalizer.from_state_dict(torch.load(path, weights_only=True)).same_as(stats)
