"""Shared by the fast-path tests: a small dataset, one seed's reference run, the fast run, the check
that a fast seed equals its reference (logs, weights, optimizer state), and a trainer that evaluates
beside training."""

import numpy as np
import pytest
import torch

from cs224r.data.dataset import Dataset
from cs224r.fast import multi_seed_trainer
from cs224r.fast.sampler import MultiSeedSampler
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.replay_buffer import ReplayBuffer
from cs224r.infrastructure.utils import set_seed
from tests.helpers import hold_evaluations

OB, AC = 5, 3


def dataset(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return Dataset(observations=rng.normal(size=(n, OB)).astype(np.float32),
                   actions=rng.uniform(-1, 1, size=(n, AC)).astype(np.float32),
                   rewards=(rng.random(n) < 0.2).astype(np.float32) - 1.0,
                   next_observations=rng.normal(size=(n, OB)).astype(np.float32),
                   terminals=(rng.random(n) < 0.05).astype(np.float32))


def reference_run(agent_cls, seed, cfg, data, steps):
    """What RL_Trainer does for one seed: seed, buffer, agent, then ``steps`` train calls."""
    set_seed(seed)
    buffer = ReplayBuffer(data, ptu.device, seed=seed)
    agent = agent_cls(OB, AC, False, cfg)
    logs = [{k: float(v) for k, v in agent.train(*buffer.sample(cfg.batch_size)).items()} for _ in range(steps)]
    return agent, logs


def fast_run(fast_cls, seeds, cfg, data, steps):
    fast = fast_cls(seeds, OB, AC, cfg, device=ptu.device)
    sampler = MultiSeedSampler(data, ptu.device, seeds)
    logs = [{k: v.clone() for k, v in fast.update(*sampler.sample(cfg.batch_size)).items()} for _ in range(steps)]
    return fast, logs


def assert_seed_matches(fast, s, ref_agent, fast_logs, ref_logs, log_keys, tol=2e-4):
    """Seed ``s`` of ``fast`` against ``ref_agent``: every step's logs (same columns, same order), then every
    part of the agents' state dicts: network weights, optimizer step counts, moments and rates, counters."""
    for step, (fl, rl) in enumerate(zip(fast_logs, ref_logs)):
        assert list(fl) == list(rl), step
        for key in log_keys:
            assert float(fl[key][s]) == pytest.approx(rl[key], rel=tol, abs=tol), (key, step)
    ref_state, fast_state = ref_agent.state_dict(), fast.sync_shell(s).state_dict()
    assert set(fast_state) == set(ref_state)
    for part, ref_part in ref_state.items():
        got = fast_state[part]
        if part.endswith("_opt"):
            assert got["param_groups"][0]["lr"] == pytest.approx(ref_part["param_groups"][0]["lr"]), part
            for idx, st in ref_part["state"].items():
                assert float(got["state"][idx]["step"]) == float(st["step"]), part
                for key in ("exp_avg", "exp_avg_sq"):
                    torch.testing.assert_close(got["state"][idx][key].cpu(), st[key].cpu(), rtol=1e-3, atol=1e-7)
        elif part in ("actor", "critic"):  # the networks (IQL's critic: both Q-nets, their targets, V)
            assert set(got) == set(ref_part), part
            for name, value in ref_part.items():
                torch.testing.assert_close(got[name].cpu(), value.cpu(), rtol=tol, atol=tol, msg=f"{part}.{name}")
        else:  # counters and schedule state
            assert got == ref_part, part


def evaluating_beside(config, seeds, monkeypatch=None):
    """A trainer that evaluates beside training, as it does with the CUDA graphs. With ``monkeypatch`` each
    evaluation is held back until the trainer waits for it, so it runs after training has moved on."""
    if monkeypatch is not None:
        hold_evaluations(multi_seed_trainer.PendingEval, monkeypatch)
    trainer = multi_seed_trainer.MultiSeedTrainer(config, seeds)
    trainer.overlap_eval = True
    return trainer
