import argparse

import pytest

from cs224r.agents.awac_agent import AWACAgent
from cs224r.infrastructure.cli import run_cli
from cs224r.infrastructure.config import AWACConfig, BCConfig, IQLConfig, add_config_flags, config_from_args


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


@pytest.mark.parametrize("cls, field, value, message", [
    (AWACConfig, "batch_size", -3, "--batch-size must be positive, got -3"),
    (AWACConfig, "total_steps", 0, "--total-steps must be positive, got 0"),
    (AWACConfig, "eval_episodes", 0, "--eval-episodes must be positive, got 0"),
    (AWACConfig, "fast_graph_steps", 0, "--fast-graph-steps must be positive, got 0"),
    (AWACConfig, "gamma", 1.5, "--gamma must be between 0 and 1, got 1.5"),
    (AWACConfig, "lambda_awac", 0.0, "--lambda-awac must be positive, got 0.0"),
    (AWACConfig, "actor_lr", float("nan"), "--actor-lr must be positive, got nan"),
    (AWACConfig, "actor_lr_schedule", "linear", "--actor-lr-schedule must be one of constant, cosine, got 'linear'"),
    (AWACConfig, "device", "gpu", "--device must be one of auto, cpu, cuda, got 'gpu'"),
    (IQLConfig, "expectile", 1.0, "--expectile must be strictly between 0 and 1, got 1.0"),
    (BCConfig, "filter_top_percent", 0.0, r"--filter-top-percent must be in \(0, 100\], got 0.0"),
])
def test_out_of_range_values_name_the_flag(cls, field, value, message):
    with pytest.raises(ValueError, match=message):
        cls(**{field: value})


def test_edge_values_in_range_are_accepted():
    cfg = IQLConfig(gamma=1.0, tau=0.0, temperature=0.0, grad_clip=0.0, actor_n_layers=0, torch_threads=0)
    assert (cfg.gamma, cfg.tau, cfg.temperature) == (1.0, 0.0, 0.0)
    assert BCConfig(filter_top_percent=100.0).filter_top_percent == 100.0
    assert AWACConfig(device="cuda:1").device == "cuda:1"  # a GPU index, as init_device takes it


def test_bad_value_stops_the_cli_before_writing_anything(tmp_path, capsys):
    code = run_cli(AWACConfig, AWACAgent, ["--env-name", "chain-v0", "--batch-size", "-3", "--log-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "error: --batch-size must be positive, got -3"
    assert not any(tmp_path.iterdir())
