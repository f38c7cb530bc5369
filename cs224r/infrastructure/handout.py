"""Turn the solution tree into the students' starter tree.

Solution code sits between ``# BEGIN SOLUTION <name>`` and ``# END SOLUTION`` lines. In the starter
tree each block becomes a ``# TODO(<name>)`` comment (what to compute, the tensors in scope and their
shapes) followed by a ``raise NotImplementedError`` that names the blank, so a missing edit fails at
the exact spot instead of returning ``None`` that crashes three calls later.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION (?P<name>[A-Za-z0-9_]+)\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")

# What each blank asks for. Keys are the names after BEGIN SOLUTION.
HINTS: dict[str, str] = {
    "exp_weights": (
        "AWAC weights: exp_weights = exp(adv_n / self.lambda_awac), one per sample (torch.exp).\n"
        "In scope: adv_n [B] (no gradient), log_prob_n [B]. The clamp at max_weight follows below."
    ),
    "critic_loss": (
        "TD target and both critic losses. Under torch.no_grad(): target = reward_n + self.gamma *\n"
        "(1 - terminal_n) * self.get_target_q(next_ob_no, next_actions) (the TARGET nets). Then\n"
        "q1 = self._get_q_value(self.q_net, ob_no, ac_na), q2 the same with self.q_net2,\n"
        "loss = self.mse_loss(q1, target), loss2 = self.mse_loss(q2, target). All [B] but the losses."
    ),
    "estimate_advantage": (
        "Advantage, all under torch.no_grad(): q_sa = self.critic.get_q(ob_no, ac_na) (ONLINE nets),\n"
        "ac_pi = one sample of self.actor(ob_no), v_s = self.critic.get_q(ob_no, ac_pi), adv_n = q_sa - v_s.\n"
        "In scope: ob_no [B, ob_dim], ac_na [B, ac_dim] (or [B] ints). Result: adv_n [B]."
    ),
    "next_actions": (
        "a' for the TD target, under torch.no_grad(): next_actions = one sample of\n"
        "self.actor(ptu.from_numpy(next_ob_no)). Result: next_actions [B, ac_dim] (or [B] ints)."
    ),
    "actor_update": (
        "After the critic step: adv_n = self.estimate_advantage(ob_no, ac_na), then\n"
        "actor_loss = self.actor.update(ob_no, ac_na, adv_n=adv_n)."
    ),
    "bc_loss": (
        "Behaviour-cloning loss: loss = minus the MEAN log-likelihood of ac_na under self.actor(ob_no).\n"
        "In scope: ob_no [B, ob_dim], ac_na [B, ac_dim] (or [B] ints). Result: a scalar with gradient."
    ),
    "expectile_loss": (
        "IQL expectile loss: loss = mean(|expectile - 1(diff < 0)| * diff**2), i.e. weight expectile where\n"
        "diff > 0 (target above the prediction) and 1 - expectile elsewhere (torch.where).\n"
        "In scope: diff [B] (target - prediction), expectile (a float in (0, 1)). Result: loss (a scalar)."
    ),
    "iql_value_loss": (
        "IQL value loss: under torch.no_grad() target_q = self.get_target_q(ob_no, ac_na) (TARGET nets,\n"
        "DATASET action); v = self.get_v(ob_no); value_loss = expectile_loss(target_q - v, self.expectile)."
    ),
    "iql_q_loss": (
        "IQL Q losses: under torch.no_grad() target = reward_n + self.gamma * (1 - terminal_n) *\n"
        "self.get_v(next_ob_no) (no Q-net, no action); q1, q2 from self.q_net, self.q_net2 at\n"
        "(ob_no, ac_na) (self._get_q_value); loss = self.mse_loss(q1, target), loss2 likewise with q2."
    ),
    "iql_exp_weights": (
        "IQL weights: exp_weights = exp(self.beta * adv_n), one per sample (torch.exp).\n"
        "In scope: adv_n [B] (no gradient), log_prob_n [B]. The clamp at max_weight follows below."
    ),
    "iql_advantage": (
        "IQL advantage, under torch.no_grad(): adv_n = self.critic.get_target_q(ob_no, ac_na) -\n"
        "self.critic.get_v(ob_no). Result: adv_n [B]."
    ),
}

# The students' tests: one file per part of the homework, the blanks' hand-computed checks first.
STUDENT_TESTS = ["tests/policies/test_mlp_policy.py", "tests/critics/test_awac_critic.py",
                 "tests/agents/test_awac_agent.py", "tests/agents/test_iql.py", "tests/agents/test_bc_agent.py"]


def student_test_command(python: str = "python") -> list[str]:
    """The command students run at the top of their tree; it stops at the first failing test."""
    return [python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *STUDENT_TESTS]


COPY = ["cs224r", "scripts", "tests", "docs", "pyproject.toml", "setup.py", "requirements.txt", "modal_train.py",
        "modal_train_para.py"]
# The starter tree's README.md is written for students; the instructors' README.md is not copied.
STUDENT_README = "docs/students_readme.md"
# The fast multi-seed path re-implements the solutions in batched form; it stays with the instructors.
# The autograder's own check (the catalogue of mistakes holds the solutions) stays with them too, and so
# do examples/ (a complete single-file IQL) and its test.
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", "test_handout.py", "fast",
                                "bench_*.py", "test_autograder.py", "autograder_mistakes.py", "check_autograder.py",
                                "students_readme.md", "test_examples.py", "test_benchmarks.py")


class HandoutError(ValueError):
    pass


@dataclass
class Blank:
    name: str
    path: Path
    line: int


def blank_source(text: str, path: Path | str = "<string>") -> tuple[str, list[Blank]]:
    """Replace every solution block in ``text``; returns the new text and the blanks made."""
    out: list[str] = []
    blanks: list[Blank] = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        match = BEGIN.match(lines[i])
        if not match:
            if END.match(lines[i]):
                raise HandoutError(f"{path}:{i + 1}: '# END SOLUTION' without a BEGIN")
            out.append(lines[i])
            i += 1
            continue
        name, indent = match["name"], match["indent"]
        if name not in HINTS:
            raise HandoutError(f"{path}:{i + 1}: solution block '{name}' has no hint in handout.HINTS")
        j = i + 1
        while j < len(lines) and not END.match(lines[j]):
            if BEGIN.match(lines[j]):
                raise HandoutError(f"{path}:{j + 1}: nested BEGIN SOLUTION inside '{name}'")
            j += 1
        if j == len(lines):
            raise HandoutError(f"{path}:{i + 1}: solution block '{name}' has no '# END SOLUTION'")
        hint = HINTS[name].splitlines()
        out.append(f"{indent}# TODO({name}): {hint[0]}\n")
        out += [f"{indent}#   {h}\n" for h in hint[1:]]
        out.append(f'{indent}raise NotImplementedError("TODO({name}) is not filled in yet: see the comment above")\n')
        blanks.append(Blank(name, Path(path), i + 1))
        i = j + 1
    return "".join(out), blanks


def make_handout(src: Path, dst: Path) -> list[Blank]:
    """Copy the project at ``src`` to ``dst`` (which must not exist) with every solution blanked."""
    src, dst = Path(src), Path(dst)
    if dst.exists():
        raise HandoutError(f"{dst} already exists; choose a new output directory")
    dst.mkdir(parents=True)
    for item in COPY:
        path = src / item
        if path.is_dir():
            shutil.copytree(path, dst / item, ignore=IGNORE)
        elif path.exists():
            shutil.copy2(path, dst / item)
    if (src / STUDENT_README).exists():
        shutil.copy2(src / STUDENT_README, dst / "README.md")
    blanks: list[Blank] = []
    for py in sorted((dst / "cs224r").rglob("*.py")):
        text = py.read_text()
        if "# BEGIN SOLUTION" in text:
            new, found = blank_source(text, py.relative_to(dst))
            py.write_text(new)
            blanks += found
    if not blanks:
        raise HandoutError(f"no '# BEGIN SOLUTION' blocks found under {src / 'cs224r'}")
    return blanks
