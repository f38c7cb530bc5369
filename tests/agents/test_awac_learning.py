"""AWAC reaches the known optimal return of the toy tasks from random data (seconds on a CPU)."""

import numpy as np
import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.envs import evaluate, get_spec
from cs224r.infrastructure.config import AWACConfig
from cs224r.infrastructure.replay_buffer import ReplayBuffer


def _train_and_eval(env_name: str, steps: int) -> np.ndarray:
    spec = get_spec(env_name)
    cfg = AWACConfig(actor_n_layers=2, actor_size=32, critic_n_layers=2, critic_size=32, gamma=0.9,
                     actor_lr=3e-3, critic_lr=3e-3, tau=0.05, lambda_awac=0.3)
    agent = AWACAgent(spec.obs_dim, spec.act_dim, spec.discrete, cfg)
    buffer = ReplayBuffer(spec.load_dataset(), "cpu", seed=0)
    for _ in range(steps):
        agent.train(*buffer.sample(64))
    result = evaluate(lambda o: agent.actor.get_action(o, deterministic=True), spec.make_batch(4))
    return result["returns"]


@pytest.mark.parametrize("env_name", ["chain-v0", "line-v0"])
def test_awac_reaches_optimal_return_from_random_data(env_name):
    torch.manual_seed(0)
    returns = _train_and_eval(env_name, steps=800)
    assert np.all(returns == -3.0), returns  # optimal: three -1 steps, then 0 at the goal


def test_behaviour_cloning_of_the_same_data_does_not():
    """The data is uniformly random, so a policy without advantage weights stays put."""
    torch.manual_seed(0)
    spec = get_spec("line-v0")
    cfg = AWACConfig(actor_n_layers=2, actor_size=32, critic_n_layers=2, critic_size=32, actor_lr=3e-3,
                     lambda_awac=1e9)  # exp(A / huge) == 1: plain log-likelihood
    agent = AWACAgent(spec.obs_dim, spec.act_dim, spec.discrete, cfg)
    buffer = ReplayBuffer(spec.load_dataset(), "cpu", seed=0)
    for _ in range(300):
        agent.train(*buffer.sample(64))
    returns = evaluate(lambda o: agent.actor.get_action(o, deterministic=True), spec.make_batch(2))["returns"]
    assert np.all(returns < -3.0)
