"""End-to-end QA benchmark: the whole pipeline (retrieval, generation, guard, policy) on
SQuAD-format data, with abstention metrics and a Markdown + PNG report.

``--context retrieved`` indexes every context of the file (chunked) and answers each question by
retrieval over that index; the scores are the official SQuAD EM and token F1
(``groundqa.datasets.squad``), where a withheld or declined answer is the empty prediction: right
for an unanswerable v2 question, wrong for an answerable one.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..datasets.squad import QAItem, best_over
from .result import BenchResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineRecord:
    id: str
    question: str
    golds: tuple[str, ...]
    prediction: str  # the answer without citation marks; "" when withheld or declined
    answered: bool
    verdict: str
    support: float
    em: float
    f1: float
    timings: Mapping[str, float] = field(default_factory=dict)
    claim_probs: tuple[float, ...] = ()
    gold_retrieved: bool | None = None
    generated: str = ""  # the generator's answer without citation marks, whatever the policy did; "" if it declined
    raw_em: float = 0.0  # EM / F1 of ``generated`` as if it had been returned
    raw_f1: float = 0.0

    @property
    def answerable(self) -> bool:
        return bool(self.golds)

    @property
    def empty_score(self) -> float:
        """The F1 of returning nothing: 1 for an unanswerable (v2) question, else 0."""
        return 0.0 if self.golds else 1.0


def paragraph_id(item: QAItem) -> str:
    """The id of ``item``'s paragraph in a context index: ``<doc_id>#<paragraph index>``."""
    return f"{item.doc_id}#{item.paragraph_index}"


def context_documents(items: Iterable[QAItem]) -> list[Any]:
    """One ``Document`` per distinct paragraph of ``items``, with id ``paragraph_id(item)``.

    Questions on the same paragraph share its document. Two *different* texts under one id would
    leave one of them out of the index without a word (every question on it then answered from
    the other text), so that raises ``ConfigError`` with the count and an example; items from
    ``load_squad`` never collide. The same text under several ids is kept once per id (retrieval
    may then return the copies side by side) and logged as a warning with the count.
    """
    from ..types import Document
    from ..datasets.squad import hash_text

    docs: dict[str, Document] = {}
    ids_of_text: dict[str, set[str]] = {}
    clashes: dict[str, set[str]] = {}  # id -> hashes of every text beyond the first sent under it
    for it in items:
        key = paragraph_id(it)
        d = docs.get(key)
        if d is None:
            docs[key] = Document(id=key, text=it.context, source=it.doc_id, metadata={"title": it.doc_id})
            ids_of_text.setdefault(it.context, set()).add(key)
        elif d.text != it.context:
            clashes.setdefault(key, set()).add(hash_text(it.context))
    if clashes:
        lost = sum(len(h) for h in clashes.values())
        key = next(iter(clashes))
        raise ConfigError(
            f"{lost} paragraph text(s) share a document id with a different text ({len(clashes)} id(s), e.g. {key!r}); "
            "indexing them would drop all but the first text under each id. Give every distinct paragraph its own "
            "doc_id/paragraph_index (load_squad numbers the paragraphs of each title and names untitled articles by a "
            "content hash)"
        )
    copies = {t: ids for t, ids in ids_of_text.items() if len(ids) > 1}
    if copies:
        extra = sum(len(ids) - 1 for ids in copies.values())
        example = sorted(next(iter(copies.values())))[:3]
        log.warning("%d paragraph text(s) appear under more than one document id (%d extra copies indexed, e.g. %s); "
                    "retrieval may return the copies side by side", len(copies), extra, ", ".join(example))
    return list(docs.values())


def build_context_index(items: Iterable[QAItem], embedder: Any = "minilm-l6", *, show_progress: bool = True, **index_kw: Any) -> Any:
    """A hybrid index over every distinct context in ``items``, chunked for the embedder.

    Document ids are ``<doc_id>#<paragraph index>`` (``paragraph_id``) so a retrieved chunk can
    be traced to its paragraph; see ``context_documents`` for what happens when ids collide."""
    from ..documents import Chunker
    from ..index.hybrid import HybridIndex

    docs = context_documents(items)  # before the model loads: a collision fails at once
    index = HybridIndex(embedder, **index_kw)
    index.warm_up()
    chunks = [c for cs in Chunker(index.embedder).chunk_many(docs) for c in cs]
    index.add(chunks, show_progress=show_progress)
    return index


def run_pipeline_qa(items: Sequence[QAItem], pipeline: Any, *, batch_size: int = 8, version: str = "1.1", show_progress: bool = True) -> list[PipelineRecord]:
    """Answer every item through ``pipeline.ask_batch`` and score it."""
    from ..generate.prompts import strip_citations

    bar = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc="qa", unit="q")
    out: list[PipelineRecord] = []
    for i in range(0, len(items), batch_size):
        batch = items[i : i + batch_size]
        answers = pipeline.ask_batch([it.question for it in batch])
        for it, a in zip(batch, answers):
            pred = strip_citations(a.text).strip() if a.answered else ""
            golds = it.answers if it.answers else ("",)
            v = "2.0" if version.startswith("2") else "1.1"
            em, f1 = best_over(list(golds), pred, v)
            gen = "" if a.verdict == "declined" else strip_citations(a.generated).strip()
            raw_em, raw_f1 = best_over(list(golds), gen, v)  # gen "" (a decline) scores as the empty prediction
            gold_key = paragraph_id(it)
            out.append(
                PipelineRecord(
                    id=it.id, question=it.question, golds=it.answers, prediction=pred, answered=a.answered,
                    verdict=a.verdict, support=float(a.support), em=em, f1=f1, timings=dict(a.timings),
                    claim_probs=tuple(float(c.probability) for c in a.claims),
                    gold_retrieved=any(p.doc_id == gold_key for p in a.passages) if it.answers else None,
                    generated=gen, raw_em=raw_em, raw_f1=raw_f1,
                )
            )
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    return out


def _pct(xs: Sequence[float]) -> float | None:
    return round(100.0 * float(np.mean(xs)), 2) if len(xs) else None


def latency_summary(records: Sequence[PipelineRecord]) -> dict[str, dict[str, float]]:
    stages = sorted({k for r in records for k in r.timings})
    out = {}
    for s in stages:
        vals = np.array([r.timings[s] for r in records if s in r.timings and r.timings[s] > 0])
        if len(vals):
            out[s] = {"p50": round(float(np.percentile(vals, 50)), 1), "p95": round(float(np.percentile(vals, 95)), 1), "mean": round(float(vals.mean()), 1), "n": int(len(vals))}
    return out


def summarize(records: Sequence[PipelineRecord], *, version: str = "1.1") -> dict[str, Any]:
    """The JSON keys the issue names: em, f1, answered_rate, noans_declined_rate (v2),
    hasans_answered_rate (v2), supported_rate, latency_ms; all rates in percent; and ``selective``:
    coverage at 90% and 95% precision and AURC over every question (fractions)."""
    answered = [r for r in records if r.answered]
    summary: dict[str, Any] = {
        "n": len(records),
        "em": _pct([r.em for r in records]),
        "f1": _pct([r.f1 for r in records]),
        "answered_rate": _pct([r.answered for r in records]),
        "supported_rate": _pct([r.verdict == "supported" for r in answered]),
        "latency_ms": latency_summary(records),
    }
    has = [r for r in records if r.answerable]
    if has:
        summary["hasans_em"] = _pct([r.em for r in has])
        summary["hasans_f1"] = _pct([r.f1 for r in has])
        summary["answered_f1"] = _pct([r.f1 for r in answered if r.answerable])
    if answered:
        # precision of what is returned: an answer is right when its F1 with a gold answer is at
        # least 0.5 (the rule of the selective metrics below); an unanswerable question answered is wrong
        right = sum(bool(r.answerable and r.f1 >= 0.5) for r in answered)
        summary["answered_right"] = right
        summary["answered_precision"] = _pct([bool(r.answerable and r.f1 >= 0.5) for r in answered])
        rec = [r.gold_retrieved for r in has if r.gold_retrieved is not None]
        summary["gold_passage_retrieved_rate"] = _pct(rec)
    if version.startswith("2"):
        no = [r for r in records if not r.answerable]
        summary["noans_declined_rate"] = _pct([not r.answered for r in no])
        summary["hasans_answered_rate"] = _pct([r.answered for r in has])
    if any(r.generated for r in records):
        summary["unguarded"] = {  # every generated answer returned (no threshold): what the guard is weighed against
            "f1": _pct([r.raw_f1 for r in records]),  # a generator decline scores as the empty prediction
            "answered_rate": _pct([bool(r.generated) for r in records]),
        }
    # selective-answer metrics over every question: each generated answer scored by its support,
    # right when its F1 with a gold answer is at least 0.5 (groundqa.metrics.selective)
    from ..metrics.selective import selective_metrics

    summary["selective"] = selective_metrics([r.support if r.generated else None for r in records],
                                             [bool(r.answerable and r.generated and r.raw_f1 >= 0.5) for r in records]).to_dict()
    lat = summary["latency_ms"]
    if "generate" in lat and "verify" in lat:
        summary["guard_share_of_generation"] = round(lat["verify"]["mean"] / lat["generate"]["mean"], 3)
    return summary


def risk_coverage(records: Sequence[PipelineRecord]) -> list[dict[str, float]]:
    """The whole risk-coverage curve: as the support threshold falls, every generated answer whose
    support reaches it is returned (the rest withheld). One point per distinct support value:
    ``coverage`` (share of all questions answered), ``f1`` (F1 of the answered ones), ``f1_all``
    (F1 over all questions, a withheld answer scoring as the empty prediction), and on data with
    unanswerable questions ``noans_declined`` / ``hasans_answered`` (percent). Generator declines
    never count as answers."""
    n = len(records)
    if not n:
        return []
    cands = sorted((r for r in records if r.generated), key=lambda r: -r.support)
    n_no = sum(not r.answerable for r in records)
    n_has = n - n_no
    base = sum(r.empty_score for r in records)  # everything withheld
    points = []
    f1_sum = all_sum = 0.0
    no_answered = has_answered = 0
    for i, r in enumerate(cands, start=1):
        f1_sum += r.raw_f1
        all_sum += r.raw_f1 - r.empty_score
        no_answered += not r.answerable
        has_answered += r.answerable
        if i == len(cands) or cands[i].support != r.support:
            pt = {"threshold": r.support, "coverage": i / n, "f1": 100.0 * f1_sum / i, "f1_all": 100.0 * (base + all_sum) / n}
            if n_no:
                pt["noans_declined"] = 100.0 * (1 - no_answered / n_no)
                pt["hasans_answered"] = 100.0 * has_answered / n_has if n_has else 0.0
            points.append(pt)
    return points


def reliability(probs: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[dict[str, float]]:
    """Reliability diagram rows: per probability bin, mean probability and observed accuracy."""
    p = np.asarray(probs, dtype=float)
    y = np.asarray(correct, dtype=float)
    rows = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        m = (p >= lo) & ((p < hi) if b < bins - 1 else (p <= hi))
        if m.any():
            rows.append({"lo": lo, "hi": hi, "mean_prob": float(p[m].mean()), "accuracy": float(y[m].mean()), "n": int(m.sum())})
    return rows


def write_report(records: Sequence[PipelineRecord], summary: Mapping[str, Any], out_dir: str | Path, *, title: str = "groundqa QA benchmark", config: Mapping[str, Any] | None = None) -> Path:
    """Markdown plus PNG plots: risk-coverage curve, reliability diagram, latency histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rc = risk_coverage(records)
    fig, ax = plt.subplots(figsize=(5, 4))
    if rc:
        ax.plot([p["coverage"] for p in rc], [p["f1"] for p in rc], marker=".", lw=1, label="F1 of answered")
        ax.plot([p["coverage"] for p in rc], [p["f1_all"] for p in rc], lw=1, ls="--", label="F1 of all questions")
        ax.legend()
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("F1")
    ax.set_xlim(0, 1)
    ax.set_title("risk-coverage (threshold on answer support)")
    fig.tight_layout()
    fig.savefig(out / "risk_coverage.png", dpi=120)
    plt.close(fig)

    ans = [r for r in records if r.generated and r.answerable]  # every generated answer, returned or not
    rel = reliability([r.support for r in ans], [r.raw_f1 >= 0.5 for r in ans])
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    if rel:
        ax.plot([b["mean_prob"] for b in rel], [b["accuracy"] for b in rel], marker="o")
    ax.set_xlabel("answer support (weakest claim probability)")
    ax.set_ylabel("share correct (F1 >= 0.5)")
    ax.set_title("reliability of support scores")
    fig.tight_layout()
    fig.savefig(out / "reliability.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for stage in ("retrieve", "generate", "verify", "total"):
        vals = [r.timings[stage] for r in records if r.timings.get(stage, 0) > 0]
        if vals:
            ax.hist(vals, bins=30, alpha=0.5, label=stage)
    ax.set_xlabel("milliseconds per question")
    ax.set_ylabel("questions")
    ax.legend()
    ax.set_title("latency per stage")
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=120)
    plt.close(fig)

    lines = [f"# {title}", ""]
    if config:
        lines += ["```json", json.dumps(config, indent=2), "```", ""]
    lines += ["| metric | value |", "|---|---|"]
    for k, v in summary.items():
        if k != "latency_ms":
            lines.append(f"| {k} | {json.dumps(v) if isinstance(v, dict) else v} |")
    lines += ["", "| stage | p50 ms | p95 ms | mean ms |", "|---|---|---|---|"]
    for s, v in summary.get("latency_ms", {}).items():
        lines.append(f"| {s} | {v['p50']} | {v['p95']} | {v['mean']} |")
    lines += ["", "![risk-coverage](risk_coverage.png) ![reliability](reliability.png) ![latency](latency.png)", ""]
    v2 = bool(rc) and "noans_declined" in rc[0]
    lines += ["## Risk-coverage points", "", "every generated answer with support >= the threshold is returned", "",
              "| support >= | coverage | F1 of answered | F1 of all |" + (" unanswerable declined | answerable answered |" if v2 else ""),
              "|---|---|---|---|" + ("---|---|" if v2 else "")]
    step = max(1, len(rc) // 20)
    for p in rc[::step] + ([rc[-1]] if rc and (len(rc) - 1) % step else []):
        row = f"| {p['threshold']:.3f} | {p['coverage']:.3f} | {p['f1']:.1f} | {p['f1_all']:.1f} |"
        if v2:
            row += f" {p['noans_declined']:.1f} | {p['hasans_answered']:.1f} |"
        lines.append(row)
    (out / "report.md").write_text("\n".join(lines) + "\n")
    (out / "records.jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in records))
    return out / "report.md"


@dataclass(frozen=True)
class QABenchConfig:
    """``groundqa bench qa``'s settings (the flags of the same names). ``context="gold"``: the
    generator alone on each question's own paragraph among ``distractors``; ``"retrieved"``: the
    whole pipeline over an index of every context of the file (``verifier``, ``policy``, ``top_k``
    and ``report`` apply to it only)."""

    data: str
    context: str = "gold"
    verifier: str = "default"
    policy: str = "abstain"
    top_k: int = 4
    report: str | None = None
    generator: str = "default"
    adapter: str | None = None
    distractors: int = 2
    limit: int | None = None
    articles: str | None = None
    seed: int = 0
    batch_size: int = 8
    max_new_tokens: int = 32
    int8: bool = False
    dtype: str = "auto"
    ground: str = "snap"
    reads: str = "windows"
    instruction: str | None = None
    threads: int | None = None
    json: str | None = None  # write the report (with per-question records) here


def select_articles(items: list[Any], spec: str | None) -> list[Any]:
    """Keep items whose document is in ``spec``: 'first:N' / 'last:N' of the sorted titles, or a comma list."""
    if not spec:
        return items
    titles = sorted({it.doc_id for it in items})
    if spec.startswith(("first:", "last:")):
        how, n_s = spec.split(":", 1)
        try:
            n = int(n_s)
        except ValueError:
            raise ConfigError(f"--articles {spec!r}: N must be an integer, e.g. last:12")
        keep = set(titles[:n] if how == "first" else titles[-n:])
    else:
        keep = {t.strip() for t in spec.split(",") if t.strip()}
        unknown = keep - set(titles)
        if unknown:
            raise ConfigError(f"--articles names unknown titles {sorted(unknown)[:5]}; titles look like {titles[:3]}")
    return [it for it in items if it.doc_id in keep]


def bench_generator(config: QABenchConfig) -> Any:
    """The generator ``config`` names, not loaded yet."""
    from ..generate.hf import TransformersGenerator
    from ..generate.prompts import PromptTemplate

    template = None
    if config.instruction:
        if "{decline}" not in config.instruction:
            raise ConfigError("--instruction must contain {decline} (where the decline sentence goes), so unanswerable questions can be declined")
        template = PromptTemplate(instruction=config.instruction)
    return TransformersGenerator(config.generator, adapter=config.adapter, batch_size=config.batch_size, template=template,
                                 max_new_tokens=config.max_new_tokens, int8=config.int8, dtype=config.dtype, ground=config.ground,
                                 context=config.reads)


def _write_json(path: str, payload: Any, indent: int) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=indent))


def _qa_retrieved(config: QABenchConfig, all_items: list, sample: list) -> dict[str, Any]:
    """The whole pipeline over an index of every context in the file (issue 5's benchmark)."""
    from ..pipeline import Pipeline
    from ..verify.guard import Guard

    if config.top_k <= 0:
        raise ConfigError(f"--top-k {config.top_k} is not valid; it must be a positive integer")
    version = "2.0" if any(not it.answers for it in all_items) else "1.1"
    index = build_context_index(all_items)
    gen = bench_generator(config)
    pipe = Pipeline(index, gen, Guard(config.verifier, embedder=index.embedder), policy=config.policy, top_k=config.top_k)
    pipe.warm_up()
    records = run_pipeline_qa(sample, pipe, batch_size=config.batch_size, version=version)
    summary = summarize(records, version=version)
    cfg = {"data": config.data, "context": "retrieved", "version": version, "questions": len(sample), "articles": config.articles,
           "limit": config.limit, "seed": config.seed, "documents": len({it.doc_id for it in all_items}), "paragraphs_indexed": len(index.doc_ids()), "chunks": len(index),
           "generator": config.generator, "adapter": config.adapter, "ground": config.ground, "instruction": config.instruction, "verifier": config.verifier, "policy": config.policy, "top_k": config.top_k}
    out = {"dataset": Path(config.data).name, "results": summary, "config": cfg}
    if config.json:
        _write_json(config.json, out, 1)
    if config.report:
        write_report(records, summary, config.report, title=f"groundqa end to end: {Path(config.data).name}", config=cfg)
    return out


def run_qa_bench(config: QABenchConfig) -> BenchResult:
    """Answer the questions ``config`` selects and score them (official SQuAD EM/F1); writes
    ``json`` (with per-question records) and ``report`` when given. The scores are what
    ``groundqa bench qa`` prints."""
    from ..datasets.squad import context_pool, load_squad, run_gold_qa, sample_items
    from .result import bench_result

    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    all_items = load_squad(config.data)
    items = select_articles(all_items, config.articles)
    sample = sample_items(items, config.limit, config.seed)
    if not sample:
        raise ConfigError(f"--data {config.data!r} with --articles {config.articles!r} leaves no questions")
    if config.context == "retrieved":
        return bench_result("bench qa", config, _qa_retrieved(config, all_items, sample), [config.data])
    pool = context_pool(items)
    gen = bench_generator(config)
    gen.warm_up()
    name = config.generator + (f"+{Path(config.adapter).name}" if config.adapter else "")
    report = run_gold_qa(sample, gen, dataset=Path(config.data).name, pool=pool, distractors=config.distractors,
                         seed=config.seed, batch_size=config.batch_size, show_progress=True, generator_name=name)
    d = report.to_dict()
    d["settings"].update({"limit": config.limit, "articles": config.articles, "int8": config.int8, "dtype": config.dtype,
                          "ground": config.ground, "instruction": config.instruction,
                          "threads": config.threads, "max_new_tokens": config.max_new_tokens, "load_seconds": round(gen.load_seconds, 1)})
    if config.json:
        full = report.to_dict(with_records=True)
        full["settings"] = d["settings"]
        _write_json(config.json, full, 1)
    return bench_result("bench qa", config, d, [config.data])


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


__all__ = ["PipelineRecord", "QABenchConfig", "bench_generator", "build_context_index", "context_documents", "latency_summary", "paragraph_id", "reliability", "risk_coverage", "run_pipeline_qa", "run_qa_bench", "select_articles", "summarize", "write_report"]
