"""``groundqa finetune --curve N1,N2,...``: is fine-tuning worth it on this data? A learning curve
with its cost.

The data is split by document, once, into held-out evaluation documents (``eval_docs``), dev
documents (early stopping inside each run) and training documents. The training questions are
shuffled with the seed and each point trains on the first N (so the slices are nested: the 32
examples contain the 16). The base model and every adapter answer the same held-out questions,
built once (gold passage among distractors of its document; a share with the gold removed, which
should be declined). Each point records EM, token F1, answered rate, decline rate, gold-citation
rate, the forgetting check, seconds, device, examples/s and cost. The report (``curve.json``,
``curve.md``, ``curve.png``) ends with a recommendation in numbers.

Resumable: ``curve.json`` is rewritten after every point and a rerun with the same command skips
the completed points; a run interrupted mid-training resumes from its checkpoints; a finished
adapter whose evaluation was interrupted is evaluated, not retrained.

Extrapolation: F1 is fitted as ``a + b * log2(N)`` by least squares on the last (up to) three
adapter points; ``b`` is the F1 that each doubling of the data buys. The next doubling is expected
to add the smaller of the fit's prediction and what the last doubling bought (a fit over three
points lags a bend in the curve). Where the curve flattens: the
first point whose gain over the previous one, per doubling of the data, is below ``flat_gain`` F1
points (default 1.0).
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError
from .finetune import FinetuneConfig, _fingerprint, build_examples, finetune, forgetting_check, split_by_document
from ..generate.prompts import PromptTemplate

CURVE_VERSION = 1


@dataclass(frozen=True)
class CurveConfig:
    sizes: tuple[int, ...]
    eval_docs: float = 0.2
    eval_questions: int = 60
    cost_per_hour: float | None = None
    price_table: str | None = None
    flat_gain: float = 1.0
    batch_size: int = 8

    def __post_init__(self) -> None:
        if not self.sizes or any((not isinstance(n, int)) or n <= 0 for n in self.sizes):
            raise ConfigError(f"curve={list(self.sizes)!r} is not valid; give growing example counts, e.g. --curve 50,100,200")
        if list(self.sizes) != sorted(set(self.sizes)):
            raise ConfigError(f"curve={list(self.sizes)!r} is not valid; the sizes must grow strictly, e.g. 50,100,200")
        if not 0.0 < self.eval_docs < 1.0:
            raise ConfigError(f"eval_docs={self.eval_docs!r} is not valid; give the share of documents held out for the report, in (0, 1)")
        if self.eval_questions <= 0:
            raise ConfigError(f"eval_questions={self.eval_questions!r} is not valid; it must be > 0")
        if self.cost_per_hour is not None and self.cost_per_hour < 0:
            raise ConfigError(f"cost_per_hour={self.cost_per_hour!r} is not valid; give the device's price per hour (>= 0)")
        if self.price_table is not None and not Path(self.price_table).exists():
            raise ConfigError(f"price_table={self.price_table!r} does not exist; give a JSON file {{\"device name\": price per hour}}")


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"--curve {text!r} is not valid; give comma-separated example counts, e.g. --curve 50,100,200") from None


# ---------------------------------------------------------------- device and price


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return "cpu"


def price_per_hour(curve: CurveConfig, device: str) -> tuple[float | None, str]:
    """The price per hour and where it came from: --cost-per-hour, else the table's entry whose
    name appears in the device name (longest match), else None."""
    if curve.cost_per_hour is not None:
        return curve.cost_per_hour, "--cost-per-hour"
    if curve.price_table:
        try:
            table = json.loads(Path(curve.price_table).read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"price_table={curve.price_table!r} is not JSON ({exc}); write {{\"NVIDIA H200\": 3.5, \"cpu\": 0.1}}") from None
        if not isinstance(table, dict) or not all(isinstance(v, (int, float)) for v in table.values()):
            raise ConfigError(f"price_table={curve.price_table!r} must map device names to prices per hour, e.g. {{\"cpu\": 0.1}}")
        hits = [k for k in table if k.lower() in device.lower()]
        if hits:
            k = max(hits, key=len)
            return float(table[k]), f"{curve.price_table} ({k!r})"
        return None, f"{curve.price_table} has no entry matching {device!r}"
    return None, "no price given (pass --cost-per-hour or --price-table)"


# ---------------------------------------------------------------- evaluation


def evaluate(gen: Any, examples: Sequence[Any]) -> dict[str, Any]:
    """EM, token F1, answered rate and gold-citation rate on the answerable examples; decline rate on
    the unanswerable ones (percentages); ``f1_se``: the standard error of the mean F1."""
    from ..datasets.squad import best_over

    outs = gen.generate_batch([e.question for e in examples], [list(e.passages) for e in examples])
    ems, f1s, answered, cited, declined = [], [], [], [], []
    records = []
    for e, g in zip(examples, outs):
        rec = {"id": e.id, "answerable": e.answerable, "answer": g.answer, "declined": g.declined, "citations": list(g.citations)}
        if e.answerable:
            em, f = best_over(e.answers, g.answer, "1.1") if g.answer else (0.0, 0.0)
            ems.append(em)
            f1s.append(f)
            answered.append(not g.declined)
            want = int(e.target.rsplit("[", 1)[1].rstrip("]")) if "[" in e.target else None
            cited.append(want in g.citations)
            rec |= {"em": em, "f1": f, "gold": want}
        else:
            declined.append(g.declined)
        records.append(rec)
    pct = lambda xs: round(100.0 * sum(xs) / len(xs), 2) if xs else None  # noqa: E731
    se = round(100.0 * statistics.stdev(f1s) / math.sqrt(len(f1s)), 2) if len(f1s) > 1 else None
    return {"em": pct(ems), "f1": pct(f1s), "f1_se": se, "answered_rate": pct(answered), "decline_rate": pct(declined),
            "gold_citation_rate": pct(cited), "n_answerable": len(f1s), "n_unanswerable": len(declined), "records": records}


def _evaluate_model(ref: str, adapter: str | None, examples: Sequence[Any], batch_size: int, max_new_tokens: int,
                    threads: int | None, template: PromptTemplate, forgetting: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load ``ref`` (+ ``adapter``), evaluate it on ``examples``, and run the forgetting check unless
    ``forgetting`` is given (a trained point's card already holds it, measured on the same weights)."""
    import torch

    from ..generate.hf import TransformersGenerator
    from ..generate.loading import load_generator_model

    if threads:
        torch.set_num_threads(threads)
    t0 = time.time()
    loaded = load_generator_model(ref, dtype="float32", adapter=adapter)
    gen = TransformersGenerator.from_model(loaded.model, loaded.tokenizer, template=template, max_new_tokens=max_new_tokens,
                                           batch_size=batch_size, context="chunks")  # as the training examples read them
    res = evaluate(gen, examples)
    res["eval_seconds"] = round(time.time() - t0, 1)
    if forgetting is None:
        t1 = time.time()
        forgetting = forgetting_check(loaded.model, loaded.tokenizer)
        res["forgetting_seconds"] = round(time.time() - t1, 1)
    res["forgetting"] = forgetting
    return res


# ---------------------------------------------------------------- recommendation


def _fit_log2(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares of y = a + b*log2(n); returns (a, b)."""
    xs = [math.log2(n) for n, _ in points]
    ys = [y for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return my - b * mx, b


def recommend(base: dict[str, Any], points: list[dict[str, Any]], *, flat_gain: float = 1.0) -> dict[str, Any]:
    """Numbers for the decision: gain per 100 examples at the last step, where the curve flattens,
    and what the next doubling is expected to buy (see the module doc for the method)."""
    pts = sorted(points, key=lambda p: p["n"])
    if not pts:
        return {}
    chain = [(0, base["f1"])] + [(p["n"], p["f1"]) for p in pts]
    (n0, f0), (n1, f1) = chain[-2], chain[-1]
    gain_100 = round(100.0 * (f1 - f0) / (n1 - n0), 3)
    flat_at = None
    for (na, fa), (nb, fb) in zip(chain[1:], chain[2:]):
        per_doubling = (fb - fa) / math.log2(nb / na)
        if per_doubling < flat_gain:
            flat_at = nb
            break
    rec: dict[str, Any] = {
        "metric": "f1",
        "gain_over_base": round(pts[-1]["f1"] - base["f1"], 2),
        "gain_per_100_examples_last_step": gain_100,
        "last_step": [n0, n1],
        "flattens_at": flat_at,
        "flat_gain_per_doubling": flat_gain,
        "best_n": max(pts, key=lambda p: p["f1"])["n"],
        "method": ("least squares F1 = a + b*log2(N) on the last (up to) 3 adapter points (b = F1 per doubling); the next "
                   "doubling is expected to add the smaller of the fit's gain and the last doubling's gain"),
    }
    if len(pts) >= 2:
        fit = [(p["n"], p["f1"]) for p in pts[-3:]]
        a, b = _fit_log2(fit)
        nxt = 2 * pts[-1]["n"]
        fit_gain = a + b * math.log2(nxt) - pts[-1]["f1"]
        last_doubling = (pts[-1]["f1"] - pts[-2]["f1"]) / math.log2(pts[-1]["n"] / pts[-2]["n"])
        gain = min(fit_gain, last_doubling)  # the fit lags a bend in the curve; the last step shows it first
        rec |= {"per_doubling": round(b, 2), "last_doubling_gain": round(last_doubling, 2), "fit_expected_gain": round(fit_gain, 2),
                "next_n": nxt, "next_expected_f1": round(pts[-1]["f1"] + gain, 2), "next_expected_gain": round(gain, 2),
                "fit_points": [n for n, _ in fit]}
        last = pts[-1]
        if last.get("examples_per_s"):
            secs = last["examples_seen"] * 2 / last["examples_per_s"]
            rec["next_train_seconds"] = round(secs, 1)
            if last.get("price_per_hour") is not None:
                rec["next_train_cost"] = round(secs / 3600 * last["price_per_hour"], 4)
    se = pts[-1].get("f1_se")
    rec["noise_f1"] = se
    if len(pts) >= 2:
        g = rec["next_expected_gain"]
        if g < flat_gain:
            rec["verdict"] = (f"more data does not pay at this rate: doubling to {rec['next_n']} examples is expected to change F1 by "
                              f"{g:+.2f} (below {flat_gain} F1); stop here, or change the data or the recipe before adding more")
        elif se is not None and g <= se:
            rec["verdict"] = (f"not decided: doubling to {rec['next_n']} examples is expected to add {g:+.2f} F1, within the noise "
                              f"(s.e. {se} on {pts[-1].get('n_answerable', '?')} answerable questions); evaluate on more held-out "
                              "questions (--eval-questions) before paying for more data")
        else:
            rec["verdict"] = f"more data still pays: doubling to {rec['next_n']} examples is expected to add {g:+.2f} F1"
    else:
        rec["verdict"] = "one point only: add at least a second size to extrapolate"
    return rec


# ---------------------------------------------------------------- the run


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def run_curve(cfg: FinetuneConfig, curve: CurveConfig, *, template: PromptTemplate | None = None,
              show_progress: bool = False, log: Any = print) -> dict[str, Any]:
    """Train and evaluate every point of ``curve.sizes`` (see the module doc); returns the report."""
    from ..datasets.squad import context_pool, load_squad

    template = template or PromptTemplate()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    items = load_squad(cfg.data)
    if not items:
        raise ConfigError(f"data={cfg.data!r} holds no questions")
    pool = context_pool(items)
    rest, eval_items, eval_docs = split_by_document(items, curve.eval_docs, cfg.seed)
    train_items, dev_items, dev_docs = split_by_document(rest, cfg.dev_docs, cfg.seed)
    order = list(train_items)
    random.Random(cfg.seed).shuffle(order)
    if curve.sizes[-1] > len(order):
        raise ConfigError(
            f"curve={list(curve.sizes)} asks for {curve.sizes[-1]} training questions but the training documents hold "
            f"{len(order)} (after holding out {len(eval_docs)} evaluation and {len(dev_docs)} dev documents); "
            f"use sizes up to {len(order)} or more data")
    pick = random.Random(cfg.seed + 2).sample(eval_items, min(curve.eval_questions, len(eval_items)))
    eval_ex = build_examples(pick, template, seed=cfg.seed + 2, distractors=cfg.distractors,
                             unanswerable_rate=cfg.unanswerable_rate, max_passage_words=cfg.max_passage_words, pool=pool)
    device = device_name()
    price, price_source = price_per_hour(curve, device)
    setup = {"data": os.path.abspath(cfg.data), "sha256": _fingerprint(cfg.data), "base": cfg.base, "seed": cfg.seed,
             "eval_docs": eval_docs, "dev_docs": dev_docs, "eval_ids": [e.id for e in eval_ex],
             "hyperparameters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()
                                 if k not in ("out", "command", "max_examples", "resume", "threads")}}
    state_path = out / "curve.json"
    state: dict[str, Any] = {"groundqa_curve": CURVE_VERSION, "setup": setup, "base": None, "points": {}}
    if state_path.exists():
        old = json.loads(state_path.read_text())
        if old.get("setup") != setup:
            diff = sorted(k for k in setup if old.get("setup", {}).get(k) != setup[k])
            raise ConfigError(f"{state_path} was made with other settings ({', '.join(diff)} differ); rerun with the same "
                              "data and options to resume, or pass a new --out")
        state = old
    state["curve"] = {"sizes": list(curve.sizes), "eval_questions": len(eval_ex), "eval_docs_share": curve.eval_docs,
                      "flat_gain": curve.flat_gain}
    state["command"] = cfg.command
    threads = cfg.threads

    if state.get("base") is None:
        log(f"curve: evaluating the base model {cfg.base} on {len(eval_ex)} held-out questions")
        t0 = time.time()
        base = _evaluate_model(cfg.base, None, eval_ex, curve.batch_size, cfg.max_new_tokens, threads, template)
        base |= {"n": 0, "seconds": round(time.time() - t0, 1), "device": device}
        state["base"] = base
        _write_json(state_path, state)
    for n in curve.sizes:
        if str(n) in state["points"]:
            log(f"curve: {n} examples already done (F1 {state['points'][str(n)]['f1']}); skipped")
            continue
        point_dir = out / f"n{n}"
        t0 = time.time()
        card_path = point_dir / "groundqa_card.json"
        card = json.loads(card_path.read_text()) if card_path.exists() else None
        if card is None or card.get("data", {}).get("train_examples") != n:
            log(f"curve: training on {n} examples -> {point_dir}")
            pcfg = replace(cfg, out=str(point_dir), max_examples=None,
                           command=(cfg.command + f"  # curve point {n}") if cfg.command else "")
            card = finetune(pcfg, template=template, show_progress=show_progress, split=(order[:n], dev_items),
                            before=state.get("base_checks")).card
            # every point shares the base model and the dev split: its checks are measured once
            state["base_checks"] = {"forgetting": card["forgetting"]["before"], "dev": card["dev"]["before"]}
        train_wall = time.time() - t0
        log(f"curve: evaluating the {n}-example {'adapter' if cfg.lora else 'model'}")
        t1 = time.time()
        res = _evaluate_model(cfg.base if cfg.lora else str(point_dir), str(point_dir) if cfg.lora else None, eval_ex,
                              curve.batch_size, cfg.max_new_tokens, threads, template, forgetting=card["forgetting"]["after"])
        tr = card["training"]
        seconds = round(train_wall + (time.time() - t1), 1)
        res |= {
            "n": n, "folder": str(point_dir), "device": tr["device"] if tr.get("device") else device,
            "train_seconds": tr["seconds"], "steps": tr["steps"], "examples_seen": tr["examples_seen"],
            "examples_per_s": round(tr["examples_seen"] / tr["seconds"], 3) if tr["seconds"] else None,
            "seconds": seconds, "train_wall_seconds": round(train_wall, 1), "precision": tr.get("precision", "fp32"),
            "price_per_hour": price,
            "cost": round(seconds / 3600 * price, 4) if price is not None else None,
            "train_cost": round(tr["seconds"] / 3600 * price, 4) if price is not None else None,
            "dev_f1_after": card["dev"]["after"]["f1"],
        }
        state["points"][str(n)] = res
        _write_json(state_path, state)
        log(f"curve: {n} examples: F1 {res['f1']} EM {res['em']} ({seconds} s)")
    return finish_report(state, out, device=device, price=price, price_source=price_source)


def finish_report(state: dict[str, Any], out: Path, *, device: str, price: float | None, price_source: str) -> dict[str, Any]:
    sizes = state["curve"]["sizes"]
    points = [state["points"][str(n)] for n in sizes if str(n) in state["points"]]
    state["device"] = device
    state["price"] = {"per_hour": price, "source": price_source}
    state["total_seconds"] = round(state["base"]["seconds"] + sum(p["seconds"] for p in points), 1)
    state["total_cost"] = round(state["total_seconds"] / 3600 * price, 4) if price is not None else None
    state["recommendation"] = recommend(state["base"], points, flat_gain=state["curve"]["flat_gain"])
    _write_json(out / "curve.json", state)
    png = plot_curve(state, out / "curve.png")
    (out / "curve.md").write_text(render_markdown(state, png))
    return state


def plot_curve(state: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    points = sorted(state["points"].values(), key=lambda p: p["n"])
    base = state["base"]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ns = [p["n"] for p in points]
    for key, label, color in (("f1", "token F1", "C0"), ("em", "exact match", "C1"), ("gold_citation_rate", "gold citation", "C2")):
        ax[0].plot(ns, [p[key] for p in points], "o-", color=color, label=label)
        if base.get(key) is not None:
            ax[0].axhline(base[key], color=color, ls="--", lw=1, label=f"{label}, base")
    ax[0].errorbar(ns, [p["f1"] for p in points], yerr=[p.get("f1_se") or 0 for p in points], fmt="none", color="C0", capsize=3)
    rec = state.get("recommendation", {})
    if rec.get("next_n"):
        ax[0].plot([ns[-1], rec["next_n"]], [points[-1]["f1"], rec["next_expected_f1"]], ":", color="C0", label="F1, extrapolated")
    ax[0].set_xscale("log", base=2)
    ax[0].set_xlabel("training examples")
    ax[0].set_ylabel("% on held-out documents")
    ax[0].set_title(f"{state['setup']['base']}: {state['curve']['eval_questions']} held-out questions")
    ax[0].legend(fontsize=7)
    ax[1].plot(ns, [p["forgetting"]["perplexity"] for p in points], "o-", color="C3", label="perplexity, general text")
    ax[1].axhline(base["forgetting"]["perplexity"], color="C3", ls="--", lw=1, label="base")
    ax[1].set_xscale("log", base=2)
    ax[1].set_xlabel("training examples")
    ax[1].set_title("forgetting check (lower is better)")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def render_markdown(state: dict[str, Any], png: Path | None) -> str:
    s, base, rec = state["setup"], state["base"], state.get("recommendation", {})
    points = sorted(state["points"].values(), key=lambda p: p["n"])
    price = state["price"]["per_hour"]
    money = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    fb, fa = base["forgetting"], None
    lines = [
        f"# Fine-tuning learning curve: {s['base']}",
        "",
        f"Data `{s['data']}` (sha256 {s['sha256'][:16]}...). Held-out evaluation: {state['curve']['eval_questions']} questions "
        f"({points[0]['n_answerable'] if points else base['n_answerable']} answerable, "
        f"{points[0]['n_unanswerable'] if points else base['n_unanswerable']} with the gold passage removed or unanswerable) "
        f"from {len(s['eval_docs'])} documents never trained on: {', '.join(s['eval_docs'])}. "
        f"Dev (early stopping) documents: {', '.join(s['dev_docs'])}. Device {state['device']}; price "
        f"{'n/a' if price is None else price} per hour ({state['price']['source']}).",
        "",
    ]
    if state.get("command"):
        lines += ["Made by:", "", f"    {state['command']}", ""]
    lines += [
        "| examples | EM | F1 (± s.e.) | answered | declined (unanswerable) | gold citation | perplexity | general Qs | train s | examples/s | point s | cost |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| base | {base['em']} | {base['f1']} ± {base['f1_se']} | {base['answered_rate']} | {base['decline_rate']} | "
        f"{base['gold_citation_rate']} | {fb['perplexity']} | {fb['general_correct']}/{fb['general_total']} | - | - | "
        f"{base['seconds']} | {money(round(base['seconds'] / 3600 * price, 4) if price is not None else None)} |",
    ]
    for p in points:
        fa = p["forgetting"]
        lines.append(
            f"| {p['n']} | {p['em']} | {p['f1']} ± {p['f1_se']} | {p['answered_rate']} | {p['decline_rate']} | "
            f"{p['gold_citation_rate']} | {fa['perplexity']} | {fa['general_correct']}/{fa['general_total']} | "
            f"{p['train_seconds']} | {p['examples_per_s']} | {p['seconds']} | {money(p['cost'])} |")
    lines += [
        "",
        "Rates are percentages: EM, F1, answered and gold citation over the answerable questions, declined over the "
        "unanswerable ones. Perplexity is on a fixed general text and general Qs are six questions without passages "
        "(the forgetting check). train s: the optimizer loop; point s: the whole point (training run with its checks, "
        "loading, held-out evaluation); cost: point s times the price.",
        f"Total: {state['total_seconds']} s, cost {money(state['total_cost'])}.",
        "",
    ]
    if png is not None:
        lines += [f"![learning curve]({png.name})", ""]
    if rec:
        lines += ["## Recommendation", ""]
        lines.append(f"- F1 gain over the base at {points[-1]['n']} examples: {rec['gain_over_base']:+.2f} "
                     f"(best point: {rec['best_n']} examples).")
        lines.append(f"- Gain per 100 examples at the last step ({rec['last_step'][0]} -> {rec['last_step'][1]}): "
                     f"{rec['gain_per_100_examples_last_step']:+.3f} F1.")
        lines.append(f"- The curve flattens or falls (gain per doubling below {rec['flat_gain_per_doubling']} F1) at: "
                     f"{rec['flattens_at'] if rec['flattens_at'] is not None else 'not within the measured sizes'}.")
        if "per_doubling" in rec:
            cost = f", cost {money(rec.get('next_train_cost'))}" if "next_train_cost" in rec else ""
            lines.append(f"- Each doubling buys {rec['per_doubling']:+.2f} F1 by the fit on {rec['fit_points']} "
                         f"({rec['fit_expected_gain']:+.2f} for the next one); the last doubling bought {rec['last_doubling_gain']:+.2f}. "
                         f"Taking the smaller, the next doubling, to {rec['next_n']} examples, is expected to reach F1 {rec['next_expected_f1']} "
                         f"({rec['next_expected_gain']:+.2f}) for about {rec.get('next_train_seconds', 'n/a')} s of training"
                         f" on this device{cost}.")
        lines.append(f"- Noise: the standard error of the last point's F1 is {rec['noise_f1']}; differences below about twice "
                     "that are not evidence.")
        lines.append(f"- Verdict: {rec['verdict']}.")
        lines.append(f"- Method: {rec['method']}.")
        lines.append("")
    return "\n".join(lines)
