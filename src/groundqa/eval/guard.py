"""``groundqa bench guard``: claim verification on WiCE, HaluEval or plain labelled files.

Without ``--calibration`` the combiner and threshold are fitted on one half of the file (split by
claim id, a stable hash) and every number is reported on the other half; the shortcut baselines
(claim length, word overlap, embedding cosine) get the same treatment: their direction and
threshold come from the fitting half. With ``--calibration`` the given combiner is used as is and
the whole file is the test set.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from ..pipeline.build import make_guard
from ..train.calibrate import GENERATION_FEATURES, FeatureTable, evaluate, featurize, fit_with_thresholds, half_split, predict
from ..text import strip_citations
from ..verify.combiner import Combiner
from ..datasets.claims import load_guard_file
from ..verify.lexical import tokens, word_overlap
from ..metrics.verifier import auroc, balanced_accuracy, best_balanced_threshold, pr_curve_unsupported, reliability
from .result import BenchResult, bench_result


def shortcut_columns(examples: Any) -> dict[str, np.ndarray]:
    """The plain shortcuts, read from each example's answer/claim text and its whole evidence (not
    from the guard's features, so that improving a guard signal never moves a baseline): minus the
    log word count, and the share of content words found anywhere in the evidence."""
    texts = [strip_citations(e.claim)[0] for e in examples]
    return {
        "claim_length": np.array([-math.log1p(len(tokens(t))) for t in texts]),
        "word_overlap": np.array([word_overlap(t, list(e.evidence)) for t, e in zip(texts, examples)]),
    }


def baseline_scores(table: Any, fit: np.ndarray, test: np.ndarray, examples: Any) -> dict[str, dict[str, float]]:
    """AUROC and balanced accuracy of each single-signal shortcut on the test rows (the raw-text
    ones of ``shortcut_columns``, and the embedding cosine the guard computed); its direction and
    threshold are chosen on the fitting rows."""
    columns = shortcut_columns(examples)
    if "emb_best" in table.features:
        columns["embedding_cosine"] = table.X[:, table.features.index("emb_best")]
    out = {}
    for name, s in columns.items():
        sign = 1.0 if auroc(table.y[fit], s[fit]) >= 0.5 else -1.0
        s = sign * s
        t = best_balanced_threshold(table.y[fit], s[fit])
        out[name] = {
            "auroc": auroc(table.y[test], s[test]),
            "balanced_accuracy": balanced_accuracy(table.y[test], (s[test] >= t).astype(int)),
            "direction": "higher=supported" if sign > 0 else "lower=supported",
        }
    return out


def _exact(p: np.ndarray, table: Any, threshold: float, config: Any) -> np.ndarray:
    """The guard's exact check: a claim with a number/date missing from the evidence is capped."""
    if getattr(config, "no_exact_checks", False) or "missing_numbers" not in table.features:
        return p
    miss = table.X[:, table.features.index("missing_numbers")] > 0
    return np.where(miss, np.minimum(p, threshold * 0.5), p)


def load_feature_tables(paths: Any, examples: Any, data: Any) -> FeatureTable:
    """Feature tables saved by ``--save-features`` for the same examples, merged column-wise (a
    later file's column replaces an earlier one of the same name); the time is the sum of the runs
    that computed the kept columns, an upper bound."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    ids = [e.id for e in examples]
    cols: dict[str, np.ndarray] = {}
    base = None
    seconds = 0.0
    for path in paths:
        z = np.load(path, allow_pickle=False)
        if list(z["ids"]) != ids:
            raise ConfigError(f"--load-features {path!r} was saved for other data than --data {data!r}")
        for j, f in enumerate(z["features"]):
            cols[str(f)] = z["X"][:, j]
        seconds += float(z["seconds"])
        base = z
    assert base is not None
    feats = tuple(cols)
    return FeatureTable(np.column_stack([cols[f] for f in feats]), base["y"], [str(g) for g in base["groups"]], feats,
                        int(base["n_claims"]), seconds, [str(i) for i in base["ids"]])


@dataclass(frozen=True)
class GuardBenchConfig:
    """``groundqa bench guard``'s settings (the flags of the same names)."""

    data: str
    verifier: str = "default"
    calibration: str | None = None
    json: str | None = None  # write the metrics JSON here ('-' = stdout; otherwise a table is printed)
    report: str | None = None  # folder for the PR and reliability plots
    embedder: str = "minilm-l6"
    judge: str | None = None
    judge_dtype: str = "fp32"
    limit: int | None = None
    save_features: str | None = None
    load_features: Sequence[str] | None = None
    no_exact_checks: bool = False
    top_windows: int | None = None


def run_guard_bench(config: GuardBenchConfig) -> BenchResult:
    """Run the guard benchmark; prints the table (or the JSON with ``json='-'``), writes ``json`` and
    ``report`` when given, and returns the metrics as a ``BenchResult``."""
    fmt, examples = load_guard_file(config.data, config.limit)
    kw = {}
    if config.top_windows:
        kw["top_k"] = config.top_windows
    guard = make_guard(config.verifier, config.embedder, judge=config.judge, judge_dtype=config.judge_dtype, **kw)
    if config.load_features:
        table = load_feature_tables(config.load_features, examples, config.data)
        missing = [f for f in guard.features if f not in table.features and f not in GENERATION_FEATURES]
        if missing:
            raise ConfigError(f"--load-features lacks the columns {missing} of this guard; save them with --save-features "
                              "from a run that computes them, and pass that file too")
        # keep only the signals this guard computes (e.g. --verifier none drops the model's columns)
        keep = [i for i, f in enumerate(table.features) if f in guard.features]
        table = FeatureTable(table.X[:, keep], table.y, table.groups, tuple(table.features[i] for i in keep), table.n_claims, table.seconds, table.ids)
    else:
        table = featurize(guard, examples, fmt=fmt)
    if config.save_features:
        np.savez(config.save_features, X=table.X, y=table.y, groups=np.array(table.groups), features=np.array(table.features), ids=np.array(table.ids), n_claims=table.n_claims, seconds=table.seconds)
    if config.calibration:
        comb = Combiner.load(config.calibration)
        missing = [f for f in comb.features if f not in table.features]
        if missing:
            raise ConfigError(f"--calibration {config.calibration!r} needs features {missing} that --verifier {config.verifier!r} does not give")
        idx = [table.features.index(f) for f in comb.features]
        fit = np.ones(len(table.y), dtype=bool)
        test = fit
        p = comb.predict_proba(table.X[:, idx])
        fitted = "given calibration"
    else:
        fit = half_split(table.groups)
        test = ~fit
        comb = fit_with_thresholds(table.X[fit], table.y[fit], table.features, 0.9, {"data": str(config.data)})
        p = predict(comb, table.X, table.features)
        fitted = "half of --data by claim id (sha1 % 2 == 0); metrics on the other half"
        # the swapped fold, for an idea of the split's noise
        comb2 = fit_with_thresholds(table.X[test], table.y[test], table.features, 0.9, {})
        p2 = _exact(predict(comb2, table.X, table.features), table, comb2.threshold, config)
        swapped = evaluate(table.y[fit], p2[fit], comb2.threshold)
    p = _exact(p, table, comb.threshold, config)
    res = evaluate(table.y[test], p[test], comb.threshold)
    out: dict[str, Any] = {
        "data": str(config.data),
        "format": fmt,
        "verifier": config.verifier,
        "features": list(table.features),
        "fitted_on": fitted,
        "exact_checks": not config.no_exact_checks,
        **res,
        "threshold": comb.threshold,
        "claims_per_s": table.n_claims / table.seconds if table.seconds > 0 else float("nan"),
        "claims": table.n_claims,
        "examples": len(examples),
        "baselines": baseline_scores(table, fit, test, examples),
        # each model signal on its own, no fitting (higher = supported), over every example
        "signal_auroc": {f: auroc(table.y, table.X[:, i]) for i, f in enumerate(table.features)
                         if f in ("nli_best", "nli_concat", "nli_seg_min", "judge", "emb_best", "seg_lex_min")},
        "combiner": {"features": list(comb.features), "coef": list(comb.coef)},
    }
    if not config.calibration:
        out["swapped_fold"] = swapped
        out["two_fold_mean"] = {k: (res[k] + swapped[k]) / 2 for k in ("balanced_accuracy", "auroc", "f1_unsupported", "ece")}
    text = json.dumps(out, indent=2, default=float)
    if config.json and config.json != "-":
        Path(config.json).parent.mkdir(parents=True, exist_ok=True)
        Path(config.json).write_text(text + "\n")
    if config.json == "-":
        print(text)
    else:
        _print_table(out)
    if config.report:
        write_report(Path(config.report), table.y[test], p[test], out)
    return bench_result("bench guard", config, out, [config.data, *(config.load_features or [])])


def _print_table(out: dict[str, Any]) -> None:
    print(f"guard on {out['data']} ({out['format']}, {out['examples']} examples, {out['claims']} claims; verifier={out['verifier']})")
    print(f"{'scorer':<20}{'BA':>8}{'AUROC':>8}")
    print(f"{'guard':<20}{out['balanced_accuracy']:>8.3f}{out['auroc']:>8.3f}   F1(unsupported)={out['f1_unsupported']:.3f} ECE={out['ece']:.3f} claims/s={out['claims_per_s']:.1f}")
    for k, v in out["baselines"].items():
        print(f"{k:<20}{v['balanced_accuracy']:>8.3f}{v['auroc']:>8.3f}")


def write_report(folder: Path, y: np.ndarray, p: np.ndarray, out: dict[str, Any]) -> None:
    """PR curve of the unsupported class and a reliability diagram (PNG), plus the JSON."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    prec, rec = pr_curve_unsupported(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot(rec, prec)
    ax.set_xlabel("recall (unsupported)")
    ax.set_ylabel("precision (unsupported)")
    ax.set_title("guard: precision-recall, unsupported claims")
    ax.set_ylim(0, 1.02)
    fig.tight_layout()
    fig.savefig(folder / "pr_unsupported.png", dpi=120)
    plt.close(fig)
    bins = reliability(y, p)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    xs = [b.mean_prob for b in bins if b.count]
    ys = [b.frac_supported for b in bins if b.count]
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.plot(xs, ys, "o-")
    ax.set_xlabel("predicted P(supported)")
    ax.set_ylabel("observed share supported")
    ax.set_title(f"reliability (ECE {out['ece']:.3f})")
    fig.tight_layout()
    fig.savefig(folder / "reliability.png", dpi=120)
    plt.close(fig)
    (folder / "guard.json").write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(f"report written to {folder}", file=sys.stderr)
