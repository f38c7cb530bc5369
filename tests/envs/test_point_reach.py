import numpy as np

from cs224r.envs import point_reach as pr


def test_step_moves_by_half_the_action_plus_small_noise_and_walls_cancel_moves():
    env = pr.PointReachBatch(2, start_noise=0.0)
    env.reset(seed=0)
    env.pos = np.array([[5.0, 5.0], [0.1, 5.0]])
    obs, reward, term, trunc, info = env.step(np.array([[1.0, -0.5], [-1.0, 0.0]]))
    assert np.allclose(env.pos[0], [5.5, 4.75], atol=0.25)  # 0.5 * action, noise std 0.05
    assert np.allclose(env.pos[1], [0.1, 5.0])  # the move would leave the room: cancelled
    assert np.allclose(obs, env.pos / 10) and obs.dtype == np.float32
    assert reward.tolist() == [-1.0, -1.0] and not term.any() and not trunc.any()


def test_goal_gives_zero_reward_and_ends_the_episode_and_time_limit_truncates():
    env = pr.PointReachBatch(2, start_noise=0.0)
    env.reset(seed=0)
    env.pos = np.array([pr.GOAL - [0.4, 0.0], [5.0, 5.0]])
    _, reward, term, trunc, info = env.step(np.zeros((2, 2)))
    assert reward.tolist() == [0.0, -1.0] and term.tolist() == [True, False] and info["success"][0]
    env.t[:] = pr.MAX_STEPS - 1
    _, _, term, trunc = env.step(np.zeros((2, 2)))[:4]
    assert trunc[1] and not term[1]


def test_dataset_episodes_are_contiguous_and_end_at_terminal_or_timeout():
    data = pr.generate_dataset(num_episodes=20, seed=3)
    ends = np.flatnonzero((data.terminals > 0) | (data.timeouts > 0))
    assert len(ends) == 20 and ends[-1] == len(data) - 1
    starts = np.concatenate([[0], ends[:-1] + 1])
    inner = np.setdiff1d(np.arange(len(data)), ends)
    assert np.allclose(data.next_observations[inner], data.observations[inner + 1])  # chained within episodes
    assert np.all(np.linalg.norm(data.observations[starts] * 10 - pr.START, axis=1) <= np.sqrt(2) + 1e-6)
    assert set(np.unique(data.rewards)) <= {-1.0, 0.0}
    assert np.array_equal(data.rewards == 0, data.terminals > 0)
    again = pr.generate_dataset(num_episodes=20, seed=3)
    assert data.checksum() == again.checksum()
