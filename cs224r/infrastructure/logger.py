"""Metrics to a CSV (rewritten atomically), TensorBoard, and optionally Weights & Biases."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from cs224r.infrastructure.utils import atomic_write


class Logger:
    def __init__(self, run_dir: Path, rows: list[dict] | None = None, use_wandb: bool = False,
                 wandb_project: str = "cs224r-hw3", run_name: str = "", config: dict | None = None,
                 purge_step: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.csv_path = self.run_dir / "metrics.csv"
        self.rows: list[dict] = list(rows or [])
        self.tb = None
        self._tb_failed = False
        try:
            from torch.utils.tensorboard import SummaryWriter

            # flushed after every row by ``log`` (here, where a disk error reaches the run), not on a timer
            self.tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=purge_step, flush_secs=10**6)
        except ImportError:
            print("tensorboard is not installed; skipping TensorBoard logs (pip install tensorboard)")
        self.wandb = None
        if use_wandb:
            self.wandb = _start_wandb(wandb_project, run_name, config or {}, self.run_dir)

    def log(self, row: dict[str, Any]) -> None:
        """Append one row (must contain ``step``) and rewrite the CSV atomically."""
        self.rows.append(row)
        self.write_csv()
        step = int(row["step"])
        if self.tb:
            try:
                for key, value in row.items():
                    if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                        self.tb.add_scalar(key, value, step)
                self.tb.flush()
            except OSError as err:
                self._tb_failed = True
                raise OSError(f"could not write the TensorBoard log in {self.run_dir / 'tb'}: "
                              f"{err.strerror or err} (disk full?); metrics.csv has the row") from err
        if self.wandb:
            self.wandb.log({k: v for k, v in row.items() if k != "step"}, step=step)

    def write_csv(self) -> None:
        columns: list[str] = []
        for row in self.rows:
            columns += [k for k in row if k not in columns]

        def write(tmp: str) -> None:
            with open(tmp, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns)
                writer.writeheader()
                writer.writerows(self.rows)

        atomic_write(self.csv_path, write)

    def close(self) -> None:
        if self.tb:
            try:
                self.tb.close()
            except OSError as err:
                if not self._tb_failed:  # else already reported by ``log``
                    raise OSError(f"could not write the TensorBoard log in {self.run_dir / 'tb'}: "
                                  f"{err.strerror or err} (disk full?)") from err
        if self.wandb:
            self.wandb.finish()


def _start_wandb(project: str, name: str, config: dict, run_dir: Path):
    try:
        import wandb
    except ImportError as err:
        raise SystemExit("--use-wandb needs the wandb package: pip install wandb, then wandb login") from err
    try:
        return wandb.init(project=project, name=name, config=config, dir=str(run_dir), resume="allow",
                          id=f"{name}".replace("/", "-"))
    except Exception as err:  # wandb raises several types for missing credentials
        raise SystemExit(f"could not start Weights & Biases ({err}); run `wandb login` or drop --use-wandb") from err
