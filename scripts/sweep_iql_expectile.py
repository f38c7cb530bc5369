"""IQL expectile (zeta) sweep: ``scripts/sweep_iql.py --param expectile`` (default 0.2 0.5 0.7 0.9).

The homework's question, on umaze with 3 seeds:
    python scripts/sweep_iql_expectile.py --env-name antmaze-umaze-v0 --seeds 1 2 3 --preset cs224r
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep_iql import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(param="expectile"))
