import numpy as np
import pytest

from cs224r.data.dataset import Dataset, DatasetError
from cs224r.data.filtering import episode_slices, filter_top_percent, num_kept


def _episodes_dataset(returns_and_lengths: list[tuple[float, int]]) -> Dataset:
    """Episodes whose rows carry the episode index as observation; the reward sits on the last row."""
    obs, rew, term, tout = [], [], [], []
    for i, (ret, length) in enumerate(returns_and_lengths):
        obs += [[float(i)]] * length
        rew += [0.0] * (length - 1) + [ret]
        term += [0.0] * (length - 1) + [float(i % 2)]  # alternate terminal / timeout endings
        tout += [0.0] * (length - 1) + [float(1 - i % 2)]
    obs = np.asarray(obs, dtype=np.float32)
    return Dataset(observations=obs, actions=np.zeros(len(obs), dtype=np.int64),
                   rewards=np.asarray(rew, dtype=np.float32), next_observations=obs,
                   terminals=np.asarray(term, dtype=np.float32), timeouts=np.asarray(tout, dtype=np.float32),
                   metadata={"source": "test"}).validate()


def test_num_kept_is_ceil():
    assert num_kept(10, 10) == 1
    assert num_kept(11, 10) == 2  # 1.1 -> 2
    assert num_kept(400, 10) == 40
    assert num_kept(3, 50) == 2
    assert num_kept(7, 1) == 1
    assert num_kept(100, 33.3) == 34


def test_keeps_exactly_the_top_percent_by_return():
    spec = [(-5.0, 3), (-1.0, 2), (-9.0, 4), (-2.0, 1), (-7.0, 5), (-1.5, 2), (-3.0, 3)]
    data = _episodes_dataset(spec)
    kept = filter_top_percent(data, 30)  # ceil(0.3 * 7) = 3 episodes: returns -1, -1.5, -2
    ids = [int(kept.observations[s][0, 0]) for s in episode_slices(kept)]
    assert ids == [1, 3, 5]  # original order
    assert len(kept) == 2 + 1 + 2
    np.testing.assert_allclose(sorted(kept.episode_returns()), [-2.0, -1.5, -1.0])
    assert "kept 3" in kept.metadata["filter"]


def test_ties_go_to_earlier_episodes_and_100_is_identity():
    data = _episodes_dataset([(-4.0, 2), (-4.0, 2), (-4.0, 2), (-8.0, 2)])
    kept = filter_top_percent(data, 50)
    assert [int(kept.observations[s][0, 0]) for s in episode_slices(kept)] == [0, 1]
    assert filter_top_percent(data, 100) is data


@pytest.mark.parametrize("bad", [0, -5, 101])
def test_bad_percent(bad):
    with pytest.raises(DatasetError, match="filter-top-percent"):
        filter_top_percent(_episodes_dataset([(-1.0, 2)]), bad)


def test_unfinished_last_episode_counts():
    data = _episodes_dataset([(-1.0, 2), (-3.0, 2)])
    data.timeouts[-1] = 0.0
    data.terminals[-1] = 0.0
    assert [(s.start, s.stop) for s in episode_slices(data)] == [(0, 2), (2, 4)]


def _antmaze_like(goal_rows_per_episode: list[int], length: int = 6) -> Dataset:
    """Collected episodes of ``length`` continuing rows (next obs = next row's obs) whose last rows are
    terminal goal rows, as in D4RL's relabeled AntMaze files; each episode starts somewhere new."""
    obs, nxt, rew, tout = [], [], [], []
    for i, goals in enumerate(goal_rows_per_episode):
        pos = [[100.0 * i + t] for t in range(length + 1)]
        obs += pos[:-1]
        nxt += pos[1:]
        rew += [0.0] * (length - goals) + [1.0] * goals
        tout += [0.0] * (length - 1) + [1.0]
    rew = np.asarray(rew, dtype=np.float32)
    return Dataset(observations=np.asarray(obs, dtype=np.float32), actions=np.zeros((len(obs), 1), np.float32),
                   rewards=rew, next_observations=np.asarray(nxt, dtype=np.float32), terminals=rew.copy(),
                   timeouts=np.asarray(tout, dtype=np.float32), metadata={"source": "test"}).validate()


def test_goal_terminals_that_the_collection_continued_do_not_split_its_episodes():
    data = _antmaze_like([1, 3, 0, 2])
    assert [(s.start, s.stop) for s in episode_slices(data)] == [(0, 6), (6, 12), (12, 18), (18, 24)]
    np.testing.assert_allclose(data.episode_returns(), [1.0, 3.0, 0.0, 2.0])
    kept = filter_top_percent(data, 50)  # the two whole episodes with the most goal rows
    np.testing.assert_array_equal(kept.observations[:, 0], [100, 101, 102, 103, 104, 105, 300, 301, 302, 303, 304, 305])
