"""Run one benchmark config (or several) and write its result in the one result schema.

    python benchmarks/run.py benchmarks/configs/retrieval/cranfield_default.toml
    python benchmarks/run.py benchmarks/configs/retrieval/*.toml --check        # rerun, compare, write nothing
    python benchmarks/run.py CONFIG --out runs/bench                             # write elsewhere

A config is a TOML file under ``benchmarks/configs/<suite>/``:

    suite = "retrieval"                      # the folder under benchmarks/results/
    result = "retrieval_cranfield_rrf.json"  # the file it writes (and reproduces) there
    bench = "retrieval"                      # retrieval | guard | qa | script
    about = "one line: what it measures"

    [config]                                 # the bench's dataclass config, field by field
    data = "../shared/data/cranfield/beir"   # paths are relative to the repository root
    fusion = "rrf"

``bench = "script"`` runs a benchmark script (``[config] script``, ``args``; ``{out}`` in ``args`` is
replaced by a temporary JSON file) in a subprocess and wraps the JSON it writes. Every result is a
``groundqa.eval.result.BenchResult``: name, config, scores, versions, data_sha256, commit, date.

``--check`` reruns the config and compares every number of the new scores with the committed result
file (timings excluded), within ``--tolerance`` (0.002); exit 1 if any differs.

Why a script that imports only the installed ``groundqa`` (no ``sys.path`` patch, no package): the
benches are library functions (``groundqa.eval``), and a benchmark script runs in its own process
as ``python benchmarks/<...>/x.py``, whose folder Python puts on ``sys.path`` itself, so scripts
that import a sibling (``docs_qa``, ``calibration_set``) keep working, and every command written in
the docs keeps its form.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SCHEMA = ("name", "config", "scores", "versions", "data_sha256", "commit", "date")
BENCHES = ("retrieval", "guard", "qa", "script")
# numbers that measure time or speed on a shared machine: never compared by --check
TIMING_WORDS = ("seconds", "per_s", "per_second", "_ms", "latency", "elapsed", "wall")


def load_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    spec = tomllib.loads(path.read_text(encoding="utf-8"))
    for key in ("suite", "result", "bench"):
        if key not in spec:
            raise SystemExit(f"{path}: missing '{key}' (see benchmarks/run.py's docstring)")
    if spec["bench"] not in BENCHES:
        raise SystemExit(f"{path}: bench = {spec['bench']!r}; choose one of {', '.join(BENCHES)}")
    spec.setdefault("config", {})
    spec["path"] = str(path)
    return spec


def result_path(spec: dict[str, Any]) -> Path:
    return RESULTS / spec["suite"] / spec["result"]


def run(spec: dict[str, Any]) -> Any:
    """Run the bench a config names; returns its ``BenchResult``."""
    cfg = dict(spec["config"])
    bench = spec["bench"]
    if bench == "retrieval":
        from groundqa.eval.retrieval import RetrievalBenchConfig, bench_retrieval

        for key in ("modes", "ks"):
            if key in cfg:
                cfg[key] = tuple(cfg[key])
        return bench_retrieval(RetrievalBenchConfig(**cfg))
    if bench == "guard":
        from groundqa.eval.guard import GuardBenchConfig, run_guard_bench

        return run_guard_bench(GuardBenchConfig(**cfg))
    if bench == "qa":
        from groundqa.eval.qa import QABenchConfig, run_qa_bench

        return run_qa_bench(QABenchConfig(**cfg))
    return run_script(cfg)


def run_script(cfg: dict[str, Any]) -> Any:
    """A benchmark script in its own process; its JSON output wrapped as a ``BenchResult``."""
    from groundqa.eval.result import bench_result

    with tempfile.TemporaryDirectory(prefix="groundqa-bench-") as tmp:
        out = os.path.join(tmp, "out.json")
        args = [a.replace("{out}", out) for a in cfg.get("args", [])]
        subprocess.run([sys.executable, str(ROOT / cfg["script"]), *args], cwd=ROOT, check=True)
        scores = json.loads(Path(out).read_text(encoding="utf-8"))
    return bench_result(cfg["script"], cfg, scores, cfg.get("data", []))  # paths relative to the root (the working directory)


def numbers(obj: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every number in ``obj`` with its path (``results/hybrid/ndcg@10``), timings left out."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from numbers(v, f"{prefix}/{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from numbers(v, f"{prefix}/{i}")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        if not any(w in prefix.rsplit("/", 1)[-1] for w in TIMING_WORDS) and not math.isnan(float(obj)):
            yield prefix, float(obj)


def compare(committed: dict[str, Any], fresh: dict[str, Any], tolerance: float) -> tuple[list[tuple[str, float, float]], int]:
    """(numbers that differ by more than ``tolerance`` as (path, committed, fresh), numbers compared)."""
    old = dict(numbers(committed.get("scores", committed)))
    new = dict(numbers(fresh["scores"]))
    common = [k for k in new if k in old]
    return [(k, old[k], new[k]) for k in common if abs(old[k] - new[k]) > tolerance], len(common)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("configs", nargs="+", help="TOML configs under benchmarks/configs/<suite>/")
    ap.add_argument("--out", default=None, help="write results under OUT/<suite>/ instead of benchmarks/results/<suite>/")
    ap.add_argument("--check", action="store_true", help="compare with the committed result file; with --out also write the rerun there")
    ap.add_argument("--tolerance", type=float, default=0.002)
    args = ap.parse_args(argv)
    os.chdir(ROOT)  # config paths are relative to the repository root
    failed = 0
    for path in args.configs:
        spec = load_config(path)
        result = run(spec).to_dict()
        if args.out or not args.check:
            dest = (Path(args.out) / spec["suite"] / spec["result"]) if args.out else result_path(spec)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
            print(f"wrote {dest}")
        if args.check:
            committed = json.loads(result_path(spec).read_text(encoding="utf-8"))
            diffs, n = compare(committed, result, args.tolerance)
            print(json.dumps({"config": spec["path"], "compared": n, "differ": [{"key": k, "committed": a, "rerun": b} for k, a, b in diffs]}, indent=1))
            failed += bool(diffs) or n == 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
