"""The handout: blanking, hints, what the starter tree holds, and the starter tree failing per blank."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cs224r.infrastructure.handout import HINTS, STUDENT_TESTS, HandoutError, blank_source, make_handout

ROOT = Path(__file__).resolve().parent.parent
AWAC_BLANKS = {"exp_weights", "critic_loss", "estimate_advantage", "next_actions", "actor_update"}
IQL_BLANKS = {"expectile_loss", "iql_value_loss", "iql_q_loss", "iql_exp_weights", "iql_advantage"}


def test_blank_source_replaces_block_with_todo_and_loud_placeholder():
    src = "def f(x):\n    # BEGIN SOLUTION exp_weights\n    y = x * 2\n    # END SOLUTION\n    return y\n"
    out, blanks = blank_source(src)
    assert "y = x * 2" not in out
    assert "    # TODO(exp_weights): AWAC weights" in out
    assert 'raise NotImplementedError("TODO(exp_weights)' in out
    assert [b.name for b in blanks] == ["exp_weights"] and blanks[0].line == 2
    namespace: dict = {}
    exec(out, namespace)
    with pytest.raises(NotImplementedError, match=r"TODO\(exp_weights\)"):
        namespace["f"](1)


@pytest.mark.parametrize("src, problem", [
    ("# BEGIN SOLUTION no_such_blank\nx = 1\n# END SOLUTION\n", "no hint"),
    ("# BEGIN SOLUTION critic_loss\nx = 1\n", "no '# END SOLUTION'"),
    ("x = 1\n# END SOLUTION\n", "without a BEGIN"),
    ("# BEGIN SOLUTION critic_loss\n# BEGIN SOLUTION next_actions\n# END SOLUTION\n", "nested"),
])
def test_malformed_markers_are_reported(src, problem):
    with pytest.raises(HandoutError, match=problem):
        blank_source(src, "f.py")


def test_handout_of_this_tree_blanks_every_edit_and_ships_the_students_files(tmp_path):
    starter = tmp_path / "starter"
    blanks = make_handout(ROOT, starter)
    assert {b.name for b in blanks} == AWAC_BLANKS | IQL_BLANKS | {"bc_loss"}
    assert set(HINTS) == {b.name for b in blanks}
    for py in (starter / "cs224r").rglob("*.py"):
        assert not any(line.strip().startswith("# BEGIN SOLUTION") for line in py.read_text().splitlines()), py
    assert not (starter / "cs224r" / "fast").exists(), "the batched solutions must not ship"
    for instructors_only in ("scripts/autograder_mistakes.py", "scripts/check_autograder.py",
                             "tests/test_autograder.py", "tests/test_handout.py", "docs/students_readme.md",
                             "tests/test_examples.py"):
        assert not (starter / instructors_only).exists(), instructors_only
    readme = (starter / "README.md").read_text()
    assert "BEGIN SOLUTION" not in readme and "make_handout" not in readme, "the instructors' README shipped"
    for must in ("pip install modal", "modal setup", "modal run --detach modal_train.py", "modal_train_para.py",
                 "modal volume get", "scripts/make_tables.py", *sorted(AWAC_BLANKS)):
        assert must in readme, f"the students' README does not mention {must}"
    assert " ".join(STUDENT_TESTS) in readme, "the students' README must give the students' test command"
    for name in ("modal_train.py", "modal_train_para.py", "scripts/make_tables.py", *STUDENT_TESTS):
        assert (starter / name).exists(), name
    with pytest.raises(HandoutError, match="already exists"):
        make_handout(ROOT, starter)


def test_starter_tree_fails_once_per_blank_naming_it(tmp_path):
    """What the students see first: every blank's tests fail, and say which TODO it is."""
    starter = tmp_path / "starter"
    blanks = make_handout(ROOT, starter)
    env = {**os.environ, "PYTHONPATH": str(starter), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *STUDENT_TESTS],
                          cwd=starter, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-3000:]
    for name in {b.name for b in blanks}:  # actor_update's tests stop at next_actions, the blank before it
        assert f"TODO({name})" in proc.stdout or f"{name}: NotImplementedError" in proc.stdout, (
            f"no failing test names {name}")


@pytest.mark.parametrize("multi_seed, extra, seeds", [(False, ["--seed", "1"], [1]), (True, [], [1, 2, 3])])
def test_the_readmes_modal_commands_parse(multi_seed, extra, seeds):
    """modal_train.py / modal_train_para.py with the students' README's arguments: algo, task, name, wandb, seeds."""
    from cs224r.infrastructure import sweep

    argv = ["--algo", "awac", "--env-name", "antmaze-umaze-v0", "--exp-name", "awac_antmaze_umaze", "--use-wandb",
            *extra]
    args = sweep.parse_launch_args(argv, prog="t", multi_seed=multi_seed, gpu=True, fixed_log_dir=True)
    assert (args.algo, args.exp_name, args.use_wandb, args.seeds) == ("awac", "awac_antmaze_umaze", True, seeds)
    readme = (ROOT / "docs" / "students_readme.md").read_text()
    assert "--exp-name awac_antmaze_umaze --use-wandb --seed 1" in readme
    assert f"modal volume get {sweep.RESULTS_VOLUME} /awac_antmaze_umaze/ ./data/" in readme
