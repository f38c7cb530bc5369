import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.envs.pointmass import MAZE
from cs224r.infrastructure import pytorch_util as ptu
from cs224r.infrastructure.config import AWACConfig
from cs224r.infrastructure.rl_trainer import train
from cs224r.infrastructure.visualize import (
    PointmassPictures,
    grid_observations,
    plot_dataset,
    rollout_positions,
    state_values,
)
from cs224r.tasks import load_dataset
from scripts.run_awac import main as run_awac_main

torch.set_num_threads(1)


def _assert_picture(path):
    assert path.exists(), path
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 200
    rgb = img[..., :3].reshape(-1, 3)
    assert rgb.std() > 0.1  # not a blank image
    assert len(np.unique((rgb * 255).astype(np.uint8), axis=0)) > 50  # a plot, not a few flat colours


def test_dataset_picture(tmp_path):
    out = plot_dataset(load_dataset("pointmass-medium-v0"), tmp_path / "ds.png")
    _assert_picture(out)


def test_awac_pictures_every_interval(tmp_path):
    cfg = AWACConfig(env_name="pointmass-medium-v0", total_steps=20, eval_interval=10, eval_episodes=3,
                     actor_size=16, critic_size=16, log_dir=str(tmp_path), device="cpu", progress=False)
    train(cfg, AWACAgent, callbacks=[PointmassPictures(interval=20, num_episodes=3)])
    pics = tmp_path / "awac" / "seed1" / "pictures"
    assert sorted(p.name for p in pics.iterdir()) == ["value_step20.png", "visitation_step20.png"]
    for p in pics.iterdir():
        _assert_picture(p)


def test_bc_gets_visitation_only_through_the_cli_flag(tmp_path):
    from scripts.run_bc import main as run_bc_main

    assert run_bc_main(["--env-name", "pointmass-medium-v0", "--total-steps", "4", "--eval-interval", "2",
                        "--eval-episodes", "2", "--plot-interval", "2", "--log-dir", str(tmp_path),
                        "--device", "cpu", "--no-progress"]) == 0
    names = sorted(p.name for p in (tmp_path / "bc" / "seed1" / "pictures").iterdir())
    assert names == ["visitation_step2.png", "visitation_step4.png"]


def test_state_values_are_max_over_actions_of_min_q():
    ptu.init_device("cpu")
    agent = AWACAgent(2, 5, True, AWACConfig(actor_size=8, critic_size=8))
    obs, wall = grid_observations(per_cell=2)
    assert obs.shape == (12, 12, 2) and wall.shape == (12, 12)
    assert wall.sum() == 4 * int(MAZE.walls.sum())
    flat = obs.reshape(-1, 2)
    v = state_values(agent, flat)
    with torch.no_grad():
        ob = torch.as_tensor(flat)
        q = torch.minimum(agent.critic.q_net(ob), agent.critic.q_net2(ob)).max(dim=1).values.numpy()
    np.testing.assert_allclose(v, q, rtol=1e-6)


def test_rollout_positions_stay_in_free_space():
    pos = rollout_positions(lambda o: np.full(len(o), 3), num_episodes=2, seed=0)  # always +y
    assert not MAZE.blocked(pos).any()
    assert pos.shape[1] == 2 and len(pos) > 2


def test_interval_that_is_not_a_multiple_of_the_eval_interval(tmp_path):
    cfg = AWACConfig(env_name="pointmass-medium-v0", total_steps=9, eval_interval=2, eval_episodes=2,
                     actor_size=8, critic_size=8, log_dir=str(tmp_path), device="cpu", progress=False)
    train(cfg, AWACAgent, callbacks=[PointmassPictures(interval=3, num_episodes=2)])
    names = sorted(p.name for p in (tmp_path / "awac" / "seed1" / "pictures").glob("visitation*"))
    assert names == ["visitation_step4.png", "visitation_step6.png", "visitation_step9.png"]


def test_plot_interval_must_be_positive():
    with pytest.raises(ValueError, match="plot-interval"):
        PointmassPictures(0)


def test_cli_writes_pictures_for_pointmass(tmp_path):
    assert run_awac_main(["--env-name", "pointmass-medium-v0", "--total-steps", "6", "--eval-interval", "3",
                          "--eval-episodes", "2", "--plot-interval", "3", "--actor-size", "16",
                          "--log-dir", str(tmp_path), "--device", "cpu", "--no-progress"]) == 0
    pics = tmp_path / "awac" / "seed1" / "pictures"
    assert (pics / "value_step6.png").exists() and (pics / "visitation_step3.png").exists()


def test_state_values_use_iqls_value_net():
    from cs224r.agents.iql_agent import IQLAgent
    from cs224r.infrastructure.config import IQLConfig

    ptu.init_device("cpu")
    agent = IQLAgent(2, 5, True, IQLConfig(actor_size=8, critic_size=8))
    obs = np.random.default_rng(0).random((7, 2)).astype(np.float32)
    with torch.no_grad():
        expected = agent.critic.get_v(torch.as_tensor(obs)).numpy()
    np.testing.assert_allclose(state_values(agent, obs), expected, rtol=1e-6)
