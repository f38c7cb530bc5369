"""Results of multi-seed runs: tables of mean +- std of the final evaluation, learning curves, and
per-seed CSVs for submission.

Reads two layouts, found anywhere under the given directories:

- the trainer's / Modal Volume's ``<exp-name>/seed<N>/metrics.csv`` (algorithm from ``launch.json`` or
  the first word of the exp name, task from ``config.json`` or the rest of the exp name);
- the homework's ``<algo>_<task>_seed<N>.csv`` (e.g. ``P1/1/awac_umaze_seed1.csv``).

Runs are grouped by (algorithm, task). Missing seeds, runs of different lengths, duplicate runs and
files without the needed columns raise ``ResultsError`` with what to do, never a silently wrong table.
Std is over seeds with ``numpy.std`` (ddof=0).
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RETURN_COL = "Eval_AverageReturn"
SUCCESS_COL = "Eval_SuccessRate"
STEP_COLS = ("step", "Step")
# Table number -> task short name, as in the CS224R homework's Table 1 and Table 2.
TABLES = [("Table 1", "umaze"), ("Table 2", "medium-diverse")]
# The handout's submission folders: problem per algorithm, part per task, and the task's name in the file.
HOMEWORK_PROBLEMS = {"awac": "P1", "iql": "P2"}
HOMEWORK_PARTS = {"umaze": ("1", "umaze"), "medium-diverse": ("2", "medium_maze")}
# Names that may contain "_", matched before splitting a file name on "_".
MULTIWORD_ALGOS = ("filtered_bc",)
_SEED_DIR = re.compile(r"^seed(\d+)$")
_SEED_FILE = re.compile(r"^(?P<prefix>.+)_seed(?P<seed>\d+)\.csv$")


class ResultsError(ValueError):
    pass


@dataclass
class SeedRun:
    algo: str
    env: str  # task short name, e.g. "umaze", "medium-diverse"
    seed: int
    path: Path  # the CSV
    steps: np.ndarray
    returns: np.ndarray
    success: np.ndarray | None  # None when the CSV has no success column


@dataclass
class Summary:
    algo: str
    env: str
    seeds: list[int]
    step: int  # the common final step
    return_mean: float
    return_std: float
    success_mean: float | None
    success_std: float | None


def short_env(name: str) -> str:
    """``antmaze-medium-diverse-v0`` / ``antmaze_medium_diverse`` -> ``medium-diverse``."""
    name = name.strip().lower().replace("_", "-")
    name = re.sub(r"-v\d+$", "", name)
    if name in ("medium-maze", "antmaze-medium-maze"):  # the handout's file name for medium-diverse
        return "medium-diverse"
    for prefix in ("d4rl-", "antmaze-"):
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix):]
    return name


def split_algo(name: str) -> tuple[str, str]:
    """``awac_antmaze_umaze`` -> (``awac``, ``antmaze_umaze``)."""
    for algo in MULTIWORD_ALGOS:
        if name.lower().startswith(algo + "_"):
            return algo, name[len(algo) + 1:]
    algo, _, rest = name.partition("_")
    return algo.lower(), rest


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def read_metrics(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(steps, returns, success or None) of the rows of ``path`` that hold an evaluation."""
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ResultsError(f"cannot read {path}: {err}") from err
    step_col = next((c for c in STEP_COLS if c in columns), None)
    if step_col is None or RETURN_COL not in columns:
        raise ResultsError(f"{path} needs a 'step' and an '{RETURN_COL}' column; "
                           f"it has: {', '.join(columns) or 'none'}")
    has_success = SUCCESS_COL in columns
    steps, returns, success = [], [], []
    for i, row in enumerate(rows, start=2):
        if (row.get(RETURN_COL) or "").strip() == "":
            continue  # a row without an evaluation
        try:
            steps.append(int(float(row[step_col])))
            returns.append(float(row[RETURN_COL]))
            if has_success:
                success.append(float(row[SUCCESS_COL]))
        except (TypeError, ValueError) as err:
            raise ResultsError(f"{path} line {i}: not a number ({err})") from err
    if not steps:
        raise ResultsError(f"{path} has no evaluation rows yet; wait for the first evaluation or drop it")
    if any(b <= a for a, b in zip(steps, steps[1:])):
        raise ResultsError(f"{path}: the steps are not increasing; the file is damaged or two runs were merged")
    return np.asarray(steps), np.asarray(returns), (np.asarray(success) if has_success else None)


def experiment_name(path: Path) -> str:
    """The experiment a per-seed CSV belongs to: ``<exp>`` of ``<exp>/seed<N>/metrics.csv`` or of
    ``<exp>_seed<N>.csv``."""
    match = _SEED_FILE.match(path.name)
    return match.group("prefix") if match else path.parent.parent.name


def find_runs(paths: list[str | Path], exclude: str | Path | None = None) -> list[SeedRun]:
    """Every per-seed CSV under ``paths`` (directories, searched recursively, or CSV files), skipping
    anything under ``exclude`` (the output directory, whose exported copies would count twice)."""
    runs: list[SeedRun] = []
    skip = Path(exclude).resolve() if exclude is not None else None
    for root in map(Path, paths):
        if not root.exists():
            raise ResultsError(f"{root} does not exist")
        files = [root] if root.is_file() else sorted(root.rglob("*.csv"))
        for csv_path in files:
            if skip is not None and csv_path.resolve().is_relative_to(skip):
                continue
            run = _identify(csv_path)
            if run is not None:
                runs.append(run)
    if not runs:
        raise ResultsError(f"no per-seed CSVs under {', '.join(map(str, paths))}: looked for <exp-name>/seed<N>/"
                           "metrics.csv and <algo>_<task>_seed<N>.csv (fetch them with `modal volume get`?)")
    return runs


def _identify(path: Path) -> SeedRun | None:
    seed_dir = _SEED_DIR.match(path.parent.name)
    if path.name == "metrics.csv" and seed_dir:
        seed = int(seed_dir.group(1))
        exp = path.parent.parent.name
        launch = _read_json(path.parent / "launch.json")
        config = _read_json(path.parent / "config.json")
        algo, rest = split_algo(exp)
        algo = launch.get("algo", algo)
        env = short_env(config.get("env_name") or launch.get("env_name") or rest or exp)
    else:
        match = _SEED_FILE.match(path.name)
        if not match:
            return None
        seed = int(match.group("seed"))
        algo, rest = split_algo(match.group("prefix"))
        if not rest:
            raise ResultsError(f"cannot tell the task from the file name {path}; name it like awac_umaze_seed1.csv")
        env = short_env(rest)
    steps, returns, success = read_metrics(path)
    return SeedRun(algo, env, seed, path, steps, returns, success)


def group_runs(runs: list[SeedRun], seeds: list[int] | None = None) -> dict[tuple[str, str], list[SeedRun]]:
    """Runs by (algo, task), each sorted by seed, checked: the same ``seeds`` in every group (default:
    all seeds seen), no duplicates, and the same evaluation steps across a group's seeds."""
    groups: dict[tuple[str, str], dict[int, SeedRun]] = {}
    for run in runs:
        group = groups.setdefault((run.algo, run.env), {})
        if run.seed in group:
            raise ResultsError(f"{run.algo} {run.env} seed {run.seed} appears twice: {group[run.seed].path} and "
                               f"{run.path}; pass only the directories of the runs you want in the table")
        group[run.seed] = run
    expected = sorted(set(seeds) if seeds else {r.seed for r in runs})
    out = {}
    for key, by_seed in sorted(groups.items()):
        algo, env = key
        missing = [s for s in expected if s not in by_seed]
        if missing:
            raise ResultsError(f"{algo} {env}: seed {', '.join(map(str, missing))} missing (found seeds "
                               f"{', '.join(map(str, sorted(by_seed)))}); run the missing seeds or pass --seeds "
                               f"{' '.join(map(str, sorted(by_seed)))}")
        group = [by_seed[s] for s in expected]
        first = group[0]
        for run in group[1:]:
            if run.steps[-1] != first.steps[-1] or len(run.steps) != len(first.steps):
                ends = ", ".join(f"seed {r.seed} ends at step {r.steps[-1]} ({len(r.steps)} evaluations)"
                                 for r in group)
                raise ResultsError(f"{algo} {env}: runs of different lengths ({ends}); finish the short runs "
                                   "(rerun with --resume) before making the table")
            if not np.array_equal(run.steps, first.steps):
                raise ResultsError(f"{algo} {env}: seeds {first.seed} and {run.seed} were evaluated at different "
                                   "steps; use the same --eval-interval for every seed")
        if len({r.success is None for r in group}) > 1:
            raise ResultsError(f"{algo} {env}: some seeds' CSVs lack {SUCCESS_COL}; use CSVs of the same format")
        out[key] = group
    return out


def summarize(groups: dict[tuple[str, str], list[SeedRun]]) -> list[Summary]:
    """Mean and std (over seeds, ddof=0) of the last evaluation of each group."""
    rows = []
    for (algo, env), group in groups.items():
        finals = np.array([r.returns[-1] for r in group])
        succ = None if any(r.success is None for r in group) else np.array([r.success[-1] for r in group])
        rows.append(Summary(algo, env, [r.seed for r in group], int(group[0].steps[-1]),
                            float(finals.mean()), float(finals.std()),
                            None if succ is None else float(succ.mean()), None if succ is None else float(succ.std())))
    return rows


def _fmt(mean: float | None, std: float | None, latex: bool = False) -> str:
    if mean is None or std is None or not (math.isfinite(mean) and math.isfinite(std)):
        return "n/a"
    return f"${mean:.3f} \\pm {std:.3f}$" if latex else f"{mean:.3f} ± {std:.3f}"


def _table_sections(summaries: list[Summary]) -> list[tuple[str, str, list[Summary]]]:
    """(title, task, rows): Table 1 (umaze) and Table 2 (medium-diverse) always, then any other task."""
    by_env: dict[str, list[Summary]] = {}
    for s in summaries:
        by_env.setdefault(s.env, []).append(s)
    sections = [(title, env, by_env.pop(env, [])) for title, env in TABLES]
    sections += [("Other task", env, rows) for env, rows in sorted(by_env.items())]
    return sections


def _algo_label(algo: str) -> str:
    return algo.upper() if len(algo) <= 4 else algo.replace("_", " ")


def markdown_tables(summaries: list[Summary]) -> str:
    out = []
    for title, env, rows in _table_sections(summaries):
        out.append(f"## {title} ({env})\n")
        if not rows:
            out.append(f"No runs for {env} were given.\n")
            continue
        out.append("Final Eval_AverageReturn and success rate: mean ± std over seeds (numpy std, ddof=0).\n")
        out.append("| Algorithm | Eval_AverageReturn | Success rate | Seeds | Final step |")
        out.append("|---|---|---|---|---|")
        for s in rows:
            out.append(f"| {_algo_label(s.algo)} | {_fmt(s.return_mean, s.return_std)} | "
                       f"{_fmt(s.success_mean, s.success_std)} | {', '.join(map(str, s.seeds))} | {s.step} |")
        out.append("")
    return "\n".join(out) + "\n"


def _tex(text: str) -> str:
    return re.sub(r"([_%&#$])", r"\\\1", text)


def latex_tables(summaries: list[Summary]) -> str:
    """One ``table`` per task (needs ``\\usepackage{booktabs}``)."""
    out = ["% generated by scripts/make_tables.py; needs \\usepackage{booktabs}"]
    for title, env, rows in _table_sections(summaries):
        if not rows:
            out.append(f"% {_tex(title)} ({_tex(env)}): no runs were given")
            continue
        seeds = ", ".join(map(str, rows[0].seeds))
        task = f"AntMaze {_tex(env)}" if env in dict(TABLES).values() else _tex(env)
        out += ["\\begin{table}[h]", "\\centering",
                f"\\caption{{{_tex(title)}: {task}. Final evaluation return and success rate, "
                f"mean $\\pm$ std over seeds {seeds}.}}",
                "\\begin{tabular}{lcc}", "\\toprule", "Algorithm & Return & Success rate \\\\", "\\midrule"]
        for s in rows:
            out.append(f"{_tex(_algo_label(s.algo))} & {_fmt(s.return_mean, s.return_std, True)} & "
                       f"{_fmt(s.success_mean, s.success_std, True)} \\\\")
        out += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(out) + "\n"


def plot_curves(groups: dict[tuple[str, str], list[SeedRun]], out_dir: str | Path) -> list[Path]:
    """``curves_<task>.png`` per task: mean over seeds with a shaded +-std band, one line per algorithm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cs224r.infrastructure.utils import atomic_write

    out_dir = Path(out_dir)
    envs = sorted({env for _, env in groups})
    written = []
    for env in envs:
        members = [(algo, g) for (algo, e), g in groups.items() if e == env]
        with_success = any(all(r.success is not None for r in g) for _, g in members)
        fig, axes = plt.subplots(1, 2 if with_success else 1, figsize=(11 if with_success else 6, 4), squeeze=False)
        panels = [(RETURN_COL, lambda r: r.returns)]
        if with_success:
            panels.append((SUCCESS_COL, lambda r: r.success))
        for ax, (label, get) in zip(axes[0], panels):
            for algo, group in members:
                if any(get(r) is None for r in group):
                    continue
                values = np.stack([get(r) for r in group])
                mean, std = values.mean(axis=0), values.std(axis=0)
                steps = group[0].steps
                legend = f"{_algo_label(algo)} ({len(group)} seeds)"
                line, = ax.plot(steps, mean, marker="o", markersize=4, label=legend)  # a 1-point curve shows
                lo, hi = mean - std, mean + std
                if label == SUCCESS_COL:  # a rate's band stays within [0, 1]
                    lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
                ax.fill_between(steps, lo, hi, color=line.get_color(), alpha=0.25)
            ax.set_xlabel("gradient steps")
            ax.set_ylabel(label)
            ax.ticklabel_format(axis="y", style="plain", useOffset=False)  # -999.7 reads as it is, not as 0.3 - 1e3
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(f"{env}: mean ± std over seeds")
        fig.tight_layout()
        path = out_dir / f"curves_{env}.png"
        atomic_write(path, lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=120))
        plt.close(fig)
        written.append(path)
    return written


def submission_name(algo: str, env: str, seed: int) -> str:
    """``awac_umaze_seed1.csv``, ``iql_medium_diverse_seed3.csv``."""
    return f"{algo}_{env.replace('-', '_')}_seed{seed}.csv"


def export_submission(groups: dict[tuple[str, str], list[SeedRun]], out_dir: str | Path) -> list[Path]:
    """Copy each seed's CSV to ``out_dir/<algo>_<task>_seed<N>.csv``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for (algo, env), group in groups.items():
        for run in group:
            dest = out_dir / submission_name(algo, env, run.seed)
            if dest.resolve() != run.path.resolve():
                shutil.copyfile(run.path, dest)
            written.append(dest)
    return written


def homework_path(algo: str, env: str, seed: int) -> Path | None:
    """``P1/1/awac_umaze_seed1.csv``, ``P1/2/awac_medium_maze_seed3.csv``, ``P2/1/iql_umaze_seed2.csv``; None
    for runs the handout does not ask for."""
    if algo not in HOMEWORK_PROBLEMS or env not in HOMEWORK_PARTS:
        return None
    part, task = HOMEWORK_PARTS[env]
    return Path(HOMEWORK_PROBLEMS[algo]) / part / f"{algo}_{task}_seed{seed}.csv"


def export_homework(groups: dict[tuple[str, str], list[SeedRun]], out_dir: str | Path) -> list[Path]:
    """Copy each AWAC/IQL umaze/medium-diverse seed's CSV to the handout's layout under ``out_dir``."""
    written = []
    for (algo, env), group in groups.items():
        for run in group:
            rel = homework_path(algo, env, run.seed)
            if rel is None:
                continue
            dest = Path(out_dir) / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.resolve() != run.path.resolve():
                shutil.copyfile(run.path, dest)
            written.append(dest)
    return written


def make_report(paths: list[str | Path], out_dir: str | Path, seeds: list[int] | None = None) -> dict[str, object]:
    """Everything: ``tables.md``, ``tables.tex``, ``curves_<task>.png``, ``submission/*.csv`` and the handout's
    ``P1/<part>/...csv`` (AWAC) and ``P2/<part>/...csv`` (IQL) under ``out_dir``."""
    from cs224r.infrastructure.utils import atomic_write

    groups = group_runs(find_runs(paths, exclude=out_dir), seeds)
    summaries = summarize(groups)
    out_dir = Path(out_dir)
    md, tex = markdown_tables(summaries), latex_tables(summaries)
    atomic_write(out_dir / "tables.md", lambda tmp: Path(tmp).write_text(md))
    atomic_write(out_dir / "tables.tex", lambda tmp: Path(tmp).write_text(tex))
    return {"summaries": summaries, "markdown": md, "tables_md": out_dir / "tables.md",
            "tables_tex": out_dir / "tables.tex", "plots": plot_curves(groups, out_dir),
            "csvs": export_submission(groups, out_dir / "submission"), "homework": export_homework(groups, out_dir)}
