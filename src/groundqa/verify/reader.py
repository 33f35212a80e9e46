"""An extractive reader as a signal: would a model that reads the passages pick this answer?

The guard's other signals ask whether the evidence *covers* a claim: its words, its embedding, an
entailment model over "question? answer". A wrong short answer of a small generator is mostly the
right kind of thing from the wrong slot (``1889`` for a question about 1957, a sibling parameter),
and it is covered as well as the right one. A reader does something else: it scores every span of
the passage as the answer to the question, so the generator's answer competes with the span the
reader would have chosen, and with "no answer here" ([CLS]).

``ReaderScorer`` (features ``rd_ans``, ``rd_span``, ``rd_null``), for a short answer read with its
question; NaN for a claim without one:

* ``rd_ans``: the answer's span score (start + end logit) minus the best span's score in the same
  passage window: 0 when the reader's own choice is the answer, negative otherwise; ``RD_FLOOR``
  when the answer is no span of any passage;
* ``rd_span``: the answer's span score minus the "no answer" score of its window (SQuAD 2.0's
  answerability rule); ``RD_FLOOR`` when it is no span;
* ``rd_null``: over every window of every passage, the smallest margin of "no answer" over the
  best span: high when the reader finds nothing that answers the question anywhere.

The model is the project's own (``"default"``: ``groundqa/data/reader``, the shipped verifier's
MiniLM encoder with a span head, trained on SQuAD dev articles no benchmark reports on:
``recipes/reader_train.py``) or any local folder with a question-answering head.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError, ModelNotFoundError
from .evidence import EvidenceWindow

DEFAULT_READER_DIR = Path(__file__).resolve().parent.parent / "data" / "reader"
RD_FLOOR = -12.0  # the answer is no span of any passage: as far below the reader's choice as it gets
CARD = "groundqa_reader.json"


def save_reader(model: Any, tokenizer: Any, out_dir: str | Path, card: dict[str, Any]) -> Path:
    """Save a question-answering model as the guard reads it: config, tokenizer, a card, and the
    weights as int8 rows (``groundqa.int8store``)."""
    from ..int8store import convert_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    (out / CARD).write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    convert_file(out / "model.safetensors", remove=True)
    return out


def load_reader(path: str | Path) -> tuple[Any, Any]:
    """(model, tokenizer) of the reader in ``path``, in float32 and eval mode."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from .scorers import load_float32

    p = Path(path)
    if not (p / "config.json").exists():
        raise ModelNotFoundError(f"no reader in {p} (config.json missing); train one with recipes/reader_train.py, "
                                 "or pass reader=None to run the guard without it")
    tok = AutoTokenizer.from_pretrained(str(p))
    model = load_float32(p, AutoModelForQuestionAnswering)
    model.eval()
    return model, tok


def passage_texts(windows: Sequence[EvidenceWindow]) -> list[str]:
    """The passages behind sentence windows, put back together: the windows of one passage cover
    its sentences (offsets in the source document), so their union is the passage with the space
    between sentences collapsed to one."""
    by: dict[tuple[int, str, str], list[EvidenceWindow]] = {}
    for w in windows:
        by.setdefault((w.passage, w.doc_id, w.chunk_id), []).append(w)
    out = []
    for ws in by.values():
        ws = sorted(ws, key=lambda w: (w.start, -w.end))
        parts: list[str] = []
        end = None
        for w in ws:
            if end is None or w.start >= end:
                if parts:
                    parts.append(" ")
                parts.append(w.text)
                end = w.end
            elif w.end > end and len(w.text) == w.end - w.start:
                parts.append(w.text[end - w.start :])
                end = w.end
        text = "".join(parts).strip()
        if text:
            out.append(text)
    return out


def best_span(start: np.ndarray, end: np.ndarray, max_tokens: int) -> tuple[float, int, int]:
    """The best span of one window: the highest ``start[i] + end[j]`` with ``i <= j < i +
    max_tokens``, and its (i, j), the first in (i, j) order on a tie."""
    best, bi, bj = -np.inf, 0, 0
    m = len(start)
    for i in range(m):
        j = i + int(np.argmax(end[i : min(m, i + max_tokens)]))
        sc = float(start[i] + end[j])
        if sc > best:
            best, bi, bj = sc, i, j
    return best, bi, bj


def _occurrences(answer: str, text: str) -> list[tuple[int, int]]:
    """Character spans of ``answer`` in ``text``, case-insensitive; a code answer is also looked
    for without its backticks."""
    low = text.lower()
    out = []
    for a in dict.fromkeys([answer.strip(), answer.strip().strip("`").strip()]):
        if not a:
            continue
        al = a.lower()
        i = low.find(al)
        while i >= 0:
            out.append((i, i + len(al)))
            i = low.find(al, i + 1)
    return out


class ReaderScorer:
    """Span scores of an extractive reader (see the module docstring)."""

    name = "reader"
    features = ("rd_ans", "rd_span", "rd_null")

    def __init__(self, model: Any = "default", *, max_length: int = 256, stride: int = 96, max_answer_tokens: int = 30,
                 batch_size: int = 16, threads: int | None = None) -> None:
        if max_length < 64 or stride >= max_length // 2:
            raise ConfigError(f"max_length={max_length}, stride={stride} are not valid; use max_length >= 64 and stride < max_length / 2")
        self._ref = model
        self.max_length, self.stride, self.max_answer_tokens = max_length, stride, max_answer_tokens
        self.batch_size, self.threads = batch_size, threads
        self.model: Any = None
        self.tok: Any = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return DEFAULT_READER_DIR if self._ref in (None, "default") else Path(str(self._ref))

    def warm_up(self) -> None:
        with self._lock:
            if self.model is None:
                if not isinstance(self._ref, (str, Path)):
                    self.model, self.tok = self._ref  # a (model, tokenizer) pair already loaded
                else:
                    self.model, self.tok = load_reader(self.path)

    def _logits(self, questions: Sequence[str], contexts: Sequence[str]) -> tuple[Any, list[Any]]:
        import torch

        enc = self.tok(list(questions), list(contexts), truncation="only_second", max_length=self.max_length, stride=self.stride,
                       return_overflowing_tokens=True, return_offsets_mapping=True, padding=True, return_tensors="pt")
        starts, ends = [], []
        n = enc["input_ids"].shape[0]
        threads = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                for s in range(0, n, self.batch_size):
                    batch = {k: enc[k][s : s + self.batch_size] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
                    out = self.model(**batch)
                    starts.append(out.start_logits.float())
                    ends.append(out.end_logits.float())
        finally:
            if self.threads:
                torch.set_num_threads(threads)
        return enc, [torch.cat(starts).numpy(), torch.cat(ends).numpy()] if n else [np.zeros((0, 0)), np.zeros((0, 0))]

    def score(self, items: Sequence[Any]) -> Any:
        from .scorers import ScoreBatch

        self.warm_up()
        rows = [[float("nan")] * 3 for _ in items]
        pairs: list[tuple[int, str, str, str]] = []  # (item, question, answer, passage)
        for k, it in enumerate(items):
            if it.focus == it.text or not it.windows:
                continue
            answer = (it.asserted if it.asserted is not None else it.focus).strip()
            question = it.text[: len(it.text) - len(answer)].strip() if answer and it.text.endswith(answer) else ""
            if not question or not answer:
                continue
            for p in passage_texts(it.windows):
                pairs.append((k, question, answer, p))
        if not pairs:
            return ScoreBatch(np.asarray(rows, dtype=np.float64).reshape(len(items), 3), [None] * len(items), [() for _ in items])
        enc, (st, en) = self._logits([q for _, q, _, _ in pairs], [p for _, _, _, p in pairs])
        L = self.max_answer_tokens
        ans_best: dict[int, tuple[float, float]] = {}
        null_min: dict[int, float] = {}
        for f in range(st.shape[0]):
            k, _, answer, passage = pairs[int(enc["overflow_to_sample_mapping"][f])]
            seq = enc.sequence_ids(f)
            ctx = [i for i, sid in enumerate(seq) if sid == 1]
            if not ctx:
                continue
            c0, c1 = ctx[0], ctx[-1]
            s, e = st[f, c0 : c1 + 1], en[f, c0 : c1 + 1]
            best = best_span(s, e, L)[0]
            null = float(st[f, 0] + en[f, 0])
            null_min[k] = min(null_min.get(k, np.inf), null - best)
            offs = enc["offset_mapping"][f].tolist()
            for a0, a1 in _occurrences(answer, passage):
                if offs[c0][0] > a0 or offs[c1][1] < a1:
                    continue  # not wholly inside this window of the passage
                i = next(t for t in range(c0, c1 + 1) if offs[t][1] > a0)
                j = next(t for t in range(c1, c0 - 1, -1) if offs[t][0] < a1)
                sc = float(st[f, i] + en[f, j])
                cand = (sc - float(best), sc - null)
                if k not in ans_best or cand[0] > ans_best[k][0]:
                    ans_best[k] = cand
        for k in {p[0] for p in pairs}:
            a = ans_best.get(k)
            rows[k] = [max(RD_FLOOR, a[0]) if a else RD_FLOOR, max(RD_FLOOR, a[1]) if a else RD_FLOOR, float(null_min.get(k, np.nan))]
        return ScoreBatch(np.asarray(rows, dtype=np.float64).reshape(len(items), 3), [None] * len(items), [() for _ in items])
