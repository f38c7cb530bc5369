import argparse
import math

import pytest
import torch

from cs224r.agents.awac_agent import AWACAgent
from cs224r.agents.bc_agent import BCAgent
from cs224r.infrastructure.config import AWACConfig, BCConfig, IQLConfig, add_config_flags, config_from_args
from cs224r.infrastructure.rl_trainer import RL_Trainer
from cs224r.infrastructure.schedules import LRSchedule, cosine_lr
from scripts.run_awac import main as run_awac_main

torch.set_num_threads(1)


def _config(cls, argv, env_defaults=None):
    parser = argparse.ArgumentParser()
    add_config_flags(parser, cls)
    return config_from_args(cls, parser.parse_args(argv), env_defaults)


def test_cosine_lr_by_hand():
    assert cosine_lr(1e-4, 0, 100) == pytest.approx(1e-4)
    assert cosine_lr(1e-4, 50, 100) == pytest.approx(0.5e-4)
    assert cosine_lr(1e-4, 25, 100) == pytest.approx(1e-4 * (1 + math.cos(math.pi / 4)) / 2)
    assert cosine_lr(1e-4, 100, 100) == pytest.approx(0.0, abs=1e-20)
    assert cosine_lr(1e-4, 150, 100) == pytest.approx(0.0, abs=1e-20)
    with pytest.raises(ValueError, match="total_steps"):
        cosine_lr(1e-4, 0, 0)


def test_schedule_sets_the_optimizer_and_resumes():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    sched = LRSchedule(opt, "cosine", total_steps=4)
    used = [sched.step() for _ in range(3)]
    assert used == pytest.approx([2.0, 1.0 + math.cos(math.pi / 4), 1.0])
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0)
    again = LRSchedule(torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2.0), "cosine", 4)
    again.load_state_dict(sched.state_dict())
    assert again.step() == pytest.approx(1.0 - math.cos(math.pi / 4))
    assert LRSchedule(opt, "constant").step() == 2.0
    with pytest.raises(ValueError, match="cosine"):
        LRSchedule(opt, "linear")


def test_cs224r_preset_antmaze_values():
    cfg = _config(AWACConfig, ["--preset", "cs224r", "--env-name", "point-reach-v0"])
    assert (cfg.total_steps, cfg.eval_interval, cfg.eval_episodes) == (300_000, 50_000, 50)
    assert (cfg.actor_n_layers, cfg.actor_size, cfg.actor_lr, cfg.actor_lr_schedule) == (4, 512, 1e-4, "cosine")
    assert (cfg.critic_n_layers, cfg.critic_size, cfg.critic_lr) == (2, 256, 3e-4)
    assert (cfg.grad_clip, cfg.gamma, cfg.tau, cfg.batch_size) == (10.0, 0.99, 0.005, 256)
    assert cfg.action_clip == 1 - 1e-5
    assert cfg.lambda_awac == 0.3  # the handout's value stays


def test_iql_defaults_do_not_clip_as_in_the_paper_and_the_course_preset_does():
    assert _config(IQLConfig, []).grad_clip == 0.0
    assert _config(IQLConfig, ["--preset", "cs224r"]).grad_clip == 10.0
    assert _config(IQLConfig, ["--grad-clip", "10"]).grad_clip == 10.0


def test_cs224r_preset_pointmass_values_beat_env_defaults():
    env_defaults = {"total_steps": 1, "gamma": 0.5, "plot_interval": 7}
    cfg = _config(AWACConfig, ["--preset", "cs224r", "--env-name", "pointmass-medium-v0"], env_defaults)
    assert (cfg.total_steps, cfg.eval_interval, cfg.eval_episodes) == (50_000, 2_000, 20)
    assert (cfg.critic_n_layers, cfg.critic_size, cfg.gamma) == (2, 64, 0.95)
    assert (cfg.actor_n_layers, cfg.actor_size, cfg.actor_lr_schedule) == (4, 512, "cosine")
    assert cfg.plot_interval == 7  # env defaults the preset does not name survive


def test_explicit_flags_override_the_preset():
    cfg = _config(AWACConfig, ["--preset", "cs224r", "--actor-size", "128", "--total-steps", "10",
                               "--actor-lr-schedule", "constant", "--gamma", "0.9"])
    assert (cfg.actor_size, cfg.total_steps, cfg.actor_lr_schedule, cfg.gamma) == (128, 10, "constant", 0.9)
    assert cfg.actor_n_layers == 4 and cfg.preset == "cs224r"
    plain = _config(AWACConfig, [])
    assert (plain.actor_n_layers, plain.actor_size, plain.actor_lr_schedule) == (2, 256, "constant")


def test_preset_skips_fields_the_config_lacks():
    cfg = _config(BCConfig, ["--preset", "cs224r"])
    assert (cfg.actor_n_layers, cfg.actor_size, cfg.actor_lr_schedule) == (4, 512, "cosine")
    assert not hasattr(cfg, "critic_size")


def test_unknown_preset_is_a_clean_error(tmp_path, capsys):
    assert run_awac_main(["--preset", "nope", "--log-dir", str(tmp_path)]) == 2
    assert "unknown preset 'nope'; known presets: corl, cs224r" in capsys.readouterr().err


def test_awac_logs_the_cosine_actor_lr(tmp_path):
    cfg = AWACConfig(env_name="pointmass-medium-v0", total_steps=10, eval_interval=10, eval_episodes=2,
                     actor_size=16, critic_size=16, actor_lr=1e-3, actor_lr_schedule="cosine",
                     log_dir=str(tmp_path), device="cpu", progress=False, plot_interval=0)
    trainer = RL_Trainer(cfg, AWACAgent)
    rows = trainer.run()
    expected_mean = sum(cosine_lr(1e-3, i, 10) for i in range(10)) / 10
    assert rows[-1]["Actor LR"] == pytest.approx(expected_mean, rel=1e-5)
    assert trainer.agent.actor.optimizer.param_groups[0]["lr"] == pytest.approx(cosine_lr(1e-3, 9, 10))
    assert trainer.agent.state_dict()["actor_lr"] == {"num_updates": 10}


def test_action_clip_applies_to_continuous_data(tmp_path):
    cfg = BCConfig(env_name="point-reach-v0", total_steps=1, eval_interval=1, eval_episodes=1, action_clip=0.5,
                   log_dir=str(tmp_path), device="cpu", progress=False)
    trainer = RL_Trainer(cfg, BCAgent)
    acts = trainer.buffer.tensors["actions"]
    assert float(acts.abs().max()) == pytest.approx(0.5)


def test_fast_refuses_what_it_does_not_implement(tmp_path, capsys):
    # the preset itself runs with --fast (tests/fast); its evaluation video does not
    pytest.importorskip("cs224r.fast", reason="the students' starter tree has no cs224r/fast")
    argv = ["--preset", "cs224r", "--fast", "--save-video", "--seeds", "1", "2", "--log-dir", str(tmp_path)]
    assert run_awac_main(argv) == 2
    assert "--save-video" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_fast_compile_without_fast_is_refused(tmp_path, capsys):
    assert run_awac_main(["--env-name", "line-v0", "--fast-compile", "--log-dir", str(tmp_path)]) == 2
    assert "add --fast" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_constant_schedule_adds_no_column():
    agent = AWACAgent(2, 5, True, AWACConfig(actor_size=8, critic_size=8))
    batch = (torch.rand(4, 2), torch.tensor([0, 1, 2, 3]), -torch.ones(4), torch.rand(4, 2), torch.zeros(4))
    assert "Actor LR" not in agent.train(*batch)
    bc = BCAgent(2, 5, True, BCConfig(actor_size=8, actor_lr_schedule="cosine", total_steps=5))
    assert bc.train(batch[0], batch[1])["Actor LR"] == pytest.approx(3e-4)
