"""The generator's hidden-state probe (issue 21, tenth session): does the default generator's
hidden state know when its answer is wrong?

``extract``: for each stored answer (a ``calibration_set.py`` answers file), the prompt the
generator read is rebuilt (the same retrieval from the cached indexes, the same windows) and read
once with the answer it wrote (teacher-forced, one forward pass); the hidden states of layers
4, 8, ..., 24 are kept at three places: the prompt's last token (before it answered), the mean over
the answer's tokens, and the answer's last token. About 2.4 s an answer on two threads; resumable
(a part file every 32 answers, answers already in them skipped).

``eval``: a linear probe for each layer and place (standardised, PCA, L2 logistic), each corpus
scored by a probe fitted on the other corpora; then the best one as one more combiner signal,
nested leave one corpus out (the left-out corpus is seen by neither the probe nor the combiner).

``fit``: the probe on every answer, written beside the adapter (``groundqa_probe.json``), and the
answers file again with ``gen_probe`` in each claim's signals, each corpus's value from a probe
fitted on the other corpora, for ``calibration_fit.py``.

``collect``: more of the generator's own answers with their states, kept by the generator's hook
while it writes: calibration or docs-QA questions asked with other numbers of passages, or (``--squad
A,U``) a larger draw of SQuAD questions made as ``calibration_set.py`` makes it.

``fit --within squad`` scores SQuAD's calibration answers article by article (a probe fitted on all
but the article, collected answers included) instead of by a probe that never saw SQuAD.

``cost``: generation time with and without the probe, interleaved.

``keep``: copy another extract's part files, keeping only the answers of the given domains, into a
new NPZ name; ``extract`` into that name then reads only the rest. For an answers file where some
corpora were answered again (fifteenth session: Click, Flask and Jinja read by another loader), the
states of the answers that did not change are reused. An answer answered again has the same id, so
reusing its old part would pair the new answer with the old states.

``extract --generator runs/qwen15-answers --layers 4,8,...,28`` reads another generator's answers
(the 1.5B adapter of ``recipes/qwen15_accurate`` has 28 layers); the part files keep their layers, and ``eval``
and ``fit`` read them from there.

    python benchmarks/generator_hidden_probe.py extract benchmarks/results/calibration/calibration_answers.jsonl runs/probe/cal.npz
    python benchmarks/generator_hidden_probe.py eval runs/probe/cal.npz benchmarks/results/calibration/calibration_answers.jsonl \
        --json benchmarks/results/calibration/generator_hidden_probe.json
    python benchmarks/generator_hidden_probe.py fit runs/probe/cal.npz benchmarks/results/calibration/calibration_answers.jsonl \
        --folder src/groundqa/data/adapters/qwen2.5-coder-0.5b-squad-lora --merged benchmarks/results/calibration/calibration_answers_probe.jsonl
    python benchmarks/generator_hidden_probe.py cost benchmarks/results/calibration/calibration_answers.jsonl \
        --json benchmarks/results/calibration/generator_probe_cost.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

LAYERS = (4, 8, 12, 16, 20, 24)
PLACES = ("prompt_last", "answer_mean", "answer_last")


def answer_text(generated: str) -> str:
    from groundqa.text import strip_citations

    return strip_citations(generated)[0].strip()


def extract(src: Path, out: Path, cache: Path, threads: int, generator: str = "default",
            layers: tuple[int, ...] = LAYERS, int8: str | None = None) -> int:
    import torch

    from groundqa.generate import make_generator
    from groundqa.index import HybridIndex

    torch.set_num_threads(threads)
    recs = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    recs = [r for r in recs if not r["declined"] and r["claims"]]
    parts = sorted(out.parent.glob(out.stem + ".part*.npz"))
    done = {str(i) for p in parts for i in np.load(p)["ids"]}
    todo = [r for r in recs if r["id"] not in done]
    print(f"{len(recs)} answers, {len(todo)} to read", file=sys.stderr, flush=True)
    for p in parts:
        if part_layers(p) != layers:
            raise SystemExit(f"{p} holds other layers than --layers {','.join(map(str, layers))}: extract into another NPZ name")
    gen = make_generator(generator, **({"int8": int8} if int8 else {}))
    gen.warm_up()
    model, tok = gen.model, gen.tokenizer
    by: dict[str, list[dict[str, Any]]] = {}
    for r in todo:
        by.setdefault(r["domain"], []).append(r)
    buf: dict[str, list[Any]] = {"ids": [], "h": []}

    def flush() -> None:
        if buf["ids"]:
            k = len(list(out.parent.glob(out.stem + ".part*.npz")))
            np.savez(out.parent / f"{out.stem}.part{k:03d}.npz", ids=np.array(buf["ids"]), h=np.stack(buf["h"]).astype(np.float16),
                     layers=np.array(layers))
            buf["ids"].clear()
            buf["h"].clear()

    t0, n = time.perf_counter(), 0
    for dom, rows in by.items():
        index = HybridIndex.load(cache / dom)
        hits = index.search_batch([r["question"].strip() for r in rows], top_k=4)
        for r, h in zip(rows, hits):
            prompt = gen.prompt(r["question"].strip(), h)
            p = tok(prompt, add_special_tokens=gen._special())["input_ids"]
            a = tok(answer_text(r["generated"]), add_special_tokens=False)["input_ids"] or p[-1:]
            with torch.inference_mode():
                hs = model(input_ids=torch.tensor([p + a]), output_hidden_states=True).hidden_states
            feats = []
            for layer in layers:
                x = hs[layer][0].float()
                feats.append(np.stack([x[len(p) - 1].numpy(), x[len(p):].mean(0).numpy(), x[-1].numpy()]))
            buf["ids"].append(r["id"])
            buf["h"].append(np.stack(feats))  # layers x places x hidden
            n += 1
            if len(buf["ids"]) >= 32:
                flush()
                print(f"{n}/{len(todo)} ({(time.perf_counter() - t0) / n:.2f} s/answer)", file=sys.stderr, flush=True)
    flush()
    return 0


def states(H: np.ndarray, rows: list[int], layer: int, place: str, layers: tuple[int, ...] = LAYERS) -> np.ndarray:
    """The states a probe at ``layer`` over ``place`` (comma-separated places) reads, for the
    answers at ``rows`` of ``H`` (extracted at ``layers``): the places joined in order, as the
    generator joins them."""
    if layer not in layers:
        raise SystemExit(f"layer {layer} was not extracted; the NPZ holds layers {','.join(map(str, layers))}")
    return np.concatenate([H[rows, layers.index(layer), PLACES.index(p.strip())] for p in place.split(",")], axis=1)


def extra_states(e: Any, place: str) -> np.ndarray:
    """The states of ``place`` (comma-separated) in an NPZ of ``collect``, which keeps the places
    it was asked for (``place``; files without it kept the answer mean), joined in that order."""
    kept = [p.strip() for p in str(e["place"]).split(",")] if "place" in e else ["answer_mean"]
    want = [p.strip() for p in place.split(",")]
    if any(p not in kept for p in want):
        raise SystemExit(f"the collected states hold {','.join(kept)}; the probe reads {place}: collect them with --place {place}")
    h = e["h"].astype(np.float32)
    size = h.shape[1] // len(kept)
    return np.concatenate([h[:, kept.index(p) * size : (kept.index(p) + 1) * size] for p in want], axis=1)


def fresh(e: Any, cal_ids: set[str]) -> np.ndarray:
    """Which answers of a ``collect`` NPZ are new: not a calibration question asked again as the
    calibration set asked it (4 passages), which would count the same answer twice."""
    return np.array([not (i.endswith("#k4") and i[: -len("#k4")] in cal_ids) for i in e["ids"].tolist()], bool)


def load_extra(paths: tuple[Path, ...], cal_ids: set[str], place: str, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``collect`` answers of ``paths`` that are new (:func:`fresh`): their states at ``place``
    (``dim`` values each), labels, domains and groups (articles; empty where not recorded)."""
    ex = [dict(np.load(p)) for p in paths]
    if not ex:
        return np.zeros((0, dim), np.float32), np.zeros(0, bool), np.zeros(0, str), np.zeros(0, str)
    keep = [fresh(e, cal_ids) for e in ex]
    return (np.concatenate([extra_states(e, place)[k] for e, k in zip(ex, keep)]),
            np.concatenate([e["labels"][k] for e, k in zip(ex, keep)]).astype(bool),
            np.concatenate([e["domains"][k] for e, k in zip(ex, keep)]),
            np.concatenate([e["groups"][k] if "groups" in e else np.full(int(k.sum()), "") for e, k in zip(ex, keep)]))


def questions_of(path: Path) -> list[dict[str, Any]]:
    """The questions of a calibration answers file (JSONL), or of a docs-QA questions file
    (``benchmarks/data/docs_qa/<corpus>_questions*.json``, its corpus from the file name)."""
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    corpus = path.name.split("_questions")[0]
    return [{"domain": corpus, "group": q["source"] or f"unanswerable:{q['id']}", "id": q["id"], "question": q["question"],
             "answers": q["answers"], "answerable": q["answerable"]} for q in json.loads(path.read_text(encoding="utf-8"))["questions"]]


def collect(answers: list[Path], out: Path, cache: Path, top_ks: tuple[int, ...], threads: int,
            squad: tuple[int, int] | None = None, place: str | None = None) -> int:
    """More of the generator's own answers for fitting a probe: each question of ``answers`` asked
    again with ``top_k`` passages for each of ``top_ks`` (other prompts, so partly other answers),
    the probe's states kept while the generator writes (its hook, no second pass), each answer
    judged by the calibration set's rule. Declines are left out. With ``squad`` (answerable,
    unanswerable), also SQuAD questions drawn as ``calibration_set.py`` draws them (the same seed,
    so a superset of its questions; their ids are the calibration set's). One NPZ per top_k: ids
    (``<id>#k<top_k>``), domains, groups, labels, place, states (the shipped probe's layer; its
    places unless ``place`` names others)."""
    import dataclasses

    import torch
    from calibration_set import right, squad_questions  # this script's folder is on sys.path

    from groundqa.generate import make_generator
    from groundqa.generate.probe import HiddenProbe
    from groundqa.index import HybridIndex

    torch.set_num_threads(threads)
    recs = [r for p in answers for r in questions_of(p)]
    if squad:
        recs += squad_questions(squad[0], squad[1], seed=0)[1]
    gen = make_generator("default")
    gen.warm_up()
    seen: list[np.ndarray] = []

    class Keep(HiddenProbe):
        def score(self, hidden: np.ndarray) -> float:  # keep the states; the "score" is where they are kept
            seen.append(np.asarray(hidden, dtype=np.float32))
            return float(len(seen) - 1)

    base = gen.probe
    assert base is not None, "the default generator's folder has no probe"
    keep = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
    gen.probe = Keep(**dict(keep, place=place or base.place))
    by: dict[str, list[dict[str, Any]]] = {}
    for r in recs:
        by.setdefault(r["domain"], []).append(r)
    for k in top_ks:
        path = out.parent / f"{out.stem}.k{k}.npz"
        if path.exists():
            continue
        ids, doms, groups, labels, hs = [], [], [], [], []
        t0 = time.perf_counter()
        for dom, rows in by.items():
            index = HybridIndex.load(cache / dom)
            for s in range(0, len(rows), 64):  # report as it goes: a SQuAD draw takes an hour
                part = rows[s : s + 64]
                qs = [r["question"].strip() for r in part]
                hits = index.search_batch(qs, top_k=k)
                for g, r in zip(gen.generate_batch(qs, hits), part):
                    if g.declined or "probe" not in g.confidence:
                        continue
                    ids.append(f"{r['id']}#k{k}")
                    doms.append(dom)
                    groups.append(str(r.get("group", "")))
                    labels.append(bool(right(r, g.text)))
                    hs.append(seen[int(g.confidence["probe"])])
                print(f"top_k {k}: {dom} {s + len(part)}/{len(rows)}, {len(ids)} answers ({time.perf_counter() - t0:.0f} s)",
                      file=sys.stderr, flush=True)
        np.savez(path, ids=np.array(ids), domains=np.array(doms), groups=np.array(groups), labels=np.array(labels),
                 place=np.array(gen.probe.place), h=np.stack(hs).astype(np.float16))
        seen.clear()
    return 0


def part_layers(path: Path) -> tuple[int, ...]:
    """The layers an ``extract`` part file holds (files written before it kept them hold ``LAYERS``)."""
    with np.load(path) as z:
        return tuple(int(x) for x in z["layers"]) if "layers" in z else LAYERS


def load(out: Path) -> tuple[list[str], np.ndarray, tuple[int, ...]]:
    """The ids, states (answers x layers x places x hidden) and layers of ``extract``'s part files
    (files written before it kept its layers hold ``LAYERS``)."""
    parts = sorted(out.parent.glob(out.stem + ".part*.npz"))
    if not parts:
        raise SystemExit(f"no part files {out.stem}.part*.npz beside {out}: run extract first")
    ids = [str(i) for p in parts for i in np.load(p)["ids"]]
    h = np.concatenate([np.load(p)["h"] for p in parts]).astype(np.float32)
    return ids, h, part_layers(parts[0])


SHIPPED = ("seg_lex_min,idf_union,focus_all,missing_numbers,missing_names,missing_words,log_len,emb_best,nli_concat,nli_seg_min,"
           "gen_lp_mean,gen_lp_min,gen_margin_min,gen_span_score,gen_decline_gap").split(",")
COMPACT = "seg_lex_min,idf_union,nli_concat,gen_lp_mean,gen_decline_gap,ans_ctx".split(",")


def collapse(H: np.ndarray, y: np.ndarray, l2: float, dims: int) -> tuple[np.ndarray, float]:
    """Fit the probe (standardise, top ``dims`` principal directions, or every state dimension with
    ``dims`` 0, L2 logistic) and fold it into one weight vector and bias over the raw states:
    ``H @ w + b`` is its log-odds."""
    from groundqa.verify.combiner import fit_logistic

    mu, sd = H.mean(0), H.std(0) + 1e-6
    Z = (H - mu) / sd
    if dims:
        _, _, vt = np.linalg.svd(Z - Z.mean(0), full_matrices=False)
        P = vt[:dims].T
    else:
        P = np.eye(Z.shape[1])
    Zp = Z @ P
    m2, s2 = Zp.mean(0), Zp.std(0) + 1e-9
    w, b = fit_logistic((Zp - m2) / s2, y, l2=l2)
    v = P @ (w / s2)
    return v / sd, float(b - (m2 / s2) @ w - (mu / sd) @ v)


def fit_probe(H: np.ndarray, y: np.ndarray, l2: float, dims: int) -> Any:
    """A linear probe: standardise, keep the top ``dims`` principal directions, L2 logistic; returned
    as the function from states to log-odds (:func:`collapse` gives its weight vector and bias)."""
    w, b = collapse(H, y, l2, dims)
    return lambda X: X @ w + b


def auroc(s: Any, y: Any) -> float:
    s, y = np.asarray(s, float), np.asarray(y, bool)
    if y.all() or (~y).all():
        return float("nan")
    from scipy.stats import rankdata

    r = rankdata(s)
    return float((r[y].sum() - y.sum() * (y.sum() + 1) / 2) / (y.sum() * (~y).sum()))


def evaluate(npz: Path, answers: Path, l2s: tuple[float, ...], dims_list: tuple[int, ...], out_json: Path | None,
             spec: str | None = None, extra: tuple[Path, ...] = ()) -> int:
    from calibration_fit import answer_support  # this script's folder is on sys.path

    from groundqa.metrics.selective import selective_metrics
    from groundqa.verify.combiner import fit_combiner

    ids, H, layers = load(npz)
    pos = {i: k for k, i in enumerate(ids)}
    recs = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines() if line.strip()]
    scored = [r for r in recs if not r["declined"] and r["claims"] and r["id"] in pos]
    # a signal no answer has (a generator without a decline margin scores no gen_decline_gap) is left out
    have = {k for r in scored for c in r["claims"] for k in c["signals"]}
    bases = {name: [f for f in base if f in have] for name, base in (("shipped", SHIPPED), ("compact6", COMPACT))}
    for name, base in (("shipped", SHIPPED), ("compact6", COMPACT)):
        if len(bases[name]) < len(base):
            print(f"{name}: no answer has {sorted(set(base) - have)}; fitted without", file=sys.stderr)
    doms = sorted({r["domain"] for r in recs})
    hy = np.array([r["right"] for r in scored], bool)
    hd = np.array([r["domain"] for r in scored])
    Hs = H[[pos[r["id"]] for r in scored]]
    report: dict[str, Any] = {"answers": len(recs), "scored": len(scored), "right": int(hy.sum()), "probe_auroc": {}, "signals_auroc": {}}

    # 1. each layer and place alone, leave one domain out: AUROC right vs wrong within each domain
    for sig in [g for g in ("gen_lp_mean", "gen_decline_gap", "nli_concat", "ans_ctx", "emb_best") if g in have]:
        v = np.array([np.nan_to_num(r["claims"][0]["signals"].get(sig, 0.0)) for r in scored]) * (-1 if sig == "gen_decline_gap" else 1)
        report["signals_auroc"][sig] = {d: round(auroc(v[hd == d], hy[hd == d]), 3) for d in doms}
    best = None
    for li, layer in enumerate(layers):
        for pi, place in enumerate(PLACES):
            for l2 in l2s:
                for dims in dims_list:
                    s = np.zeros(len(scored))
                    for d in doms:
                        tr = hd != d
                        s[~tr] = fit_probe(Hs[tr, li, pi], hy[tr], l2, dims)(Hs[~tr, li, pi])
                    a = {d: round(auroc(s[hd == d], hy[hd == d]), 3) for d in doms}
                    key = f"L{layer}/{place}/l2={l2}/pca={dims}"
                    a["mean_docs"] = round(float(np.mean([a[d] for d in doms if d != "squad"])), 3)
                    report["probe_auroc"][key] = a
                    print(key, a, file=sys.stderr, flush=True)
                    if best is None or a["mean_docs"] > best[0]:
                        best = (a["mean_docs"], li, pi, l2, dims, key)
    print("signals", json.dumps(report["signals_auroc"]), file=sys.stderr)

    # 2. the best probe as one more combiner signal, nested leave one domain out (the probe for the
    # fitted rows is itself cross-fitted by domain; the left-out domain is seen by neither)
    assert best is not None
    _, li, pi, l2, dims, key = best
    if spec:  # a probe named on the command line instead of the best single layer and place
        layer, place = spec.split(":")
        l2, dims = 10.0, 64
        key = f"L{layer}/{place}/l2={l2}/pca={dims}"
        Xs = states(H, [pos[r["id"]] for r in scored], int(layer), place, layers)
        s = np.zeros(len(scored))
        for d in doms:
            s[hd == d] = fit_probe(Xs[hd != d], hy[hd != d], l2, dims)(Xs[hd == d])
        report["probe_auroc"][key] = {d: round(auroc(s[hd == d], hy[hd == d]), 3) for d in doms}
        report["probe_auroc"][key]["mean_docs"] = round(float(np.mean([report["probe_auroc"][key][d] for d in doms if d != "squad"])), 3)
        hid = {r["id"]: Xs[k] for k, r in enumerate(scored)}
    else:
        hid = {r["id"]: Hs[k, li, pi] for k, r in enumerate(scored)}
    report["chosen_probe"] = key
    lab = {r["id"]: bool(r["right"]) for r in scored}
    dom_of = {r["id"]: r["domain"] for r in scored}
    # more answers for the probe's fit only (``collect``): a corpus's extra answers are left out
    # wherever the corpus itself is
    dim = len(next(iter(hid.values())))
    if extra and int(key[1:].split("/")[0]) != 16:
        raise SystemExit(f"--extra holds layer 16's states (what collect keeps); the probe chosen is {key}: name one with --probe 16:PLACES")
    ex_X, ex_y, ex_d, _ = load_extra(extra, set(hid), key.split("/")[1], dim)  # each calibration question once
    if extra:
        report["extra"] = {"files": [str(p) for p in extra], "answers": int(len(ex_y)), "right": int(ex_y.sum())}

    def train_set(ids: list[str], allowed: set[str]) -> tuple[np.ndarray, np.ndarray]:
        m = np.isin(ex_d, sorted(allowed))
        return (np.concatenate([np.stack([hid[i] for i in ids]), ex_X[m]]),
                np.concatenate([np.array([lab[i] for i in ids], bool), ex_y[m].astype(bool)]))

    def probe_scores(train_doms: list[str], cross: bool) -> dict[str, float]:
        out: dict[str, float] = {}
        ids_t = [i for i in hid if dom_of[i] in train_doms]
        if cross:
            for e in train_doms:
                tr = [i for i in ids_t if dom_of[i] != e]
                te = [i for i in ids_t if dom_of[i] == e]
                if te:
                    f = fit_probe(*train_set(tr, set(train_doms) - {e}), l2, dims)
                    out.update(zip(te, f(np.stack([hid[i] for i in te])).tolist()))
        return out

    results: dict[str, Any] = {}
    for name, base in bases.items():
        for with_probe in (False, True):
            feats = base + (["gen_probe"] if with_probe else [])
            aurcs = {}
            for d in doms:
                rest = [e for e in doms if e != d]
                ps = probe_scores(rest, cross=True) if with_probe else {}
                tr_ids = [i for i in hid if dom_of[i] in rest]
                if with_probe:
                    f = fit_probe(*train_set(tr_ids, set(rest)), l2, dims)
                    te_ids = [r["id"] for r in scored if r["domain"] == d]
                    ps.update(zip(te_ids, f(np.stack([hid[i] for i in te_ids])).tolist()))
                rows, y = [], []
                for r in recs:
                    if r["domain"] == d or r["declined"] or not r["claims"] or r["id"] not in hid:
                        continue
                    for c in r["claims"]:
                        rows.append([c["signals"].get(f_, float("nan")) if f_ != "gen_probe" else ps[r["id"]] for f_ in feats])
                        y.append(int(r["right"]))
                comb = fit_combiner(np.array(rows, float), y, feats)
                sc, ok = [], []
                for r in recs:
                    if r["domain"] != d:
                        continue
                    if r["declined"] or not r["claims"] or r["id"] not in hid:
                        sc.append(None)
                    else:
                        X = np.array([[c["signals"].get(f_, float("nan")) if f_ != "gen_probe" else ps[r["id"]] for f_ in feats] for c in r["claims"]], float)
                        X = np.where(np.isnan(X), np.array(comb.mean)[None, :], X)
                        sc.append(answer_support(r, comb.predict_proba(X)))
                    ok.append(bool(r["right"]))
                aurcs[d] = round(selective_metrics(sc, ok).aurc, 4)
            aurcs["mean_docs"] = round(float(np.mean([aurcs[d] for d in doms if d != "squad"])), 4)
            aurcs["mean_all"] = round(float(np.mean([aurcs[d] for d in doms])), 4)
            results[name + ("+probe" if with_probe else "")] = aurcs
            print(name, "+probe" if with_probe else "", aurcs, file=sys.stderr, flush=True)
    report["loo_aurc"] = results
    print(f"\nprobe in the combiner: {key}" + ("" if spec else " (the best mean leave-one-corpus-out AUROC over the documentation corpora)"))
    print("| signal | " + " | ".join(doms) + " |")
    print("|---|" + "---|" * len(doms))
    for sig, a in report["signals_auroc"].items():
        print(f"| {sig} (AUROC) | " + " | ".join(f"{a[d]:.3f}" for d in doms) + " |")
    print(f"| gen_probe (AUROC, {key}) | " + " | ".join(f"{report['probe_auroc'][key][d]:.3f}" for d in doms) + " |")
    print("\n| combiner, leave one corpus out (AURC) | " + " | ".join(doms) + " | mean, docs |")
    print("|---|" + "---|" * (len(doms) + 1))
    for name, a in results.items():
        print(f"| {name} | " + " | ".join(f"{a[d]:.4f}" for d in doms) + f" | {a['mean_docs']:.4f} |")
    if out_json:
        out_json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


def fit(npz: Path, answers: Path, layer: int, place: str, l2: float, dims: int, folder: Path, merged: Path,
        extra: tuple[Path, ...] = (), within: tuple[str, ...] = ()) -> int:
    """Fit the probe on every answer (and the ``extra`` answers of ``collect``) and write it to
    ``folder``; write ``merged``: the answers with ``gen_probe`` in each claim's signals, each
    domain's from a probe fitted on the other domains (what the combiner sees on a corpus the probe
    never saw), or for a domain in ``within``, each group's (article's) from a probe fitted on
    everything but that group (what it sees on a new article of a kind of text it was fitted on)."""
    from groundqa.generate.probe import HiddenProbe

    ids, H, layers = load(npz)
    pos = {i: k for k, i in enumerate(ids)}
    recs = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines() if line.strip()]
    scored = [r for r in recs if r["id"] in pos and not r["declined"] and r["claims"]]
    X = states(H, [pos[r["id"]] for r in scored], layer, place, layers)
    y = np.array([bool(r["right"]) for r in scored])
    dom = np.array([r["domain"] for r in scored])
    grp = np.array([str(r.get("group", "")) for r in scored])
    if extra and layer != 16:
        raise SystemExit("--extra holds layer 16's states (what collect keeps); fit a layer 16 probe, or drop --extra")
    ex_X, ex_y, ex_d, ex_g = load_extra(extra, {r["id"] for r in scored}, place, X.shape[1])
    w, b = collapse(np.concatenate([X, ex_X]), np.concatenate([y, ex_y]), l2, dims)
    info = {"fitted_on": str(answers), "answers": len(scored), "right": int(y.sum()), "domains": sorted(set(dom.tolist())),
            "extra": {"files": [str(p) for p in extra], "answers": int(len(ex_y)), "right": int(ex_y.sum())} if extra else None,
            "l2": l2, "pca": dims, "label": "the answer is right (the calibration set's rule)",
            "command": "python " + " ".join(sys.argv), "fitted": time.strftime("%Y-%m-%d")}
    probe = HiddenProbe(layer=layer, weight=w, bias=b, place=place, info=info)
    print("wrote", probe.save(folder), file=sys.stderr)
    cross = {}
    for d in sorted(set(dom.tolist())):
        if d in within:
            for g in sorted(set(grp[dom == d].tolist())):
                out_, ex_out = (dom == d) & (grp == g), (ex_d == d) & (ex_g == g)
                wd, bd = collapse(np.concatenate([X[~out_], ex_X[~ex_out]]), np.concatenate([y[~out_], ex_y[~ex_out]]), l2, dims)
                cross.update({r["id"]: float(X[k] @ wd + bd) for k, r in enumerate(scored) if out_[k]})
            continue
        wd, bd = collapse(np.concatenate([X[dom != d], ex_X[ex_d != d]]), np.concatenate([y[dom != d], ex_y[ex_d != d]]), l2, dims)
        cross.update({r["id"]: float(X[k] @ wd + bd) for k, r in enumerate(scored) if r["domain"] == d})
    with merged.open("w", encoding="utf-8") as f:
        for r in recs:
            if r["id"] in cross:
                for c in r["claims"]:
                    c["signals"]["gen_probe"] = round(cross[r["id"]], 5)
            f.write(json.dumps(r) + "\n")
    return 0


def cost(answers: Path, cache: Path, domain: str, n: int, rounds: int, threads: int, out_json: Path | None) -> int:
    """What reading the probe costs the generator: the same batches of 8 questions generated with
    the probe and without it, interleaved, ``rounds`` times; seconds a question and their ratio."""
    import torch

    from groundqa.generate import make_generator
    from groundqa.index import HybridIndex

    torch.set_num_threads(threads)
    recs = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines() if line.strip()]
    qs = [r["question"].strip() for r in recs if r["domain"] == domain][:n]
    hits = HybridIndex.load(cache / domain).search_batch(qs, top_k=4)
    gen = make_generator("default")
    gen.warm_up()
    probe = gen.probe
    if probe is None:
        raise SystemExit("the default generator's folder has no probe; fit one first (the fit command)")
    gen.generate_batch(qs[:8], hits[:8])  # warm: the instruction's keys and values, the kernels
    secs: dict[str, list[float]] = {"probe": [], "none": []}
    for _ in range(rounds):
        for name in ("none", "probe"):
            gen.probe = probe if name == "probe" else None
            gen.clear_prompt_cache()
            t0 = time.perf_counter()
            outs = gen.generate_batch(qs, hits)
            secs[name].append((time.perf_counter() - t0) / len(qs))
            assert ("probe" in outs[0].confidence) == (name == "probe") or outs[0].declined
    res = {"domain": domain, "questions": len(qs), "rounds": rounds, "threads": threads,
           "seconds_per_question": {k: round(float(np.median(v)), 4) for k, v in secs.items()}, "all": secs}
    res["ratio_probe_to_none"] = round(res["seconds_per_question"]["probe"] / res["seconds_per_question"]["none"], 4)
    print("| generation | s a question (median of rounds) |\n|---|---|")
    for k in ("none", "probe"):
        print(f"| {'with the probe' if k == 'probe' else 'without'} | {res['seconds_per_question'][k]:.3f} |")
    print(f"ratio: {res['ratio_probe_to_none']:.3f}")
    if out_json:
        out_json.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    return 0


def keep(parts: str, answers: Path, domains: set[str], out: Path) -> int:
    """Copy the part files matching ``parts`` (a glob) into ``out``'s name, keeping only the answers
    of ``answers`` whose domain is in ``domains``."""
    import glob

    recs = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines() if line.strip()]
    wanted = {r["id"] for r in recs if r["domain"] in domains}
    if not wanted:
        raise SystemExit(f"no answer of {answers} is in the domains {sorted(domains)}")
    if list(out.parent.glob(out.stem + ".part*.npz")):
        raise SystemExit(f"{out.stem}.part*.npz already exist beside {out}: keep into a new NPZ name")
    out.parent.mkdir(parents=True, exist_ok=True)
    k = n = 0
    for p in sorted(glob.glob(parts)):
        z = np.load(p)
        m = np.array([str(i) in wanted for i in z["ids"]])
        if m.any():
            np.savez(out.parent / f"{out.stem}.part{k:03d}.npz", ids=z["ids"][m], h=z["h"][m], layers=np.array(part_layers(Path(p))))
            k, n = k + 1, n + int(m.sum())
    print(f"{n} answers' states kept in {k} part files ({len(wanted)} answers in {sorted(domains)})")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract", help="read the hidden states of stored answers")
    e.add_argument("answers", type=Path)
    e.add_argument("out", type=Path, help="NPZ name; part files are written beside it")
    e.add_argument("--cache", type=Path, default=Path("runs/calibration/index"), help="the calibration set's saved indexes")
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--generator", default="default", help="the generator that wrote the answers (a profile, model or adapter folder)")
    e.add_argument("--layers", default=",".join(map(str, LAYERS)), help="comma-separated decoder layers to keep")
    e.add_argument("--int8", nargs="?", const="tensor", default=None, choices=["tensor", "channel"],
                   help="the generator in dynamic int8 (CPU), as it wrote the answers (calibration_set.py --int8)")
    v = sub.add_parser("eval", help="each layer and place as a probe, leave one corpus out; the best one in the combiner")
    v.add_argument("npz", type=Path)
    v.add_argument("answers", type=Path)
    v.add_argument("--json", type=Path, default=None)
    v.add_argument("--extra", nargs="*", type=Path, default=[],
                   help="NPZ files from collect: more answers for the combiner's probe (layer 16), each left out with its corpus")
    v.add_argument("--probe", default=None, metavar="LAYER:PLACES",
                   help="put this probe in the combiner (e.g. 16:answer_mean,prompt_last; L2 10, PCA 64) instead of the best single layer and place")
    f = sub.add_parser("fit", help="fit the probe on every answer and write it to an adapter folder")
    f.add_argument("npz", type=Path)
    f.add_argument("answers", type=Path)
    f.add_argument("--layer", type=int, default=16, help="one of the layers extracted")
    f.add_argument("--place", default="answer_mean", help="comma-separated: answer_mean, prompt_last (joined in this order)")
    f.add_argument("--l2", type=float, default=10.0)
    f.add_argument("--pca", type=int, default=64)
    f.add_argument("--extra", nargs="*", type=Path, default=[], help="NPZ files from collect: more answers for the probe's fit")
    f.add_argument("--folder", type=Path, required=True, help="the adapter folder the probe belongs to")
    f.add_argument("--within", default="", metavar="DOMAINS",
                   help="comma-separated domains whose answers are scored article by article (a probe fitted on all but "
                        "the article) rather than by a probe that never saw the domain")
    f.add_argument("--merged", type=Path, required=True,
                   help="write the answers here with gen_probe in each claim's signals (each corpus scored by a probe fitted on the others)")
    m = sub.add_parser("collect", help="more answers for the probe's fit: the same questions asked with other numbers of passages")
    m.add_argument("answers", type=Path, nargs="*", help="calibration answers (JSONL) or docs-QA questions files (JSON)")
    m.add_argument("out", type=Path, help="NPZ name; one file per top_k is written beside it")
    m.add_argument("--top-k", default="2,6", help="comma-separated numbers of passages (the calibration set used 4)")
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--cache", type=Path, default=Path("runs/calibration/index"))
    m.add_argument("--squad", default=None, metavar="A,U",
                   help="also A answerable and U unanswerable SQuAD questions, drawn as calibration_set.py draws them")
    m.add_argument("--place", default=None, help="the places to keep, comma-separated (default: the shipped probe's)")
    c = sub.add_parser("cost", help="generation time with and without the probe, interleaved")
    c.add_argument("answers", type=Path)
    c.add_argument("--domain", default="squad")
    c.add_argument("--questions", type=int, default=16)
    c.add_argument("--rounds", type=int, default=3)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--cache", type=Path, default=Path("runs/calibration/index"))
    c.add_argument("--json", type=Path, default=None)
    k = sub.add_parser("keep", help="copy another extract's part files, keeping only the answers of some domains")
    k.add_argument("parts", help="the part files to copy (a glob: 'runs/probe/cal.part*.npz')")
    k.add_argument("answers", type=Path, help="the answers file the new extract reads")
    k.add_argument("domains", help="comma-separated: the domains whose answers did not change")
    k.add_argument("out", type=Path, help="the new NPZ name; part files are written beside it")
    a = ap.parse_args()
    if a.cmd == "keep":
        return keep(a.parts, a.answers, {d.strip() for d in a.domains.split(",") if d.strip()}, a.out)
    if a.cmd == "extract":
        return extract(a.answers, a.out, a.cache, a.threads, a.generator, tuple(int(x) for x in a.layers.split(",")), a.int8)
    if a.cmd == "eval":
        return evaluate(a.npz, a.answers, (10.0, 100.0), (16, 64), a.json, a.probe, tuple(a.extra))
    if a.cmd == "collect":
        if not a.answers and not a.squad:
            raise SystemExit("collect needs questions: answers or questions files, or --squad A,U")
        squad = tuple(int(n) for n in a.squad.split(",")) if a.squad else None
        return collect(a.answers, a.out, a.cache, tuple(int(k) for k in a.top_k.split(",")), a.threads, squad, a.place)
    if a.cmd == "fit":
        return fit(a.npz, a.answers, a.layer, a.place, a.l2, a.pca, a.folder, a.merged, tuple(a.extra),
                   tuple(d.strip() for d in a.within.split(",") if d.strip()))
    return cost(a.answers, a.cache, a.domain, a.questions, a.rounds, a.threads, a.json)


if __name__ == "__main__":
    sys.exit(main())
