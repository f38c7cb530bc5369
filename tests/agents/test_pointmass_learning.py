"""Learning tests on the Pointmass stitching problem: offline RL stitches, filtered BC cannot."""

import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.agents.bc_agent import BCAgent
from cs224r.agents.iql_agent import IQLAgent
from cs224r.infrastructure.config import AWACConfig, BCConfig, IQLConfig
from cs224r.infrastructure.rl_trainer import train

torch.set_num_threads(1)  # tiny nets: extra threads only add contention on a shared CPU

COMMON = dict(env_name="pointmass-medium-v0", eval_episodes=10, device="cpu", progress=False, seed=0,
              actor_size=64, critic_size=64)


@pytest.fixture(scope="module")
def filtered_bc_return(tmp_path_factory):
    rows = train(BCConfig(**{k: v for k, v in COMMON.items() if k != "critic_size"}, exp_name="bc",
                          filter_top_percent=10, total_steps=600, eval_interval=300,
                          log_dir=str(tmp_path_factory.mktemp("bc"))), BCAgent)
    bc = rows[-1]["Eval_AverageReturn"]
    # filtered BC only sees the trajectories that end near the goal, so from the start it never arrives
    assert bc < -100, bc
    return bc


@pytest.mark.slow
def test_awac_beats_filtered_bc_on_stitching(tmp_path, filtered_bc_return):
    rows = train(AWACConfig(**COMMON, exp_name="awac", total_steps=1500, eval_interval=500, gamma=0.95,
                            actor_lr=1e-3, critic_lr=1e-3, log_dir=str(tmp_path)), AWACAgent)
    awac = rows[-1]["Eval_AverageReturn"]
    # AWAC combines pieces of trajectories: the route takes about 18 steps
    assert awac > -60, awac
    assert rows[-1]["Eval_SuccessRate"] >= 0.7
    assert awac > filtered_bc_return + 50


@pytest.mark.slow
def test_iql_beats_filtered_bc_on_stitching(tmp_path, filtered_bc_return):
    rows = train(IQLConfig(**COMMON, exp_name="iql", total_steps=3000, eval_interval=1000, gamma=0.95,
                           actor_lr=1e-3, critic_lr=1e-3, value_lr=1e-3, actor_lr_schedule="constant",
                           log_dir=str(tmp_path)), IQLAgent)
    iql = rows[-1]["Eval_AverageReturn"]
    assert iql > -90, iql  # about -26 here; the noisier learner of the two at this budget
    assert iql > filtered_bc_return + 50
