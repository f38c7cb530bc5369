"""A sweep's grid (values x seeds) trained as stacked models: per-run files as separate runs write them,
the split into groups, the plan line, and resuming a partly finished grid."""

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from cs224r.agents.iql_agent import IQLAgent
from cs224r.fast import members as stacking
from cs224r.fast.multi_seed_trainer import MultiSeedTrainer
from cs224r.infrastructure import sweep
from cs224r.infrastructure.config import IQLConfig
from tests.helpers import assert_rows_close, read_csv

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--env-name", "line-v0", "--total-steps", "20", "--eval-interval", "5", "--checkpoint-interval", "5",
        "--eval-episodes", "2", "--batch-size", "16", "--actor-size", "8", "--critic-size", "8", "--no-progress",
        "--device", "cpu"]


def _script(name):
    spec = importlib.util.spec_from_file_location(f"_grid_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _plain_runs(tmp_path, values, seeds, param="expectile", extra=()):
    """Each run alone on the plain trainer (``sweep.run_seed``), for comparison."""
    for member in sweep.grid_members("iql", [*TINY, "--exp-name", "g", *extra], [(param, values)], seeds):
        sweep.run_seed("iql", member.train_argv, member.seed, tmp_path / "plain")


def test_iql_expectile_sweep_fast_writes_what_separate_runs_write(tmp_path, capsys):
    """4 runs (2 expectiles x 2 seeds), at most 3 per stacked model: 2 models of 2, each run's CSV, config,
    checkpoint, policy and launch record as the plain sweep writes them; the table reads them."""
    argv = ["--param", "expectile", "--values", "0.5", "0.9", "--seeds", "1", "2", "--fast", "--max-members", "3",
            *TINY, "--exp-name", "g", "--log-dir", str(tmp_path / "fast")]
    assert _script("sweep_iql").main(argv) == 0
    out = capsys.readouterr().out
    assert "plan: 4 run(s) of iql as 2 stacked model(s) of 2+2 (--max-members 3)" in out
    _plain_runs(tmp_path, [0.5, 0.9], [1, 2])
    for zeta in ("0.5", "0.9"):
        for seed in (1, 2):
            fast, plain = (tmp_path / kind / f"g_zeta{zeta}" / f"seed{seed}" for kind in ("fast", "plain"))
            assert_rows_close(read_csv(fast / "metrics.csv"), read_csv(plain / "metrics.csv"))
            assert json.loads((fast / "config.json").read_text())["expectile"] == float(zeta)
            assert {"checkpoint.pt", "policy.pt", "launch.json", "tb"} <= {p.name for p in fast.iterdir()}
            for key, value in torch.load(plain / "policy.pt").items():
                torch.testing.assert_close(torch.load(fast / "policy.pt")[key], value, rtol=1e-4, atol=1e-5)
    table = (tmp_path / "fast" / "g_expectile_sweep.md").read_text()
    assert "| 0.5 | 2 |" in table and "| 0.9 | 2 |" in table and "missing" not in table


def test_a_partly_finished_grid_resumes(tmp_path, capsys, monkeypatch):
    """The first model of the grid finishes, the second is interrupted at step 10; the same command with
    --resume groups the runs by the step they resume from (20 and 10: two models even though one would fit),
    and every run ends as its uninterrupted plain run."""
    main = _script("sweep").main
    argv = ["--algo", "iql", "--one-container", "--grid", "temperature=0.5,3", "--seeds", "1", "2",
            "--max-members", "2", *TINY, "--exp-name", "g", "--log-dir", str(tmp_path / "fast")]
    write = MultiSeedTrainer._write_checkpoints

    def interrupted(self, states):
        write(self, states)
        if self.config.temperature == 3.0 and self.step == 10:
            raise KeyboardInterrupt

    monkeypatch.setattr(MultiSeedTrainer, "_write_checkpoints", interrupted)
    assert main(argv) == 130
    monkeypatch.setattr(MultiSeedTrainer, "_write_checkpoints", write)
    capsys.readouterr()
    argv.remove("--max-members")
    argv.remove("2")
    assert main([*argv, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "as 2 stacked model(s) of 2+2" in out and "from step 10" in out
    _plain_runs(tmp_path, [0.5, 3.0], [1, 2], param="temperature")
    for beta in ("0.5", "3"):
        for seed in (1, 2):
            fast, plain = (tmp_path / kind / f"g_beta{beta}" / f"seed{seed}" for kind in ("fast", "plain"))
            assert_rows_close(read_csv(fast / "metrics.csv"), read_csv(plain / "metrics.csv"))
    assert "g_beta3 seed 2: step 20" in out


def test_runs_with_other_shared_settings_go_to_other_models(tmp_path, capsys):
    """A grid over the batch size (not a per-member hyperparameter): one stacked model per value."""
    members = sweep.grid_members("iql", [*TINY, "--exp-name", "b"], [("batch_size", ["8", "16"])], [1, 2])
    out = sweep.run_grid_fast("iql", members, tmp_path)
    assert [o["step"] for o in out] == [20] * 4
    assert "as 2 stacked model(s) of 2+2" in capsys.readouterr().out
    assert json.loads((tmp_path / "b_batch_size8" / "seed2" / "launch.json").read_text())["fast_members"] == [
        "b_batch_size8/seed1", "b_batch_size8/seed2"]


def test_grid_flags_are_checked_before_anything_runs(capsys):
    args = sweep.parse_launch_args(["--algo", "iql", "--grid", "expectile=0.2,0.9", "--grid", "temperature=3,10",
                                    "--seeds", "1", "2", "--exp-name", "x"], prog="t", multi_seed=True,
                                   one_container=True)
    labels = args.labels()
    assert len(labels) == 8 and labels[0] == "x_zeta0.2_beta3 seed 1" and labels[-1] == "x_zeta0.9_beta10 seed 2"
    for bad, message in ((["--grid", "expectile=1.5"], "--expectile must be strictly between 0 and 1"),
                         (["--grid", "expectile"], "FIELD=V1,V2"),
                         (["--grid", "seed=1,2"], "not a training flag a grid can sweep"),
                         (["--grid", "expectile=0.5", "--expectile", "0.7"], "give it once"),
                         (["--grid", "batch_size=a"], "cannot be 'a'"),
                         (["--one-container", "--max-members", "0"], "at least 1")):
        with pytest.raises(SystemExit):
            sweep.parse_launch_args(["--algo", "iql", *bad], prog="t", multi_seed=True, one_container=True)
        assert message in capsys.readouterr().err, bad


def test_plan_groups_and_capacity():
    assert stacking.plan_groups(["a"] * 5 + ["b"], 2) == [[0, 1], [2, 3], [4], [5]]
    assert stacking.plan_groups(["a", "b", "a", "a"], 3) == [[0, 2, 3], [1]]
    assert stacking.plan_groups(["a"] * 12, 5) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]  # as even as fits
    assert stacking.capacity(per_member=10, shared=20, free=100) == 3  # half the free memory, less the data
    assert stacking.capacity(per_member=10, shared=20, free=100, max_members=2) == 2
    assert stacking.capacity(per_member=10, shared=200, free=100) == 1


def test_member_bytes_counts_the_real_networks():
    """Without activations the estimate is the agent's own parameter count: 5 copies (weights, gradient, two
    Adam moments, clipping) of the trained nets and the two target Q-nets, in float32."""
    cfg = IQLConfig(actor_n_layers=3, actor_size=24, critic_n_layers=2, critic_size=40)
    agent = IQLAgent(7, 3, False, cfg)
    count = lambda *mods: sum(p.numel() for m in mods for p in m.parameters())  # noqa: E731
    trained = count(agent.actor, agent.critic.q_net, agent.critic.q_net2, agent.critic.v_net)
    targets = count(agent.critic.q_net_target, agent.critic.q_net2_target)
    assert stacking.member_bytes(cfg, 7, 3, graph_steps=0) == 4 * (5 * trained + targets)
    assert stacking.member_bytes(cfg, 7, 3, graph_steps=10) > stacking.member_bytes(cfg, 7, 3, graph_steps=1)


def test_members_with_their_own_hyperparameters_evaluate_in_one_batch(tmp_path):
    """One actor call per simulator step for every member (different expectiles and temperatures) at once."""
    base = IQLConfig(env_name="line-v0", exp_name="e", log_dir=str(tmp_path), total_steps=5, eval_episodes=3,
                     batch_size=16, actor_size=8, critic_size=8, device="cpu", progress=False)
    configs = [dataclasses.replace(base, seed=s, exp_name=f"e{z}", expectile=z, temperature=t)
               for s, z, t in ((1, 0.5, 1.0), (1, 0.9, 10.0), (2, 0.7, 3.0))]
    trainer = MultiSeedTrainer(configs)
    shapes = []
    act = trainer.agent.act_deterministic
    trainer.agent.act_deterministic = lambda obs, actor=None: (shapes.append(tuple(obs.shape)), act(obs, actor))[1]
    results = trainer.evaluate()
    trainer._release()
    assert shapes and all(shape[:2] == (3, 3) for shape in shapes)  # [members, episodes, ob_dim]
    assert len(shapes) == max(r["Eval_AverageEpLen"] for r in results)  # one call per step, not per member


def test_a_grid_larger_than_memory_is_split_into_as_few_models_as_fit(tmp_path, capsys, monkeypatch):
    """Free memory for 2 members (half the free memory, less the dataset): 4 runs become 2 models of 2."""
    members = sweep.grid_members("iql", [*TINY, "--total-steps", "5", "--exp-name", "m"],
                                 [("expectile", ["0.5", "0.9"])], [1, 2])
    cfg = sweep.make_config("iql", members[0].train_argv, seed=1)
    per, data = stacking.member_bytes(cfg, 1, 1), sweep._dataset_bytes(cfg)
    assert data > 0
    monkeypatch.setattr(stacking, "free_bytes", lambda device: int(2 * (data + 2.5 * per)))
    out = sweep.run_grid_fast("iql", members, tmp_path)
    assert [o["step"] for o in out] == [5] * 4
    assert "as 2 stacked model(s) of 2+2 (up to 2 fit:" in capsys.readouterr().out
