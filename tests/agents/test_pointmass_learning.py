"""Learning test on the Pointmass stitching problem: offline RL stitches, filtered BC cannot."""

import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.agents.bc_agent import BCAgent
from cs224r.infrastructure.config import AWACConfig, BCConfig
from cs224r.infrastructure.rl_trainer import train

torch.set_num_threads(1)  # tiny nets: extra threads only add contention on a shared CPU

COMMON = dict(env_name="pointmass-medium-v0", eval_episodes=10, device="cpu", progress=False, seed=0)


@pytest.mark.slow
def test_awac_beats_filtered_bc_on_stitching(tmp_path):
    bc_rows = train(BCConfig(**COMMON, exp_name="bc", filter_top_percent=10, total_steps=600, eval_interval=300,
                             actor_size=64, log_dir=str(tmp_path)), BCAgent)
    awac_rows = train(AWACConfig(**COMMON, exp_name="awac", total_steps=1500, eval_interval=500, actor_size=64,
                                 critic_size=64, gamma=0.95, actor_lr=1e-3, critic_lr=1e-3,
                                 log_dir=str(tmp_path)), AWACAgent)
    bc, awac = bc_rows[-1]["Eval_AverageReturn"], awac_rows[-1]["Eval_AverageReturn"]
    # filtered BC only sees the trajectories that end near the goal, so from the start it never arrives
    assert bc < -100, bc
    # AWAC combines pieces of trajectories: the route takes about 18 steps
    assert awac > -60, awac
    assert awac_rows[-1]["Eval_SuccessRate"] >= 0.7
    assert awac > bc + 50
