"""SQuAD: loading, the official EM/F1 (v1.1 and v2.0), and the gold-context QA runner.

The metric functions follow the official evaluation scripts line for line (``evaluate-v1.1.py``
and ``evaluate-v2.0.py``, Rajpurkar et al. 2016, 2018): answers are lower-cased, punctuation and
the articles a/an/the removed, whitespace collapsed; EM and token F1 take the maximum over the
gold answers; in v2 a question with no gold answer scores 1 only for an empty prediction.
Pure functions over plain data, no torch.
"""

from __future__ import annotations

import collections
import json
import random
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import ConfigError, DocumentError

# ---------------------------------------------------------------- official normalisation and metrics


def normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace (official SQuAD)."""

    def remove_articles(text: str) -> str:
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text: str) -> str:
        return " ".join(text.split())

    def remove_punc(text: str) -> str:
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def _v2_remove_articles(text: str) -> str:
    # v2.0's script compiles the pattern with re.UNICODE; the result is the same as v1.1's.
    return re.sub(re.compile(r"\b(a|an|the)\b", re.UNICODE), " ", text)


def get_tokens(s: str) -> list[str]:
    return normalize_answer(s).split() if s else []


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    """Token F1 between two answers (official). Two empty answers score 1 (the v2 no-answer rule)."""
    pred_toks, gold_toks = get_tokens(prediction), get_tokens(gold)
    if not pred_toks or not gold_toks:
        return float(pred_toks == gold_toks)
    common = collections.Counter(pred_toks) & collections.Counter(gold_toks)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_toks), same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def f1_v1(prediction: str, gold: str) -> float:
    """Token F1 as v1.1's script computes it (an empty side scores 0, never 1)."""
    pred_toks, gold_toks = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = collections.Counter(pred_toks) & collections.Counter(gold_toks)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_toks), same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def best_over(golds: Sequence[str], prediction: str, version: str = "1.1") -> tuple[float, float]:
    """(EM, F1) of ``prediction`` against the best-matching gold answer.

    v1.1: golds must be non-empty. v2.0: an empty ``golds`` means unanswerable, scored against "".
    """
    if version == "1.1":
        if not golds:
            raise ConfigError("best_over(version='1.1') needs at least one gold answer; use version='2.0'")
        return max(exact_match(prediction, g) for g in golds), max(f1_v1(prediction, g) for g in golds)
    golds = [g for g in golds if normalize_answer(g)] or [""]
    return max(exact_match(prediction, g) for g in golds), max(f1(prediction, g) for g in golds)


@dataclass(frozen=True)
class SquadScores:
    """Official SQuAD scores in percent. ``has_ans_*``/``no_ans_*`` are set for v2 data."""

    exact: float
    f1: float
    total: int
    missing: int = 0
    has_ans_exact: float | None = None
    has_ans_f1: float | None = None
    has_ans_total: int | None = None
    no_ans_exact: float | None = None
    no_ans_f1: float | None = None
    no_ans_total: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def evaluate_predictions(dataset: Mapping[str, Any] | list, predictions: Mapping[str, str], version: str | None = None) -> SquadScores:
    """Score ``predictions`` (question id -> answer text) on a SQuAD file's ``data`` list.

    A question without a prediction counts as wrong (both official scripts do so; v1.1 prints a
    message, v2.0 scores it as an empty answer, which is right for an unanswerable question).
    """
    articles = dataset["data"] if isinstance(dataset, Mapping) else dataset
    if version is None:
        version = "2.0" if any(qa.get("is_impossible") for a in articles for p in a["paragraphs"] for qa in p["qas"]) else "1.1"
    ems, f1s, has, no = [], [], [], []
    missing = 0
    for article in articles:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                golds = [a["text"] for a in qa.get("answers", [])]
                if version == "1.1":
                    if qa["id"] not in predictions:
                        missing += 1
                        ems.append(0.0)
                        f1s.append(0.0)
                        continue
                    em, f = best_over(golds, predictions[qa["id"]], "1.1")
                else:
                    pred = predictions.get(qa["id"])
                    if pred is None:
                        missing += 1
                        pred = ""
                    em, f = best_over(golds, pred, "2.0")
                    (has if [g for g in golds if normalize_answer(g)] else no).append((em, f))
                ems.append(em)
                f1s.append(f)
    n = len(ems)
    pct = lambda xs: 100.0 * sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    if version == "1.1":
        return SquadScores(exact=pct(ems), f1=pct(f1s), total=n, missing=missing)
    return SquadScores(
        exact=pct(ems), f1=pct(f1s), total=n, missing=missing,
        has_ans_exact=pct([e for e, _ in has]), has_ans_f1=pct([f for _, f in has]), has_ans_total=len(has),
        no_ans_exact=pct([e for e, _ in no]), no_ans_f1=pct([f for _, f in no]), no_ans_total=len(no),
    )


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class QAItem:
    """One question with its gold answers and the paragraph (and document) it belongs to.

    ``answers`` is empty for an unanswerable (v2) question. ``answer_starts`` are character offsets
    into ``context`` (-1 where unknown). ``contexts`` holds extra passages given with the item
    (JSONL ``contexts``), gold first where known.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    context: str
    doc_id: str
    answer_starts: tuple[int, ...] = ()
    contexts: tuple[str, ...] = ()
    paragraph_index: int = 0

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_squad(path: str | Path) -> list[QAItem]:
    """Read SQuAD v1.1/v2.0 JSON, or JSONL of {question, answer(s), context|contexts[, id, doc_id|title]}.

    Every distinct paragraph gets its own ``(doc_id, paragraph_index)``, so ``<doc_id>#<index>``
    names one text and never two:

    - ``doc_id`` is the article's ``title`` (JSONL: ``doc_id`` or ``title``). An article without a
      title gets ``untitled-<hash of its paragraphs>`` (a JSONL row without either:
      ``ctx-<hash of its context>``), so untitled articles stay apart and the id does not change
      when the file is reordered.
    - ``paragraph_index`` numbers the distinct contexts of a ``doc_id`` in file order. Articles that
      share a title are one document whose paragraphs are numbered on, not restarted at 0; a
      context repeated under the same ``doc_id`` keeps its first number.
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"--data {str(p)!r} does not exist; pass a SQuAD JSON or a JSONL file")
    text = p.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("{") and '"data"' in stripped[:2000] and not p.suffix == ".jsonl":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DocumentError(str(p), f"not valid JSON ({exc})") from exc
        if not isinstance(data.get("data"), list):
            raise DocumentError(str(p), "a SQuAD JSON file needs a top-level 'data' list of articles")
        return list(_items_from_squad(data))
    return list(_items_from_jsonl(p, text))


def article_doc_id(article: Mapping[str, Any]) -> str:
    """A SQuAD article's document id: its title, or ``untitled-<hash>`` of its paragraphs' text
    when the title is missing or blank (never "" for every untitled article)."""
    title = article.get("title")
    title = "" if title is None else str(title).strip()
    if title:
        return title
    return "untitled-" + hash_text("\n\n".join(str(p.get("context", "")) for p in article.get("paragraphs") or ()))


class _ParagraphNumbers:
    """Numbers the distinct contexts of each document in order of appearance."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, int]] = {}

    def __call__(self, doc_id: str, context: str) -> int:
        numbers = self._seen.setdefault(doc_id, {})
        return numbers.setdefault(context, len(numbers))


def _items_from_squad(data: Mapping[str, Any]) -> Iterator[QAItem]:
    number = _ParagraphNumbers()
    for article in data["data"]:
        doc_id = article_doc_id(article)
        for para in article["paragraphs"]:
            pi = number(doc_id, para["context"])
            for qa in para["qas"]:
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                yield QAItem(
                    id=str(qa["id"]), question=qa["question"], answers=tuple(a["text"] for a in answers),
                    context=para["context"], doc_id=doc_id, answer_starts=tuple(int(a.get("answer_start", -1)) for a in answers),
                    paragraph_index=pi,
                )


def _items_from_jsonl(p: Path, text: str) -> Iterator[QAItem]:
    number = _ParagraphNumbers()
    for ln, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DocumentError(f"{p}:{ln}", f"not valid JSON ({exc}); each line must be an object") from exc
        if "question" not in row:
            raise DocumentError(f"{p}:{ln}", "missing the 'question' field")
        ans = row.get("answers", row.get("answer"))
        if ans is None or ans == "":
            answers: tuple[str, ...] = ()
        elif isinstance(ans, str):
            answers = (ans,)
        else:
            answers = tuple(a["text"] if isinstance(a, Mapping) else str(a) for a in ans)
        contexts = row.get("contexts")
        context = row.get("context")
        if context is None and contexts:
            gold = [c for c in contexts if any(_find_words(c, a) >= 0 for a in answers)]
            context = gold[0] if gold else ""
        if context is None:
            raise DocumentError(f"{p}:{ln}", "needs a 'context' string or a 'contexts' list")
        starts = tuple(_find_words(context, a) for a in answers)
        doc = str(row.get("doc_id") or row.get("title") or "").strip() or f"ctx-{hash_text(context)}"
        yield QAItem(
            id=str(row.get("id", ln)), question=row["question"], answers=answers, context=context,
            doc_id=doc, answer_starts=starts, contexts=tuple(contexts or ()), paragraph_index=number(doc, context),
        )


def _find_words(text: str, answer: str) -> int:
    """Where ``answer`` first occurs in ``text`` as whole words (-1 if nowhere): a free-form answer
    such as "no" is not a span of "not" or "know"."""
    import re

    if not answer.strip():
        return -1
    m = re.search(r"(?<!\w)" + re.escape(answer) + r"(?!\w)", text)
    return m.start() if m else -1


def hash_text(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def split_articles(data: Mapping[str, Any], n_train: int = 36) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fine-tuning issue's split of SQuAD v1.1 dev: articles sorted by title, the first
    ``n_train`` for training and dev, the rest held out."""
    arts = sorted(data["data"], key=article_doc_id)
    return ({"version": data.get("version", ""), "data": arts[:n_train]},
            {"version": data.get("version", ""), "data": arts[n_train:]})


# ---------------------------------------------------------------- building the passages a question sees


def passages_for(item: QAItem, pool: Mapping[str, Sequence[str]], n_distractors: int, rng: random.Random,
                 *, drop_gold: bool = False) -> tuple[list[str], int | None]:
    """The passages shown with ``item``: its gold paragraph at a random place among
    ``n_distractors`` other paragraphs of the same document (others from the pool if the document
    has too few). Returns the passages and the 1-based number of the gold one (None if dropped)."""
    if item.contexts:
        ctxs = list(item.contexts)
        if drop_gold:
            ctxs = [c for c in ctxs if c != item.context]
            return ctxs, None
        gold = ctxs.index(item.context) + 1 if item.context in ctxs else None
        return ctxs, gold
    same = [c for c in pool.get(item.doc_id, ()) if c != item.context]
    chosen = rng.sample(same, min(n_distractors + (1 if drop_gold else 0), len(same)))
    need = n_distractors + (1 if drop_gold else 0) - len(chosen)
    if need > 0:
        others = [d for d in pool if d != item.doc_id]
        while need > 0 and others:
            d = rng.choice(others)
            c = rng.choice(list(pool[d]))
            if c != item.context and c not in chosen:
                chosen.append(c)
                need -= 1
    if drop_gold:
        return chosen, None
    pos = rng.randint(0, len(chosen))
    chosen.insert(pos, item.context)
    return chosen, pos + 1


def context_pool(items: Iterable[QAItem]) -> dict[str, list[str]]:
    pool: dict[str, list[str]] = {}
    for it in items:
        lst = pool.setdefault(it.doc_id, [])
        if it.context and it.context not in lst:
            lst.append(it.context)
    return pool


# ---------------------------------------------------------------- the gold-context QA runner


@dataclass(frozen=True)
class QARecord:
    id: str
    question: str
    prediction: str
    answers: tuple[str, ...]
    em: float
    f1: float
    declined: bool
    gold_cited: bool | None
    tokens: int
    seconds: float
    raw: str = ""  # the model's own text where span grounding changed it
    f1_raw: float | None = None  # F1 of the model's own text (before span grounding)
    in_passage: bool | None = None  # the answer (citations aside) occurs verbatim in a shown passage


@dataclass(frozen=True)
class QAReport:
    """What ``groundqa bench qa`` reports. Percentages are 0-100."""

    dataset: str
    generator: str
    context: str
    n: int
    em: float
    f1: float
    answered_rate: float
    tokens_per_s: float
    seconds_per_question: float
    citation_rate: float
    noans_declined_rate: float | None = None
    hasans_answered_rate: float | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    records: tuple[QARecord, ...] = ()
    f1_raw: float | None = None  # F1 of the model's own answers, before span grounding
    in_passage_rate: float | None = None  # share of answers that are verbatim passage text

    def to_dict(self, with_records: bool = False) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "records" and v is not None}
        if with_records:
            d["records"] = [r.__dict__ for r in self.records]
        return d


def sample_items(items: Sequence[QAItem], limit: int | None, seed: int) -> list[QAItem]:
    """A seeded sample; samples are nested (the first 20 of a 200-sample are the 20-sample)."""
    if limit is None or limit >= len(items):
        return list(items)
    order = list(items)
    random.Random(seed).shuffle(order)
    return order[:limit]


def run_gold_qa(
    items: Sequence[QAItem],
    generator: Any,
    *,
    dataset: str,
    pool: Mapping[str, Sequence[str]] | None = None,
    distractors: int = 2,
    seed: int = 0,
    batch_size: int = 8,
    show_progress: bool = False,
    generator_name: str | None = None,
) -> QAReport:
    """Answer each item from its gold paragraph among ``distractors`` paragraphs of the same
    document, and score the answers (citations stripped) with the official SQuAD metrics."""
    from ..text import remove_citations as strip_citations

    pool = pool if pool is not None else context_pool(items)
    # one generator per question: the passages a question sees do not depend on the sample around it
    shown = [passages_for(it, pool, distractors, random.Random(f"{seed}-{it.id}")) for it in items]
    version = "2.0" if any(not it.answerable for it in items) else "1.1"
    records: list[QARecord] = []
    total_tokens, total_gen_s = 0, 0.0
    latencies: list[float] = []
    it_range = range(0, len(items), batch_size)
    if show_progress:
        from tqdm.auto import tqdm

        it_range = tqdm(it_range, desc="qa", unit="batch")
    for start in it_range:
        batch = items[start : start + batch_size]
        gens = generator.generate_batch([it.question for it in batch], [shown[start + i][0] for i in range(len(batch))])
        for j, (it, g) in enumerate(zip(batch, gens)):
            pred = "" if g.declined else strip_citations(g.text)
            if version == "1.1":
                em, f = best_over(it.answers, pred, "1.1")
            else:
                em, f = best_over(it.answers, pred, "2.0")
            gold_n = shown[start + j][1]
            raw = getattr(g, "raw_text", "") or g.text
            raw_pred = "" if g.declined else strip_citations(raw)
            f_raw = best_over(it.answers, raw_pred, version)[1]
            in_passage = None if (g.declined or not pred) else any(pred in p for p in shown[start + j][0])
            records.append(QARecord(
                id=it.id, question=it.question, prediction=g.text, answers=it.answers, em=em, f1=f,
                declined=g.declined, gold_cited=(gold_n in g.citations) if gold_n is not None else None,
                tokens=g.tokens, seconds=g.seconds, raw=raw if raw != g.text else "", f1_raw=f_raw, in_passage=in_passage,
            ))
            total_tokens += g.tokens
            latencies.append(g.seconds * 1000)
        total_gen_s += max(g.batch_seconds for g in gens) if gens else 0.0
    n = len(records)
    pct = lambda xs: 100.0 * sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    has = [r for r in records if r.answers]
    no = [r for r in records if not r.answers]
    cited = [r.gold_cited for r in records if r.gold_cited is not None and not r.declined]
    lat = sorted(latencies)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else 0.0  # noqa: E731
    return QAReport(
        dataset=dataset, generator=generator_name or getattr(generator, "name", type(generator).__name__),
        context="gold", n=n, em=round(pct([r.em for r in records]), 2), f1=round(pct([r.f1 for r in records]), 2),
        answered_rate=round(pct([not r.declined for r in records]), 2),
        tokens_per_s=round(total_tokens / total_gen_s, 2) if total_gen_s else 0.0,
        seconds_per_question=round(total_gen_s / n, 3) if n else 0.0,
        citation_rate=round(pct([bool(c) for c in cited]), 2),
        noans_declined_rate=round(pct([r.declined for r in no]), 2) if version == "2.0" else None,
        hasans_answered_rate=round(pct([not r.declined for r in has]), 2) if version == "2.0" else None,
        latency_ms={"generate_p50": round(q(0.5), 1), "generate_p95": round(q(0.95), 1)},
        settings={"distractors": distractors, "seed": seed, "batch_size": batch_size, "version": version},
        records=tuple(records),
        f1_raw=round(pct([r.f1_raw or 0.0 for r in records]), 2),
        in_passage_rate=round(pct([bool(r.in_passage) for r in records if r.in_passage is not None]), 2),
    )
