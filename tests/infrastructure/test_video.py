"""Evaluation video: rendered in a subprocess, since MuJoCo picks its GL backend at first import."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.run_awac import main as run_awac_main

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
import numpy as np
import imageio.v2 as iio
from cs224r.envs import get_spec
from cs224r.infrastructure.video import render_episode, VideoError
env = get_spec("antmaze-umaze-v0").make_batch(1)
try:
    n = render_episode(env, lambda o: np.zeros((len(o), 8)), sys.argv[1], seed=0, size=96, stride=50)
except VideoError as err:
    print(json.dumps({"skip": str(err)}))
    sys.exit(0)
frames = [f for f in iio.get_reader(sys.argv[1])]
print(json.dumps({"n": n, "decoded": len(frames), "shape": list(frames[0].shape),
                  "std": [float(f.std()) for f in frames], "steps": int(env.t[0])}))
"""


@pytest.mark.slow
def test_video_decodes_with_the_right_frames(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "eval_traj_last.mp4"
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skip" in result:
        pytest.skip(result["skip"])
    # the zero policy never arrives: 700 steps, a frame at reset and every 50th step
    assert result["steps"] == 700
    assert result["n"] == result["decoded"] == 1 + 700 // 50
    assert result["shape"] == [96, 96, 3]
    assert min(result["std"]) > 10  # not blank
    assert out.exists() and not list(tmp_path.glob(".*partial*"))


def test_save_video_is_for_antmaze_only(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MUJOCO_GL", raising=False)  # run_cli sets it; undone after the test
    assert run_awac_main(["--env-name", "pointmass-medium-v0", "--save-video", "--total-steps", "2",
                          "--log-dir", str(tmp_path), "--device", "cpu"]) == 2
    assert "--save-video renders the package's AntMaze envs" in capsys.readouterr().err
