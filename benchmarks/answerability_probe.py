"""Does the generator's hidden state know a question is unanswerable before it answers? (issue 21,
thirteenth session)

SQuAD v2.0's goal (90% of unanswerable questions declined with 65% of answerable ones answered)
is bounded at 33% answered by the guard's signals on the default generator (eleventh session):
they tell an answer to an unanswerable question from a right one barely better than chance
(AUROC 0.69). The calibration set cannot teach a probe the difference: its answerable SQuAD
questions come from three articles and its unanswerable ones from 23 others, so a probe learns the
article. This script draws both kinds from the *same* articles.

``collect``: from each SQuAD v2.0 dev article outside the benchmarks' held-out ones (the last 12 in
title order), ``--per-article`` answerable and as many unanswerable questions (the demo's
paragraphs and the calibration set's questions left out), asked end to end as
``calibration_set.py`` asks them (the same cached index, 4 passages, the guard at threshold 1.0 so
every claim keeps its signals and reasons). While the generator reads each prompt, forward hooks on
decoder layers ``--layers`` keep the state of the prompt's last token (what the model holds before
its first answer token). Writes the answers (JSONL, the calibration set's format, domain
``squad2``) and one NPZ part per batch (ids, layers, states); resumable.

``eval``: for each layer, a linear probe (standardised, PCA, L2 logistic) for "answerable", each
article scored by a probe fitted on the other articles; and the guard's support under a
calibration file, alone and combined with the probe (the combination also fitted article by
article). Reports AUROC answerable vs unanswerable and right vs not over the answers the generator
gave, and the v2.0 goal's operating point: the share of answerable questions answered when the
threshold declines 90% of the unanswerable ones (the generator's own declines count as declined).

    python benchmarks/answerability_probe.py collect runs/answerability/answers.jsonl --per-article 20
    python benchmarks/answerability_probe.py eval runs/answerability/answers.jsonl \
        --json benchmarks/results/calibration/answerability_probe.json

The default adapter's training draws (SQuAD training articles) saw about 6% of these articles'
answerable questions (384 examples of each stage's file); their paragraphs were read with other
questions, the unanswerable questions' too. Jacksonville, Florida is one of the adapter's dev
articles (never trained on) and is reported on its own.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (4, 8, 12, 16, 20, 23)
CLEAN = "Jacksonville,_Florida"  # an adapter dev article: none of its questions was trained on


def draw(per_article: int, seed: int) -> list[dict[str, Any]]:
    """``per_article`` answerable and as many unanswerable v2.0 questions of each non-held-out
    article (fewer where it has fewer), demo paragraphs and calibration-set questions left out."""
    from calibration_set import SHARED, sample_paragraphs, squad_questions  # this script's folder is on sys.path

    from groundqa.datasets.squad import load_squad

    v2 = load_squad(str(SHARED / "squad_v2.0_dev" / "dev-v2.0.json"))
    held = set(sorted({i.doc_id for i in v2})[-12:])
    demo = sample_paragraphs()
    cal = {q["id"] for q in squad_questions(120, 80, seed=0)[1]}
    by: dict[str, tuple[list[Any], list[Any]]] = {}
    for it in v2:
        if it.doc_id in held or it.id in cal or " ".join(it.context.split())[:200] in demo:
            continue
        by.setdefault(it.doc_id, ([], []))[0 if it.answers else 1].append(it)
    rng = random.Random(seed)
    qs = []
    for art in sorted(by):
        ans, una = by[art]
        rng.shuffle(ans)
        rng.shuffle(una)
        for it in ans[:per_article] + una[:per_article]:
            qs.append({"domain": "squad2", "group": art, "id": it.id, "question": it.question, "answers": list(it.answers),
                       "answerable": bool(it.answers)})
    return qs


class PromptStates:
    """While a generator's ``model.generate`` runs, keeps the last position's output of each decoder
    layer in ``layers`` at its first forward call (the prompt; after a cached prefix, its suffix)."""

    def __init__(self, gen: Any, layers: tuple[int, ...]) -> None:
        from groundqa.generate.probe import decoder_layers

        self.gen, self.layers = gen, layers
        self.mods = [decoder_layers(gen._model)[k - 1] for k in layers]
        self.by_question: dict[str, np.ndarray] = {}
        self._questions: list[str] = []  # the batch _run_batch is writing, in its row order
        model = gen._model
        orig_generate = model.generate
        orig_run = gen._run_batch

        def run(questions: list[str], passages: Any, overrides: Any) -> Any:
            self._questions = questions
            return orig_run(questions, passages, overrides)

        def generate(*a: Any, **kw: Any) -> Any:
            got: dict[int, np.ndarray] = {}

            def hook(i: int) -> Any:
                def f(module: Any, args: Any, output: Any) -> None:
                    if i not in got:
                        h = output[0] if isinstance(output, (tuple, list)) else output
                        got[i] = h[:, -1, :].detach().float().cpu().numpy()
                return f

            handles = [m.register_forward_hook(hook(i)) for i, m in enumerate(self.mods)]
            try:
                out = orig_generate(*a, **kw)
            finally:
                for h in handles:
                    h.remove()
            for row, q in enumerate(self._questions):
                self.by_question[q] = np.stack([got[i][row] for i in range(len(self.mods))])
            return out

        gen._run_batch = run
        model.generate = generate


def collect(out: Path, per_article: int, seed: int, cache: Path, batch_size: int, layers: tuple[int, ...],
            generator: str = "default") -> int:
    from calibration_set import right

    from groundqa.generate.hf import TransformersGenerator
    from groundqa.index import HybridIndex
    from groundqa.pipeline import Pipeline
    from groundqa.verify.guard import Guard

    qs = draw(per_article, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines() if line.strip()} if out.exists() else set()
    todo = [q for q in qs if q["id"] not in done]
    print(f"{len(qs)} questions ({sum(q['answerable'] for q in qs)} answerable, {len({q['group'] for q in qs})} articles), "
          f"{len(todo)} to answer", file=sys.stderr, flush=True)
    if not todo:
        return 0
    gen = TransformersGenerator(generator, batch_size=batch_size)
    gen.warm_up()
    keep = PromptStates(gen, layers)
    index = HybridIndex.load(cache / "squad")
    pipe = Pipeline(index, gen, Guard("default", embedder=index.embedder, threshold=1.0, reader="none"), policy="return", top_k=4)
    t0 = time.perf_counter()
    with out.open("a", encoding="utf-8") as f:
        for s in range(0, len(todo), batch_size):
            part = todo[s : s + batch_size]
            keep.by_question.clear()
            answers = pipe.ask_batch([q["question"] for q in part])
            ids, hs = [], []
            for q, a in zip(part, answers):
                f.write(json.dumps(dict(q, generated=a.generated, declined=a.verdict == "declined", right=right(q, a.generated),
                                        grounded=bool(a.grounding), generator=gen.name,
                                        claims=[{"text": c.text, "signals": dict(c.signals), "reasons": list(c.reasons)} for c in a.claims])) + "\n")
                h = keep.by_question.get(q["question"].strip())
                if h is not None:
                    ids.append(q["id"])
                    hs.append(h)
            f.flush()
            if ids:
                k = len(list(out.parent.glob(out.stem + ".part*.npz")))
                np.savez(out.parent / f"{out.stem}.part{k:04d}.npz", ids=np.array(ids), layers=np.array(layers),
                         h=np.stack(hs).astype(np.float16))
            n = s + len(part)
            print(f"{n}/{len(todo)} ({(time.perf_counter() - t0) / n:.2f} s/question)", file=sys.stderr, flush=True)
    return 0


def load_states(answers: Path) -> tuple[dict[str, np.ndarray], tuple[int, ...]]:
    states: dict[str, np.ndarray] = {}
    layers: tuple[int, ...] = ()
    for p in sorted(answers.parent.glob(answers.stem + ".part*.npz")):
        with np.load(p) as z:
            layers = tuple(int(x) for x in z["layers"])
            states.update(zip(z["ids"].tolist(), z["h"].astype(np.float32)))
    return states, layers


def probe_oof(X: np.ndarray, y: np.ndarray, groups: np.ndarray, l2: float, dims: int) -> np.ndarray:
    """Each group's scores from a probe (``generator_hidden_probe.fit_probe``: standardised states,
    their top ``dims`` principal directions or all of them with ``dims`` 0, L2 logistic) fitted on
    the other groups."""
    from generator_hidden_probe import fit_probe  # this script's folder is on sys.path

    out = np.zeros(len(y))
    for g in np.unique(groups):
        te = groups == g
        out[te] = fit_probe(X[~te], y[~te], l2, min(dims, int((~te).sum()) - 1) if dims else 0)(X[te])
    return out


def operating_point(score: np.ndarray, answerable: np.ndarray, declined: np.ndarray, decline_share: float = 0.9) -> dict[str, float]:
    """The lowest threshold that declines ``decline_share`` of the unanswerable questions (the
    generator's declines count as declined), and the share of answerable questions it answers."""
    una = ~answerable
    need = int(np.ceil(decline_share * una.sum())) - int((una & declined).sum())  # declines the guard must add
    s_una = np.sort(score[una & ~declined])
    if need <= 0:
        t = -np.inf
    else:
        t = float(s_una[need - 1]) if need <= len(s_una) else np.inf
    answered = answerable & ~declined & (score > t)
    return {"threshold": round(float(t), 4) if np.isfinite(t) else None,
            "answerable_answered": round(float(answered.sum() / answerable.sum()), 4),
            "unanswerable_declined": round(float(1 - (una & ~declined & (score > t)).sum() / una.sum()), 4)}


def evaluate(answers: Path, calibrations: list[str], l2s: tuple[float, ...], dims: int, out_json: Path | None) -> int:
    from calibration_fit import CAPS
    from generator_hidden_probe import auroc  # this script's folder is on sys.path

    from groundqa.verify.combiner import Combiner

    recs = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines() if line.strip()]
    states, layers = load_states(answers)
    answerable = np.array([r["answerable"] for r in recs])
    declined = np.array([r["declined"] or not r["claims"] for r in recs])
    report: dict[str, Any] = {
        "questions": len(recs), "answerable": int(answerable.sum()), "articles": len({r["group"] for r in recs}),
        "generator_declined": {"answerable": int((answerable & declined).sum()), "unanswerable": int((~answerable & declined).sum())},
        "generator_right": int(sum(r["right"] for r in recs)), "layers": list(layers), "signals": {},
    }
    ans = [i for i, r in enumerate(recs) if not declined[i] and r["id"] in states]
    y_ans = answerable[ans]
    y_right = np.array([recs[i]["right"] for i in ans])
    groups = np.array([recs[i]["group"] for i in ans])
    clean = groups == CLEAN

    def row(s: np.ndarray) -> dict[str, Any]:
        full = np.full(len(recs), -np.inf)
        full[ans] = s
        return {"auroc_answerable": round(auroc(s, y_ans), 4), "auroc_right": round(auroc(s, y_right), 4),
                f"auroc_answerable_{CLEAN}": round(auroc(s[clean], y_ans[clean]), 4),
                "at_90pct_unanswerable_declined": operating_point(full, answerable, declined)}

    sig: dict[str, np.ndarray] = {}
    for cal in calibrations:
        comb = Combiner.load(cal if cal != "default" else ROOT / "src" / "groundqa" / "data" / "verifier" / "calibration.json")
        sup = []
        for i in ans:
            r = recs[i]
            X = np.array([[c["signals"].get(f, np.nan) for f in comb.features] for c in r["claims"]], dtype=np.float64)
            X = np.where(np.isnan(X), np.asarray(comb.mean)[None, :], X)
            capped = any(CAPS.search(w) for c in r["claims"] for w in c["reasons"])
            sup.append(-1.0 if capped else float(np.min(comb.predict_proba(X))))
        name = f"support:{Path(cal).name if cal != 'default' else 'calibration.json'}"
        sig[name] = np.array(sup)
        report["signals"][name] = row(sig[name])
        returned = np.zeros(len(recs), bool)
        returned[ans] = sig[name] >= comb.threshold
        report["signals"][name]["at_its_threshold"] = {
            "threshold": round(float(comb.threshold), 4),
            "answerable_answered": round(float((returned & answerable).sum() / answerable.sum()), 4),
            "unanswerable_declined": round(float(1 - (returned & ~answerable).sum() / (~answerable).sum()), 4),
            "returned_right": int(sum(recs[i]["right"] for i in np.flatnonzero(returned))), "returned": int(returned.sum())}
        print(f"{name}: {report['signals'][name]}", file=sys.stderr, flush=True)
    for layer in layers:
        X = np.stack([states[recs[i]["id"]][layers.index(layer)] for i in ans])
        for l2 in l2s:
            s = probe_oof(X, y_ans.astype(int), groups, l2, dims)
            name = f"probe:layer{layer}:l2={l2}"
            sig[name] = s
            report["signals"][name] = row(s)
            print(f"{name}: {report['signals'][name]}", file=sys.stderr, flush=True)
    best = max((k for k in sig if k.startswith("probe:")), key=lambda k: report["signals"][k]["auroc_answerable"])
    report["best_probe"] = best
    for k in [k for k in sig if k.startswith("support:")]:
        logit = np.log(np.clip(sig[k], 1e-4, 1 - 1e-4) / (1 - np.clip(sig[k], 1e-4, 1 - 1e-4)))
        Z = np.stack([logit, sig[best]], axis=1)
        s = probe_oof(Z, y_right.astype(int), groups, 1.0, 0)
        report["signals"][f"{k} + {best}"] = row(s)
        print(f"{k} + {best}: {report['signals'][f'{k} + {best}']}", file=sys.stderr, flush=True)
    report["command"] = "python " + " ".join(sys.argv)
    print(json.dumps({k: v for k, v in report.items() if k != "signals"}, indent=1))
    print(f"{'signal':58s} {'AUROC ans':>9s} {'AUROC right':>11s} {'Jax':>6s} {'answered @90% declined':>22s}")
    for k, v in report["signals"].items():
        print(f"{k:58s} {v['auroc_answerable']:9.3f} {v['auroc_right']:11.3f} {v[f'auroc_answerable_{CLEAN}']:6.3f} "
              f"{v['at_90pct_unanswerable_declined']['answerable_answered']:22.3f}")
    if out_json:
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


def merge(answers: Path, cal_answers: Path, cal_npz: Path, out: Path, layer: int, l2: float, dims: int) -> int:
    """The calibration answers again with ``gen_answerable`` in each claim's signals: the
    answerability probe at ``layer`` (fitted on the same-article answers of ``answers``) over the
    prompt-last state ``generator_hidden_probe.py extract`` kept for each calibration answer
    (``cal_npz``). A SQuAD calibration answer is scored by a probe fitted without its article."""
    from generator_hidden_probe import fit_probe
    from generator_hidden_probe import load as load_extracted
    from generator_hidden_probe import states as extracted_states

    recs = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines() if line.strip()]
    st, layers = load_states(answers)
    use = [r for r in recs if not r["declined"] and r["claims"] and r["id"] in st]
    X = np.stack([st[r["id"]][layers.index(layer)] for r in use])
    y = np.array([r["answerable"] for r in use], dtype=int)
    groups = np.array([r["group"] for r in use])

    def probe(keep: np.ndarray) -> Any:
        return fit_probe(X[keep], y[keep], l2, dims)

    probes: dict[str, Any] = {"": probe(np.ones(len(y), bool))}
    ids, H, cal_layers = load_extracted(cal_npz)
    pos = {x: i for i, x in enumerate(ids)}
    cal = [json.loads(line) for line in cal_answers.read_text(encoding="utf-8").splitlines() if line.strip()]
    n = 0
    for r in cal:
        if r["id"] not in pos or not r["claims"]:
            continue
        art = r["group"] if r["domain"] == "squad" else ""
        if art not in probes:
            probes[art] = probe(groups != art)
        v = float(probes[art](extracted_states(H, [pos[r["id"]]], layer, "prompt_last", cal_layers))[0])
        for c in r["claims"]:
            c["signals"]["gen_answerable"] = round(v, 5)
        n += 1
    out.write_text("".join(json.dumps(r) + "\n" for r in cal), encoding="utf-8")
    print(f"{n} calibration answers scored; written to {out}", file=sys.stderr)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("out", help="answers JSONL; the states go beside it (<stem>.partNNNN.npz)")
    c.add_argument("--per-article", type=int, default=20)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--cache", default="runs/calibration/index", help="calibration_set.py's cached indexes (its squad index)")
    c.add_argument("--batch-size", type=int, default=8)
    c.add_argument("--layers", default=",".join(map(str, LAYERS)), help="decoder layers (1-based) whose prompt-last state is kept")
    c.add_argument("--generator", default="default", help="profile or folder (the 1.5B candidate: runs/qwen15-accurate)")
    c.add_argument("--threads", type=int, default=2)
    e = sub.add_parser("eval")
    e.add_argument("answers")
    e.add_argument("--calibration", default="default", help="comma-separated calibration files whose support is compared (default: the shipped one)")
    e.add_argument("--l2", default="10,100")
    e.add_argument("--pca", type=int, default=64)
    e.add_argument("--json", default=None)
    m = sub.add_parser("merge", help="the calibration answers with gen_answerable, for calibration_fit.py")
    m.add_argument("answers", help="the same-article answers of collect (their states beside them)")
    m.add_argument("cal_answers", help="calibration answers (JSONL)")
    m.add_argument("cal_npz", help="generator_hidden_probe.py extract's NPZ of those answers")
    m.add_argument("out")
    m.add_argument("--layer", type=int, default=16)
    m.add_argument("--l2", type=float, default=100.0)
    m.add_argument("--pca", type=int, default=64)
    args = ap.parse_args()
    if args.cmd == "merge":
        return merge(Path(args.answers), Path(args.cal_answers), Path(args.cal_npz), Path(args.out), args.layer, args.l2, args.pca)
    if args.cmd == "collect":
        import torch

        torch.set_num_threads(args.threads)
        return collect(Path(args.out), args.per_article, args.seed, Path(args.cache), args.batch_size,
                       tuple(int(x) for x in args.layers.split(",")), args.generator)
    return evaluate(Path(args.answers), [c.strip() for c in args.calibration.split(",") if c.strip()],
                    tuple(float(x) for x in args.l2.split(",")), args.pca, Path(args.json) if args.json else None)


if __name__ == "__main__":
    sys.exit(main())
