"""Check the students' tests against the catalogue of student mistakes (scripts/autograder_mistakes.py).

Plants each mistake, one at a time, in a copy of the solution tree (``--tree solution``) or of the starter
tree filled the guide's way (``--tree guide``), runs the students' test command there and reports, per
mistake, whether a test failed and whether its message names the blank. Also checks that the unmutated
tree passes and, with ``--tree guide``, that leaving any one blank unfilled fails naming that blank.
Exit status 0 when every "numbers" mistake and every unfilled blank is caught and named, else 1.

    python scripts/check_autograder.py [--tree solution|guide] [--jobs 2] [--only NAME ...]
    python scripts/check_autograder.py --classify     # does each mistake change a training run's numbers?

``--classify`` checks the catalogue's ``kind`` labels instead: it trains AWAC, IQL and BC for three steps
(the last batch as NumPy arrays, as a student's ``train`` may receive it) with and without each mistake and
compares every weight and logged value bit for bit: a "numbers" mistake must change them or crash, a
"leak" mistake must leave them unchanged.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cs224r.infrastructure.handout import make_handout, student_test_command  # noqa: E402
from scripts.autograder_mistakes import GUIDE_FILLS, MISTAKES, Mistake  # noqa: E402

TODO = re.compile(r"^(?P<indent>\s*)# TODO\((?P<name>[A-Za-z0-9_]+)\):")


class PlantError(ValueError):
    pass


@dataclass
class Outcome:
    label: str
    blank: str
    kind: str
    caught: bool
    named: bool
    seconds: float
    tail: str


def copy_solution(dst: Path) -> Path:
    """The parts of this project the students' tests need, copied to ``dst``."""
    dst.mkdir(parents=True)
    for item in ("cs224r", "scripts", "tests", "pyproject.toml"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, dst / item, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
        else:
            shutil.copy2(src, dst / item)
    return dst


def fill_blanks(tree: Path, fills: dict[str, str], skip: frozenset[str] = frozenset()) -> list[str]:
    """Replace each TODO comment + ``raise NotImplementedError`` of a starter tree by ``fills[name]``,
    indented like the comment; blanks in ``skip`` stay unfilled. Returns the blanks filled."""
    filled = []
    for py in sorted((tree / "cs224r").rglob("*.py")):
        lines = py.read_text().splitlines(keepends=True)
        out, i, changed = [], 0, False
        while i < len(lines):
            m = TODO.match(lines[i])
            if not m or m["name"] in skip:
                out.append(lines[i])
                i += 1
                continue
            name, indent = m["name"], m["indent"]
            if name not in fills:
                raise PlantError(f"{py}: no guide fill for blank {name}")
            j = i + 1
            while "raise NotImplementedError" not in lines[j]:
                j += 1
            out += [indent + line if line.strip() else line for line in fills[name].splitlines(keepends=True)]
            filled.append(name)
            i, changed = j + 1, True
        if changed:
            py.write_text("".join(out))
    return filled


def make_guide_tree(dst: Path, skip: frozenset[str] = frozenset()) -> Path:
    """The starter tree with every blank (but those in ``skip``) filled the guide's way."""
    make_handout(ROOT, dst)
    fill_blanks(dst, GUIDE_FILLS, skip)
    return dst


def plant(tree: Path, mistake: Mistake) -> str:
    """Apply the mistake's edits to its file in ``tree``; returns the original text (to restore)."""
    path = tree / mistake.path
    original = text = path.read_text()
    for find, replace in mistake.edits:
        count = text.count(find)
        if count != 1:
            raise PlantError(f"{mistake.name}: {find!r} occurs {count} times in {mistake.path} (expected once)")
        text = text.replace(find, replace)
    path.write_text(text)
    return original


def run_student_tests(tree: Path, timeout: float = 600) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    try:
        proc = subprocess.run(student_test_command(sys.executable), cwd=tree, env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout:.0f} s"
    return proc.returncode, proc.stdout + proc.stderr


def _failure_text(output: str) -> str:
    """The part of pytest's output about the failure (the traceback and the short summary)."""
    i = output.find("= FAILURES =")
    j = output.find("= ERRORS =")
    starts = [k for k in (i, j) if k >= 0]
    return output[min(starts):] if starts else output[-4000:]


def check_one(tree: Path, label: str, blank: str, kind: str, mistake: Mistake | None) -> Outcome:
    original = plant(tree, mistake) if mistake else None
    start = time.monotonic()
    try:
        rc, out = run_student_tests(tree)
    finally:
        if mistake:
            (tree / mistake.path).write_text(original)
    messages = [line for line in _failure_text(out).splitlines() if line.startswith("E ")]
    caught = rc not in (0, 5)
    named = caught and any(blank in line for line in messages)
    return Outcome(label, blank, kind, caught, named, time.monotonic() - start, "\n".join(messages[:4]))


def run_catalogue(base: Path, mistakes: list[Mistake], jobs: int, work: Path) -> list[Outcome]:
    """Each mistake in its own copy of ``base`` (``jobs`` copies, one per worker)."""
    copies = [base] + [Path(shutil.copytree(base, work / f"worker{i}")) for i in range(1, jobs)]
    free = list(copies)
    outcomes: list[Outcome] = []

    def task(m: Mistake) -> Outcome:
        tree = free.pop()
        try:
            return check_one(tree, m.name, m.blank, m.kind, m)
        finally:
            free.append(tree)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for i, outcome in enumerate(pool.map(task, mistakes), 1):
            outcomes.append(outcome)
            print(_row(outcome, f"[{i}/{len(mistakes)}]"), flush=True)
    return outcomes


def _row(o: Outcome, prefix: str) -> str:
    verdict = ("caught, names the blank" if o.named else "caught, message does not name the blank") if o.caught \
        else "MISSED"
    return f"{prefix} {o.label:<40} {o.blank:<20} {o.kind:<8} {verdict:<40} {o.seconds:5.1f} s"


# Three training steps of each agent on fixed batches; prints one digest of every weight and logged value.
CLASSIFY_SNIPPET = """
import hashlib, numpy as np, torch
from cs224r.agents.awac_agent import AWACAgent
from cs224r.agents.bc_agent import BCAgent
from cs224r.agents.iql_agent import IQLAgent
from cs224r.infrastructure.config import AWACConfig, BCConfig, IQLConfig
torch.set_num_threads(1)
digest = hashlib.sha256()
small = dict(actor_n_layers=1, actor_size=8, actor_lr=0.05)
critic = dict(critic_n_layers=1, critic_size=8, critic_lr=0.05, gamma=0.9)  # not the defaults: a hard-coded
for cls, cfg in ((AWACAgent, AWACConfig(**small, **critic, lambda_awac=0.7)),  # default shows up
                 (IQLAgent, IQLConfig(**small, **critic, value_lr=0.05, temperature=3.0, expectile=0.8)),
                 (BCAgent, BCConfig(**small))):
    torch.manual_seed(0)
    agent = cls(3, 2, False, cfg)
    rng = np.random.default_rng(0)
    for step in range(3):
        batch = (rng.normal(size=(16, 3)).astype(np.float32), rng.uniform(-1, 1, (16, 2)).astype(np.float32),
                 -np.ones(16, np.float32), rng.normal(size=(16, 3)).astype(np.float32),
                 (rng.random(16) < 0.3).astype(np.float32))
        if step < 2:
            batch = tuple(torch.from_numpy(x) for x in batch)
        for value in agent.train(*batch).values():
            digest.update(np.asarray(torch.as_tensor(value).detach()).tobytes())
    for part in (agent.actor, getattr(agent, "critic", None)):
        for p in (part.parameters() if part is not None else ()):
            digest.update(p.detach().numpy().tobytes())
print("DIGEST", digest.hexdigest())
"""


def training_digest(tree: Path) -> str:
    """The digest of three training steps in ``tree``, or ``crash: <last line>``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CLASSIFY_SNIPPET], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=300)
    found = re.search(r"DIGEST (\w+)", proc.stdout)
    if proc.returncode or not found:
        return "crash: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return found.group(1)


def classify(base: Path, mistakes: list[Mistake]) -> int:
    """Check each mistake's ``kind`` against what it does to three training steps; 1 if any label is wrong."""
    reference = training_digest(base)
    if reference.startswith("crash"):
        print(f"error: the unmutated tree does not train: {reference}", file=sys.stderr)
        return 1
    wrong = 0
    for m in mistakes:
        original = plant(base, m)
        try:
            got = training_digest(base)
        finally:
            (base / m.path).write_text(original)
        effect = "crashes" if got.startswith("crash") else ("same numbers" if got == reference else "changes numbers")
        ok = (effect == "same numbers") == (m.kind == "leak")
        wrong += not ok
        print(f"{m.name:<40} {m.kind:<8} {effect:<16} {'ok' if ok else 'WRONG LABEL'}", flush=True)
    print(f"\n{len(mistakes) - wrong}/{len(mistakes)} mistakes labelled as they behave")
    return 1 if wrong else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", choices=["solution", "guide"], default="solution")
    parser.add_argument("--jobs", type=int, default=2, help="test runs at once (each in its own copy of the tree)")
    parser.add_argument("--only", nargs="*", default=None, help="names of mistakes to plant (default: all)")
    parser.add_argument("--classify", action="store_true",
                        help="check each mistake's kind (changes the numbers or only leaks a gradient), no tests")
    args = parser.parse_args(argv)
    mistakes = [m for m in MISTAKES if args.only is None or m.name in args.only]
    unknown = set(args.only or ()) - {m.name for m in MISTAKES}
    if unknown:
        print(f"error: no mistake named {', '.join(sorted(unknown))} in scripts/autograder_mistakes.py",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="check_autograder_") as tmp:
        work = Path(tmp)
        base = make_guide_tree(work / "base") if args.tree == "guide" else copy_solution(work / "base")
        if args.classify:
            return classify(base, mistakes)
        rc, out = run_student_tests(base)
        if rc != 0:
            print(f"error: the students' tests fail on the unmutated {args.tree} tree; fix that first:\n"
                  + out[-3000:], file=sys.stderr)
            return 1
        print(f"unmutated {args.tree} tree: the students' tests pass")
        outcomes: list[Outcome] = []
        if args.tree == "guide" and args.only is None:  # each blank left unfilled, the others filled
            names = sorted(GUIDE_FILLS)
            trees = [make_guide_tree(work / f"unfilled_{name}", skip=frozenset({name})) for name in names]
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                for outcome in pool.map(lambda nt: check_one(nt[1], f"unfilled {nt[0]}", nt[0], "numbers", None),
                                        zip(names, trees)):
                    outcomes.append(outcome)
                    print(_row(outcome, "[unfilled]"), flush=True)
            for tree in trees:
                shutil.rmtree(tree)
        try:
            outcomes += run_catalogue(base, mistakes, max(1, args.jobs), work)
        except PlantError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    numbers = [o for o in outcomes if o.kind == "numbers"]
    leaks = [o for o in outcomes if o.kind == "leak"]
    bad = [o for o in numbers if not o.named]
    print(f"\nnumbers-changing mistakes: {sum(o.named for o in numbers)}/{len(numbers)} caught with the blank named")
    print(f"gradient-leak-only mistakes (reported apart): {sum(o.caught for o in leaks)}/{len(leaks)} caught")
    for o in bad:
        print(f"  not caught or not named: {o.label} ({o.blank})\n{o.tail}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
