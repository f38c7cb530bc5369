"""Write the students' starter tree: ``python scripts/make_handout.py OUT_DIR``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cs224r.infrastructure.handout import HandoutError, make_handout, student_test_command

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        blanks = make_handout(ROOT, args.out_dir)
    except HandoutError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for b in blanks:
        print(f"TODO({b.name})  {b.path}:{b.line}")
    print(f"{len(blanks)} blanks written to {args.out_dir}; students run `{' '.join(student_test_command())}` there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
