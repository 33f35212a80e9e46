"""The demo as a benchmark: ``groundqa demo --json`` (the sample corpus shipped in the package, its
ten questions, the embedded default pipeline) written to a file, so that ``benchmarks/run.py``
records it in the result schema (benchmarks/configs/qa/demo_default.toml).

    python benchmarks/demo.py --out benchmarks/results/qa/demo_default.json [-- DEMO FLAGS]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="the JSON file to write")
    ap.add_argument("demo_args", nargs="*", help="flags passed to `groundqa demo` (after --)")
    args = ap.parse_args()
    from groundqa.cli import main as cli

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli(["demo", "--json", *args.demo_args])
    Path(args.out).write_text(buf.getvalue(), encoding="utf-8")
    return rc


if __name__ == "__main__":
    sys.exit(main())
