"""``StateNormalizer``: the dataset's state statistics (CORL's epsilon), applied and stored."""

import numpy as np
import pytest
import torch

from cs224r.data.dataset import Dataset, DatasetError
from cs224r.data.normalization import EPS, STATE_KEYS, StateNormalizer, split_policy_state


def _data(n=300, d=4, seed=0):
    rng = np.random.default_rng(seed)
    obs = (rng.normal(size=(n, d)) * [1.0, 10.0, 0.1, 3.0] + [0.0, 5.0, -2.0, 100.0]).astype(np.float32)
    nxt = (obs + rng.normal(scale=0.1, size=obs.shape)).astype(np.float32)
    return Dataset(observations=obs, actions=rng.uniform(-1, 1, size=(n, 2)).astype(np.float32),
                   rewards=np.zeros(n, np.float32), next_observations=nxt, terminals=np.zeros(n, np.float32))


def test_statistics_are_the_mean_and_population_std_plus_corl_epsilon():
    data = _data()
    norm = StateNormalizer.from_dataset(data)
    obs = data.observations.astype(np.float64)
    assert EPS == 1e-3
    np.testing.assert_allclose(norm.mean, obs.mean(0), rtol=1e-6)
    np.testing.assert_allclose(norm.std, obs.std(0) + 1e-3, rtol=1e-6)  # ddof 0, as CORL's numpy std
    assert norm.mean.dtype == norm.std.dtype == np.float32


def test_normalizing_a_dataset_changes_both_observation_arrays_and_nothing_else():
    data = _data()
    norm = StateNormalizer.from_dataset(data)
    out = norm.normalize_dataset(data)
    np.testing.assert_array_equal(out.observations, (data.observations - norm.mean) / norm.std)
    np.testing.assert_array_equal(out.next_observations, (data.next_observations - norm.mean) / norm.std)
    np.testing.assert_allclose(out.observations.mean(0), 0, atol=1e-4)
    raw_std = data.observations.astype(np.float64).std(0)
    np.testing.assert_allclose(out.observations.std(0), raw_std / (raw_std + 1e-3), rtol=1e-4)  # ~1
    for key in ("actions", "rewards", "terminals"):
        assert getattr(out, key) is getattr(data, key)
    assert not np.array_equal(data.observations, out.observations)  # the input is left as it was
    assert out.metadata["normalized_states"] is True


def test_a_constant_column_maps_to_zero_with_std_epsilon():
    data = _data()
    data.observations[:, 2] = 7.5
    norm = StateNormalizer.from_dataset(data)
    assert norm.constant_columns() == [2]
    assert norm.std[2] == pytest.approx(1e-3)
    out = norm(data.observations)
    assert np.isfinite(out).all()
    assert (out[:, 2] == 0).all()


def test_bad_observations_and_widths_are_one_line_errors():
    data = _data()
    data.observations[5, 1] = np.nan
    with pytest.raises(DatasetError, match="NaN or inf"):
        StateNormalizer.from_dataset(data)
    norm = StateNormalizer.from_dataset(_data())
    with pytest.raises(DatasetError, match="columns"):
        norm(np.zeros((3, 5), np.float32))
    with pytest.raises(DatasetError, match="positive std"):
        StateNormalizer(np.zeros(2), np.array([1.0, 0.0]))


def test_state_dict_round_trip_and_policy_file_split():
    norm = StateNormalizer.from_dataset(_data())
    state = {"net.0.weight": torch.ones(2, 2), **norm.state_dict()}
    weights, back = split_policy_state(state)
    assert list(weights) == ["net.0.weight"]
    assert norm.same_as(back)
    assert split_policy_state({"net.0.weight": torch.ones(1)})[1] is None
    with pytest.raises(DatasetError, match="incomplete"):
        StateNormalizer.from_state_dict({STATE_KEYS[0]: torch.zeros(2)})
    obs = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(norm.wrap(lambda o: o * 2)(obs), norm(obs) * 2)
