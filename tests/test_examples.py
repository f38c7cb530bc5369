"""The examples run: the D4RL-style IQL script on a small budget, through gymnasium and cs224r.d4rl only."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from cs224r.data.d4rl_hdf5 import write_d4rl_hdf5
from tests.test_d4rl import antmaze_file

pytestmark = pytest.mark.filterwarnings("ignore:.*is out of date:DeprecationWarning")
ROOT = Path(__file__).resolve().parents[1]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"_example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_d4rl_style_iql_trains_and_scores(tmp_path, capsys):
    example = load("d4rl_style_iql")
    path = tmp_path / "umaze.hdf5"
    write_d4rl_hdf5(path, antmaze_file())
    score = example.train(example.Config(dataset=str(path), steps=100, eval_episodes=1, hidden=32, normalize=True))
    assert score in (0.0, 100.0)  # one episode: D4RL's score is its success
    out = capsys.readouterr().out
    assert "step 100:" in out and "cs224r/antmaze-umaze-v0: normalized score" in out
