import pytest

from cs224r.envs.antmaze.sim import default_threads


def test_sim_threads_env_override(monkeypatch):
    monkeypatch.setenv("CS224R_SIM_THREADS", "7")
    assert default_threads() == 7
    monkeypatch.setenv("CS224R_SIM_THREADS", "many")
    with pytest.raises(ValueError, match="CS224R_SIM_THREADS"):
        default_threads()
    monkeypatch.delenv("CS224R_SIM_THREADS")
    assert 1 <= default_threads() <= 4
