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
    "awac_weights": (
        "AWAC weights: weights = exp(adv / self.lambda_awac), clamped above at self.max_weight.\n"
        "In scope: adv [B] (advantages; no gradient may flow into them). Result: weights [B]."
    ),
    "critic_target": (
        "TD target: target = reward + self.gamma * (1 - terminal) * min target-Q(next_ob, next_ac),\n"
        "computed with no gradient (torch.no_grad) and with the TARGET nets (self.get_target_q).\n"
        "In scope: next_ob [B, ob_dim], next_ac [B, ac_dim] (or [B] ints), reward [B], terminal [B].\n"
        "Result: target [B] (not [B, 1])."
    ),
    "advantage": (
        "Advantage: adv = min-Q(ob, ac) - min-Q(ob, a_pi) with one sample a_pi ~ self.actor(ob),\n"
        "all under torch.no_grad(); use self.critic.get_q (the online nets).\n"
        "In scope: ob [B, ob_dim], ac [B, ac_dim] (or [B] ints). Result: adv [B]."
    ),
    "next_action": (
        "Next action for the TD target: next_ac ~ self.actor(next_ob), sampled under torch.no_grad().\n"
        "In scope: next_ob [B, ob_dim]. Result: next_ac [B, ac_dim] (or [B] ints)."
    ),
    "agent_updates": (
        "One AWAC step: sample next_ac (self.sample_next_action), update the critic\n"
        "(log = self.critic.update(ob, ac, next_ob, next_ac, re, terminal)), estimate the advantage\n"
        "after the critic step (adv = self.estimate_advantage(ob, ac)), then update the actor\n"
        "(log['Actor Loss'] = self.actor.update(ob, ac, adv)). In scope: ob, ac, re, next_ob, terminal\n"
        "(tensors, batch B). Define next_ac, log and adv."
    ),
    "bc_loss": (
        "Behaviour-cloning loss: loss = -(log-likelihood of the dataset actions under self.actor(ob)).mean().\n"
        "In scope: ob [B, ob_dim], ac [B, ac_dim] (or [B] ints). Result: loss, a scalar tensor with gradient."
    ),
    "expectile_loss": (
        "IQL expectile loss: loss = mean(|expectile - 1(diff < 0)| * diff**2), i.e. weight expectile where\n"
        "diff > 0 (target above the prediction) and 1 - expectile elsewhere (torch.where).\n"
        "In scope: diff [B] (target - prediction), expectile (a float in (0, 1)). Result: loss (a scalar)."
    ),
    "value_target": (
        "IQL value target: target = min of the two TARGET Q-nets at the DATASET action\n"
        "(self.get_target_q(ob, ac)), computed under torch.no_grad().\n"
        "In scope: ob [B, ob_dim], ac [B, ac_dim] (or [B] ints). Result: target [B]."
    ),
    "q_target": (
        "IQL Q target: target = reward + self.gamma * (1 - terminal) * V(next_ob) (self.get_v),\n"
        "computed under torch.no_grad(); no Q-net and no action appears here.\n"
        "In scope: next_ob [B, ob_dim], reward [B], terminal [B]. Result: target [B] (not [B, 1])."
    ),
    "iql_weights": (
        "IQL actor weights: weights = exp(self.beta * (q - v)), clamped above at self.max_weight,\n"
        "with no gradient flowing into q or v (detach them).\n"
        "In scope: q [B] (min target-Q at the dataset action), v [B] (V(s)). Result: weights [B]."
    ),
}

COPY = ["cs224r", "scripts", "tests", "docs", "README.md", "pyproject.toml", "setup.py", "requirements.txt"]
# The fast multi-seed path re-implements the solutions in batched form; it stays with the instructors.
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", "test_handout.py", "fast",
                                "bench_*.py")


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
