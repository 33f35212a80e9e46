"""Synthetic claim/evidence pairs made from any corpus, for training and checking a verifier.

Supported pairs come from question/answer pairs (the question read with its answer, against the
sentence window that holds the answer) and from passage sentences (a sentence, or two adjacent
ones, against the window that holds them). Unsupported pairs are made by the edits a generator's
mistakes look like:

* ``swap``: the answer replaced by another answer span of the same type from the same document
  (number, date, name, other);
* ``number``: a number or year in the claim changed;
* ``entity``: a name in a sentence replaced by another name from the same document;
* ``negate``: a negation added or removed;
* ``partial``: a supported sentence joined with a sentence from elsewhere, so only part of the
  claim is supported (the commonest real failure, "partially supported" in WiCE);
* ``wrong_passage``: a true claim read against a similar window that does not hold it.

Everything is deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..errors import ConfigError
from ..text import sentence_spans
from ..verify.claims import qa_claim
from ..verify.lexical import MONTHS, normalise_number, units

_MONTH_NAMES = [m.capitalize() for m in MONTHS if len(m) > 3]


@dataclass(frozen=True)
class Pair:
    """One labelled claim/evidence pair. ``label`` is 1 for supported, 0 for unsupported."""

    claim: str
    evidence: str
    label: int
    kind: str
    source: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def answer_type(text: str) -> str:
    """A coarse type of an answer span: ``date``, ``number``, ``name`` or ``other``."""
    u = units(text)
    if u.dates:
        return "date"
    if u.numbers:
        return "number"
    words = [w for w in re.findall(r"[^\W\d_]+", text)]
    if words and all(w[0].isupper() for w in words if len(w) > 3):
        return "name"
    return "other"


def perturb_number(text: str, rng: random.Random) -> str | None:
    """``text`` with one number changed (years shift by a few, others scale or shift); None if none."""
    nums = list(re.finditer(r"\d+(?:[.,]\d+)*", text))
    if nums:
        m = rng.choice(nums)
        raw = m.group(0)
        val = normalise_number(raw)
        try:
            x = float(val) if val is not None else None
        except ValueError:
            x = None
        if x is None:
            return None
        if 1000 <= x <= 2100 and x == int(x):
            new = str(int(x) + rng.choice([-11, -7, -3, -2, -1, 1, 2, 3, 5, 10]))
        elif x == int(x):
            x = int(x)
            cands = [x + 1, x - 1, x * 2, x + rng.randint(2, 9), max(0, x // 2), x * 10]
            cands = [c for c in cands if c != x and c >= 0]
            new = f"{rng.choice(cands):,}" if "," in raw else str(rng.choice(cands))
        else:
            new = f"{x * rng.choice([0.5, 1.5, 2.0, 0.8]):.{max(1, len(raw.split('.')[-1]))}f}"
        return text[: m.start()] + new + text[m.end() :]
    for name in _MONTH_NAMES:
        if re.search(rf"\b{name}\b", text):
            other = rng.choice([n for n in _MONTH_NAMES if n != name])
            return re.sub(rf"\b{name}\b", other, text, count=1)
    return None


_AUX = re.compile(r"\b(is|are|was|were|has|had|have|can|could|will|would|does|did|do)\b")


def negate(text: str, rng: random.Random) -> str | None:
    """``text`` with its first auxiliary negated, or its negation removed; None if neither applies."""
    m = re.search(r"\b(is|are|was|were|has|had|have|can|could|will|would|does|did|do) not\b", text)
    if m:
        return text[: m.start()] + m.group(1) + text[m.end() :]
    m = re.search(r"\b(never)\b ", text)
    if m:
        return text[: m.start()] + text[m.end() :]
    m = _AUX.search(text)
    if m:
        return text[: m.end()] + " not" + text[m.end() :]
    return None


_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+(?:of\s+|de\s+|the\s+)?[A-Z][a-z]+)*)")


def names_in(text: str) -> list[str]:
    """Capitalised word runs that do not start the text (rough names)."""
    return [m.group(1) for m in _NAME.finditer(text) if m.start() > 0 and m.group(1).lower() not in MONTHS]


def _windows(sentences: Sequence[str], i: int, rng: random.Random) -> str:
    """The window holding sentence ``i``: the sentence alone or with a neighbour."""
    r = rng.random()
    if r < 0.4 or len(sentences) == 1:
        return sentences[i]
    if (r < 0.7 and i + 1 < len(sentences)) or i == 0:
        return " ".join(sentences[i : i + 2])
    return " ".join(sentences[i - 1 : i + 1])


def _best_other(sentences: Sequence[str], exclude: set[int], query: str, forbidden: str) -> int | None:
    q = units(query).words
    best, best_score = None, -1.0
    for j, s in enumerate(sentences):
        if j in exclude or forbidden.lower() in s.lower():
            continue
        score = len(q & units(s).words)
        if score > best_score:
            best, best_score = j, score
    return best


def pairs_from_qa(
    question: str,
    answer: str,
    context: str,
    answer_start: int,
    same_doc_answers: Sequence[str],
    rng: random.Random,
    source: str = "",
) -> list[Pair]:
    """Supported and unsupported pairs from one question/answer pair over its passage."""
    spans = sentence_spans(context)
    sents = [context[s:e] for s, e in spans]
    idx = next((k for k, (s, e) in enumerate(spans) if s <= answer_start < e), None)
    if idx is None or not answer.strip():
        return []
    window = _windows(sents, idx, rng)
    if answer.lower() not in window.lower():
        window = sents[idx]
        if answer.lower() not in window.lower():
            return []
    out = [Pair(qa_claim(question, answer), window, 1, "qa", source)]
    atype = answer_type(answer)
    others = [a for a in same_doc_answers if answer_type(a) == atype and a.lower() not in answer.lower() and answer.lower() not in a.lower()]
    edits: list[Pair] = []
    if others:
        edits.append(Pair(qa_claim(question, rng.choice(others)), window, 0, "swap", source))
    changed = perturb_number(answer, rng)
    if changed and changed != answer:
        edits.append(Pair(qa_claim(question, changed), window, 0, "number", source))
    j = _best_other(sents, {idx}, question, answer)
    if j is not None:
        edits.append(Pair(qa_claim(question, answer), sents[j], 0, "wrong_passage", source))
    rng.shuffle(edits)
    out.extend(edits[:2])
    return out


def pairs_from_sentences(sentences: Sequence[str], doc_names: Sequence[str], far_sentences: Sequence[str], rng: random.Random, source: str = "") -> list[Pair]:
    """Pairs made from a passage's sentences: one supported and one unsupported per sentence."""
    out: list[Pair] = []
    for i, s in enumerate(sentences):
        if len(s) < 25:
            continue
        # supported: the sentence (or it joined with its neighbour) against a window holding it
        if i + 1 < len(sentences) and rng.random() < 0.3:
            claim = s + " " + sentences[i + 1]
            out.append(Pair(claim, " ".join(sentences[max(0, i - 1) : i + 2]) if rng.random() < 0.5 else claim, 1, "sentence2", source))
        else:
            out.append(Pair(s, _windows(sentences, i, rng), 1, "sentence", source))
        window = _windows(sentences, i, rng)
        kinds = ["number", "entity", "negate", "partial", "wrong_passage"]
        rng.shuffle(kinds)
        for kind in kinds:
            neg: Pair | None = None
            if kind == "number":
                c = perturb_number(s, rng)
                neg = Pair(c, window, 0, kind, source) if c and c != s else None
            elif kind == "entity":
                own = names_in(s)
                pool = [n for n in doc_names if all(n not in o and o not in n for o in own)]
                if own and pool:
                    target = rng.choice(own)
                    if target not in window.replace(s, ""):
                        neg = Pair(s.replace(target, rng.choice(pool), 1), window, 0, kind, source)
            elif kind == "negate":
                c = negate(s, rng)
                neg = Pair(c, window, 0, kind, source) if c and c != s else None
            elif kind == "partial" and far_sentences:
                extra = rng.choice(far_sentences)
                claim = (s + " " + extra) if rng.random() < 0.6 else (extra + " " + s)
                neg = Pair(claim, window, 0, kind, source)
            elif kind == "wrong_passage" and len(sentences) > 2:
                j = _best_other(sentences, {i - 1, i, i + 1}, s, s)
                neg = Pair(s, sentences[j], 0, kind, source) if j is not None else None
            if neg is not None:
                out.append(neg)
                break
    return out


def squad_articles(path: str | Path, titles: Iterable[str] | None = None) -> list[dict]:
    """The articles of a SQuAD-format file, optionally only those whose title is in ``titles``."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"squad file {str(p)!r} does not exist; pass a SQuAD v1.1/v2.0 json file")
    data = json.loads(p.read_text(encoding="utf-8"))["data"]
    if titles is not None:
        keep = set(titles)
        data = [a for a in data if a["title"] in keep]
    return data


def squad_training_titles(path: str | Path, n_train: int = 36) -> list[str]:
    """The project's SQuAD v1.1 dev training split: the first ``n_train`` titles in sorted order."""
    return sorted(a["title"] for a in squad_articles(path))[:n_train]


def pairs_from_squad(articles: Sequence[dict], seed: int = 0, sentence_pairs: bool = True) -> list[Pair]:
    """All synthetic pairs of SQuAD-format ``articles`` (QA pairs and, optionally, sentences)."""
    rng = random.Random(seed)
    out: list[Pair] = []
    for art in articles:
        title = art["title"]
        answers = sorted({a["text"] for p in art["paragraphs"] for q in p["qas"] for a in q.get("answers", [])[:1]})
        all_sents = []
        para_sents = []
        for p in art["paragraphs"]:
            ss = [p["context"][s:e] for s, e in sentence_spans(p["context"])]
            para_sents.append(ss)
            all_sents.extend(ss)
        doc_names = sorted({n for s in all_sents for n in names_in(s)})
        for k, p in enumerate(art["paragraphs"]):
            for q in p["qas"]:
                if not q.get("answers"):
                    continue
                a = q["answers"][0]
                out.extend(pairs_from_qa(q["question"], a["text"], p["context"], int(a["answer_start"]), answers, rng, f"squad:{title}"))
            if sentence_pairs:
                far = [s for kk, ss in enumerate(para_sents) if kk != k for s in ss if len(s) > 25]
                far = rng.sample(far, min(50, len(far)))
                out.extend(pairs_from_sentences(para_sents[k], doc_names, far, rng, f"squad:{title}"))
    return out


def write_jsonl(pairs: Iterable[Pair], path: str | Path) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
            n += 1
    return n


def iter_jsonl(path: str | Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
