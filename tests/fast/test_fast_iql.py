import pytest
import torch

from cs224r.agents.iql_agent import IQLAgent
from cs224r.fast.iql import LOG_KEYS, FastIQL
from cs224r.fast.sampler import MultiSeedSampler
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import IQLConfig
from cs224r.infrastructure.replay_buffer import ReplayBuffer
from cs224r.infrastructure.utils import set_seed
from tests.fast.test_fast_awac import AC, OB, _dataset


def _config(**kw):
    base = dict(actor_n_layers=2, actor_size=32, critic_n_layers=2, critic_size=32, batch_size=64,
                grad_clip=10.0, total_steps=20)  # 20 steps: the cosine actor lr decays visibly
    base.update(kw)
    return IQLConfig(**base)


def _reference_run(seed, cfg, data, steps):
    """What RL_Trainer does for one seed: seed, buffer, agent, then ``steps`` train calls."""
    set_seed(seed)
    buffer = ReplayBuffer(data, ptu.device, seed=seed)
    agent = IQLAgent(OB, AC, False, cfg)
    logs = [{k: float(v) for k, v in agent.train(*buffer.sample(cfg.batch_size)).items()} for _ in range(steps)]
    return agent, logs


def _fast_run(seeds, cfg, data, steps):
    fast = FastIQL(seeds, OB, AC, cfg, device=ptu.device)
    sampler = MultiSeedSampler(data, ptu.device, seeds)
    logs = [{k: v.clone() for k, v in fast.update(*sampler.sample(cfg.batch_size)).items()} for _ in range(steps)]
    return fast, logs


def _assert_seed_matches(fast, s, ref_agent, fast_logs, ref_logs, tol=2e-4):
    for step, (fl, rl) in enumerate(zip(fast_logs, ref_logs)):
        assert list(fl) == list(rl)  # same keys in the same order (the CSV columns)
        for key in LOG_KEYS:
            assert float(fl[key][s]) == pytest.approx(rl[key], rel=tol, abs=tol), (key, step)
    shell = fast.sync_shell(s)
    ref_state, fast_state = ref_agent.state_dict(), shell.state_dict()
    assert fast_state["actor_updates"] == ref_state["actor_updates"]
    for part in ("actor", "critic"):  # critic: q_net, q_net2, both targets and v_net
        assert set(fast_state[part]) == set(ref_state[part])
        for name, value in ref_state[part].items():
            torch.testing.assert_close(fast_state[part][name].cpu(), value.cpu(), rtol=tol, atol=tol,
                                       msg=f"{part}.{name}")
    for part in ("actor_opt", "critic_opt", "value_opt"):
        assert fast_state[part]["param_groups"][0]["lr"] == pytest.approx(ref_state[part]["param_groups"][0]["lr"])
        for idx, st in ref_state[part]["state"].items():
            assert float(fast_state[part]["state"][idx]["step"]) == float(st["step"])
            for key in ("exp_avg", "exp_avg_sq"):
                torch.testing.assert_close(fast_state[part]["state"][idx][key].cpu(), st[key].cpu(),
                                           rtol=1e-3, atol=1e-7)


def test_one_seed_matches_reference_steps(device):
    cfg, data = _config(), _dataset()
    fast, fast_logs = _fast_run([4], cfg, data, 15)
    ref, ref_logs = _reference_run(4, cfg, data, 15)
    _assert_seed_matches(fast, 0, ref, fast_logs, ref_logs)
    # the run really trained and the schedule really decayed (a test that could not fail otherwise)
    assert fast_logs[0]["Value Loss"][0] != fast_logs[-1]["Value Loss"][0]
    assert float(fast_logs[-1]["Actor LR"][0]) < 0.5 * cfg.actor_lr


def test_three_seeds_each_match_their_own_reference_run(device):
    cfg, data = _config(grad_clip=0.5), _dataset(seed=1)  # small clip: the per-seed clipping is active
    seeds = [1, 2, 7]
    fast, fast_logs = _fast_run(seeds, cfg, data, 10)
    for s, seed in enumerate(seeds):
        ref, ref_logs = _reference_run(seed, cfg, data, 10)
        _assert_seed_matches(fast, s, ref, fast_logs, ref_logs)
    assert fast_logs[-1]["Critic Loss"][0] != fast_logs[-1]["Critic Loss"][1]  # seeds differ


def test_constant_schedule_and_no_clipping_match(device):
    cfg, data = _config(actor_lr_schedule="constant", grad_clip=0.0), _dataset(seed=2)
    fast, fast_logs = _fast_run([3, 5], cfg, data, 5)
    for s, seed in enumerate([3, 5]):
        ref, ref_logs = _reference_run(seed, cfg, data, 5)
        _assert_seed_matches(fast, s, ref, fast_logs, ref_logs)


def test_resumed_shells_continue_like_the_reference(device):
    """Load reference checkpoints (weights, Adam moments, schedule position) into FastIQL and go on."""
    cfg, data = _config(), _dataset()
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
