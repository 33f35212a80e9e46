"""Fit the guard's combiner and thresholds on labelled data, and the helpers the guard benchmark
shares: turning WiCE / HaluEval / plain examples into feature rows, splitting by claim id.

An example may hold several claims (a HaluEval answer of two sentences); its row takes, per
feature, the weakest claim's value (the lowest support, the most missing numbers), so an answer is
judged by its weakest part.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError, check_choice
from ..text import strip_citations
from ..verify.claims import claim_inputs, split_claims
from ..verify.combiner import Combiner, fit_combiner
from ..datasets.claims import GuardExample, load_guard_file
from ..verify.evidence import windows_from_texts
from ..metrics.verifier import auroc, balanced_accuracy, best_balanced_threshold, ece, f1_unsupported, threshold_for_precision
from ..verify.scorers import GenerationScorer
from ..eval.result import BenchResult, bench_result

# features where a larger value means *less* support
WORSE_IF_HIGHER = frozenset({"missing_numbers", "missing_names", "neg_mismatch", "log_len", "missing_words"})


@dataclass(frozen=True)
class FeatureTable:
    X: np.ndarray
    y: np.ndarray
    groups: list[str]
    features: tuple[str, ...]
    n_claims: int
    seconds: float
    ids: list[str]


def example_claims(ex: GuardExample) -> list[tuple[str, ...]]:
    """(text, focus, asserted) claims of a benchmark example (see ``claims.claim_inputs``)."""
    if ex.question is not None:
        spans = split_claims(ex.claim, ex.question)
        return [claim_inputs(c, ex.claim) for c in spans] or [(ex.claim, ex.claim)]
    text, _ = strip_citations(ex.claim)
    return [(text, text)]


def featurize(guard: Any, examples: Sequence[GuardExample], *, fmt: str = "plain", batch: int = 64, show_progress: bool = True) -> FeatureTable:
    """Feature rows (one per example) from ``guard``'s signals. Claim benchmarks have no generator,
    so the generation-confidence columns are left out of the table."""
    guard.warm_up()
    keep = [i for i, f in enumerate(guard.features) if f not in GENERATION_FEATURES]
    feats = tuple(guard.features[i] for i in keep)
    worse = np.array([f in WORSE_IF_HIGHER for f in feats])
    rows: list[np.ndarray] = []
    n_claims = 0
    t0 = time.perf_counter()
    it = range(0, len(examples), batch)
    if show_progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="scoring claims", unit="batch", file=sys.stderr)
    for s in it:
        chunk = examples[s : s + batch]
        ctx, owner = [], []
        for j, ex in enumerate(chunk):
            pre_split = fmt == "wice" or (len(ex.evidence) > 1 and not ex.meta.get("passages"))
            wins = windows_from_texts(list(ex.evidence), guard.max_sentences, pre_split=pre_split)
            cl = example_claims(ex)
            ctx.extend(guard.contexts(cl, wins))
            owner.extend([j] * len(cl))
        X, _, _ = guard.signals(ctx)
        X = X[:, keep]
        n_claims += len(ctx)
        owner_a = np.array(owner)
        for j in range(len(chunk)):
            sub = X[owner_a == j]
            rows.append(np.where(worse, sub.max(0), sub.min(0)))
    seconds = time.perf_counter() - t0
    return FeatureTable(np.vstack(rows), np.array([e.label for e in examples]), [e.group or e.id for e in examples], feats, n_claims, seconds, [e.id for e in examples])


def half_split(groups: Sequence[str], salt: str = "groundqa") -> np.ndarray:
    """A boolean mask: True for the fitting half, by a stable hash of each example's group id."""
    return np.array([int(hashlib.sha1(f"{salt}:{g}".encode()).hexdigest(), 16) % 2 == 0 for g in groups])


# The signals the combiner uses by default: one of each kind, dropping near-duplicates (lex_best,
# lex_union, lex_all, bigram_best and nli_best correlate strongly with these). Calibration sets
# are small (hundreds of claims), so fewer weights generalise better; the others stay in
# ClaimVerdict.signals for inspection.
COMBINER_FEATURES = (
    "seg_lex_min", "idf_union", "focus_all", "missing_numbers", "missing_names", "missing_words", "log_len",
    "emb_best", "nli_concat", "nli_seg_min", "ans_ctx", "ans_gap",
    "judge",  # judge: only where an LLM judge is configured
)
# The generator's confidence (GenerationScorer): only calibrations fitted on a generator's own
# answers use them (benchmarks/calibrate_pipeline.py); claim benchmarks have no generator.
GENERATION_FEATURES = GenerationScorer.features
DEFAULT_L2 = 3.0


def combiner_columns(features: Sequence[str], wanted: Sequence[str] | None = None) -> list[int]:
    """Indices of the combiner's features among ``features`` (the default set, where present)."""
    wanted = COMBINER_FEATURES if wanted is None else wanted
    return [features.index(f) for f in wanted if f in features]


def predict(comb: Combiner, X: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """The combiner's P(supported) for rows ``X`` whose columns are named ``features``."""
    return comb.predict_proba(X[:, [list(features).index(f) for f in comb.features]])


def fit_with_thresholds(X: np.ndarray, y: np.ndarray, features: Sequence[str], target_precision: float, info: dict[str, Any],
                        l2: float = DEFAULT_L2, wanted: Sequence[str] | None = None) -> Combiner:
    """Fit the combiner on the ``wanted`` columns (default ``COMBINER_FEATURES``) and pick its
    balanced and target-precision thresholds on the same rows."""
    cols = combiner_columns(list(features), wanted)
    comb = fit_combiner(X[:, cols], y, [features[i] for i in cols], l2=l2, info=info)
    p = comb.predict_proba(X[:, cols])
    t_bal = best_balanced_threshold(y, p)
    t_prec = threshold_for_precision(y, p, target_precision)
    return comb.with_thresholds(t_bal, {"balanced": t_bal, "precision": t_prec, "target_precision": target_precision})


def evaluate(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    pred = (p >= threshold).astype(int)
    return {
        "balanced_accuracy": balanced_accuracy(y, pred),
        "auroc": auroc(y, p),
        "f1_unsupported": f1_unsupported(y, pred),
        "ece": ece(y, p),
        "n": int(len(y)),
        "supported": int(y.sum()),
    }


@dataclass(frozen=True)
class CalibrateConfig:
    """``groundqa calibrate``'s settings (the flags of the same names)."""

    data: str
    out: str
    verifier: str = "default"
    target_precision: float = 0.9
    embedder: str = "minilm-l6"
    judge: str | None = None
    judge_dtype: str = "fp32"
    limit: int | None = None
    split: str = "all"  # "half": fit on one half by claim id and report the other


def run_calibrate(config: CalibrateConfig) -> BenchResult:
    """``groundqa calibrate``: fit the guard's combiner and thresholds on ``--data`` and write ``--out``."""
    from ..pipeline.build import make_guard

    if not 0.0 < config.target_precision < 1.0:
        raise ConfigError(f"--target-precision={config.target_precision!r} is not valid; pass a number in (0, 1), e.g. 0.9")
    fmt, examples = load_guard_file(config.data, config.limit)
    guard = make_guard(config.verifier, config.embedder, judge=config.judge, judge_dtype=config.judge_dtype)
    table = featurize(guard, examples, fmt=fmt)
    info = {
        "data": str(config.data),
        "format": fmt,
        "examples": len(examples),
        "supported": int(table.y.sum()),
        "verifier": config.verifier,
        "embedder": config.embedder,
        "split": config.split,
    }
    report: dict[str, Any] = {}
    if config.split == "half":
        fit = half_split(table.groups)
        comb = fit_with_thresholds(table.X[fit], table.y[fit], table.features, config.target_precision, info)
        held = evaluate(table.y[~fit], predict(comb, table.X[~fit], table.features), comb.threshold)
        report["held_out_half"] = held
    else:
        comb = fit_with_thresholds(table.X, table.y, table.features, config.target_precision, info)
    report["fit"] = evaluate(table.y, predict(comb, table.X, table.features), comb.threshold)
    comb = comb.with_thresholds(comb.threshold, comb.thresholds, {**info, "metrics": report})
    comb.save(config.out)
    print(json.dumps({"out": str(config.out), "threshold": comb.threshold, "thresholds": dict(comb.thresholds), **report}, indent=2))
    return bench_result("calibrate", config, {"threshold": comb.threshold, "thresholds": dict(comb.thresholds), **report}, [config.data])
