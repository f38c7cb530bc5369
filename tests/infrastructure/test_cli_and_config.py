import argparse

import pytest

from cs224r.agents.awac_agent import AWACAgent
from cs224r.infrastructure.cli import run_cli
from cs224r.infrastructure.config import AWACConfig, add_config_flags, config_from_args


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_config_flags(parser, AWACConfig)
    return parser.parse_args(argv)


def test_every_config_field_is_a_flag():
    args = _parse(["--lambda-awac", "0.1", "--total-steps", "7", "--dataset", "x.hdf5", "--no-progress"])
    cfg = config_from_args(AWACConfig, args)
    assert (cfg.lambda_awac, cfg.total_steps, cfg.dataset, cfg.progress) == (0.1, 7, "x.hdf5", False)


def test_precedence_defaults_then_env_defaults_then_flags():
    cfg = config_from_args(AWACConfig, _parse(["--eval-interval", "5"]), {"total_steps": 99, "eval_interval": 11})
    assert cfg.total_steps == 99 and cfg.eval_interval == 5 and cfg.batch_size == 256


def test_unknown_env_is_a_one_line_error(capsys):
    assert run_cli(AWACConfig, AWACAgent, ["--env-name", "antmaze-umaze-v7"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown env name 'antmaze-umaze-v7'" in err and "point-reach-v0" in err and "\n" not in err


def test_cli_runs_a_tiny_job(tmp_path, capsys):
    code = run_cli(AWACConfig, AWACAgent, ["--env-name", "chain-v0", "--total-steps", "20", "--eval-interval", "10",
                                          "--log-dir", str(tmp_path), "--no-progress", "--device", "cpu"])
    assert code == 0
    assert "final Eval_AverageReturn" in capsys.readouterr().out
    assert (tmp_path / "awac" / "seed1" / "metrics.csv").exists()


def test_missing_dataset_file_is_a_clear_error(tmp_path, capsys):
    code = run_cli(AWACConfig, AWACAgent, ["--env-name", "D4RL/antmaze/umaze-v1", "--dataset",
                                          str(tmp_path / "nope.hdf5"), "--log-dir", str(tmp_path)])
    assert code == 2
    assert "nope.hdf5" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--total-steps", "abc"], ["--no-such-flag"]])
def test_bad_flags_exit_with_usage(bad):
    with pytest.raises(SystemExit):
        _parse(bad)
