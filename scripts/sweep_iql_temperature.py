"""IQL temperature (beta) sweep: ``scripts/sweep_iql.py --param temperature`` (default 0.5 1 3 10)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep_iql import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(param="temperature"))
