"""Compare two verifier models from the result files `guard_run.sh stage2` writes: the guard on
WiCE and HaluEval (test half and 2-fold mean), and the model alone on held-out pairs and on
RTE-form sets that train no shipped weights (COVID-Fact, SciFact dev). Prints a table and writes
one JSON.

    python benchmarks/guard_compare_verifiers.py --dir runs/vexp --a default --b final \
        --json benchmarks/results/guard/guard_verifier_stage2.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _read(p: Path) -> dict:
    return json.loads(p.read_text()) if p.exists() else {}


def _f(x: object) -> str:
    return f"{x:.3f}" if isinstance(x, float) else "-"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, help="folder with wice_NAME.json, halu_NAME.json, val_NAME.json, rte_SET_NAME.json")
    ap.add_argument("--a", default="default")
    ap.add_argument("--b", default="final")
    ap.add_argument("--json", required=True)
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    d = Path(args.dir)
    out: dict = {"note": args.note, "models": {}}
    for name in (args.a, args.b):
        row = {}
        for bench in ("wice", "halu"):
            r = _read(d / f"{bench}_{name}.json")
            if r:
                row[bench] = {"balanced_accuracy": r["balanced_accuracy"], "auroc": r["auroc"], "two_fold_mean": r.get("two_fold_mean"), "word_overlap": r["baselines"]["word_overlap"]}
        v = _read(d / f"val_{name}.json")
        if v:
            row["val_pairs"] = {"pairs": v["pairs"], "auroc": v["auroc"], "accuracy@0.5": v["accuracy@0.5"]}
        for s in ("covidfact", "scifact"):
            r = _read(d / f"rte_{s}_{name}.json")
            if r:
                row[f"{s}_dev"] = {"pairs": r["pairs"], "auroc": r["auroc"], "accuracy@0.5": r["accuracy@0.5"]}
        out["models"][name] = row
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    print(f"{'model':<10}{'WiCE BA':>9}{'2-fold':>8}{'AUROC':>7}{'Halu BA':>9}{'2-fold':>8}{'val':>7}{'COVID':>7}{'SciFact':>8}")
    for name, r in out["models"].items():
        w, h = r.get("wice", {}), r.get("halu", {})
        print(f"{name:<10}{_f(w.get('balanced_accuracy')):>9}{_f((w.get('two_fold_mean') or {}).get('balanced_accuracy')):>8}{_f(w.get('auroc')):>7}"
              f"{_f(h.get('balanced_accuracy')):>9}{_f((h.get('two_fold_mean') or {}).get('balanced_accuracy')):>8}"
              f"{_f(r.get('val_pairs', {}).get('auroc')):>7}{_f(r.get('covidfact_dev', {}).get('auroc')):>7}{_f(r.get('scifact_dev', {}).get('auroc')):>8}")


if __name__ == "__main__":
    main()
