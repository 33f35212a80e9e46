"""Signals: each scorer turns claims with candidate evidence into a few numeric features.

One protocol (``Scorer``): ``features`` names the columns, ``score(items)`` returns a
``ScoreBatch`` with one row per claim, the window each claim found best (if the scorer has an
opinion) and reasons a person can read. The combiner (``combiner.py``) maps the columns to one
probability.

* ``LexicalScorer``: coverage of the claim's content words by the best window, the best few
  together, and all evidence; bigrams; negation mismatch; numbers, dates and names of the claim
  that appear in no evidence (exact checks, with reasons); the answer part's coverage by all
  evidence and its length in tokens (``focus_all``, ``log_len``); how well the sentence holding a
  short answer matches its question (``ans_ctx``, ``ans_gap``: ``answer_context``).
* ``EmbeddingScorer``: best cosine similarity between the claim and a window, with the
  retriever's embedder.
* ``CrossEncoderScorer``: P(supported) from any sequence-classification model: the project's own
  (``"default"``, shipped in ``groundqa/data/verifier``), a local folder, or a hub NLI /
  fact-checking model (MiniCheck, HHEM, nli-deberta, ...) where a hub is reachable. The entailment
  label is found in ``config.id2label``; a one-logit model is read through a sigmoid.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import ConfigError, ModelNotFoundError, check_choice
from .evidence import EvidenceWindow
from .lexical import Units, bigrams, coverage, local_negation, units

DEFAULT_VERIFIER_DIR = Path(__file__).resolve().parent.parent / "data" / "verifier" / "model"


@dataclass(frozen=True)
class ClaimContext:
    """A claim ready to score. ``text`` is what a model reads; ``focus`` is the part whose
    numbers, dates and names must appear in the evidence (the answer of a question+answer claim);
    ``windows`` are all candidate windows and ``top`` the indices of the pre-ranked best ones."""

    text: str
    focus: str
    windows: tuple[EvidenceWindow, ...]
    top: tuple[int, ...]
    segments: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (segment text, its top windows) of a multi-part claim
    asserted: str | None = None  # the answer's own words, for the length signal (None: the focus)
    generation: Any = None  # the generator's confidence for the answer (Generation.confidence), if given


@dataclass(frozen=True)
class ScoreBatch:
    values: np.ndarray  # (n_claims, n_features) float64
    best: list[int | None]
    reasons: list[tuple[str, ...]]


@runtime_checkable
class Scorer(Protocol):
    name: str

    @property
    def features(self) -> tuple[str, ...]: ...

    def warm_up(self) -> None: ...

    def score(self, items: Sequence[ClaimContext]) -> ScoreBatch: ...


class GenerationScorer:
    """The generator's own confidence in the answer, passed along by the pipeline: mean and lowest
    log-probability of the answer tokens, the smallest top-1/top-2 margin, how well the answer
    matched a passage span, and how near it came to declining, at the first token (``decline_lp``)
    and as whole sentences (``decline_gap``, where the generator scores it), and what a linear probe
    reads in its hidden state (``probe``, where its folder ships one: ``groundqa.generate.probe``); all from
    ``Generation.confidence``. Where no generation signals come with a claim (the guard called on
    its own) the columns are NaN, and the combiner reads them as the calibration's mean, so they
    move no probability."""

    name = "generation"
    features = ("gen_lp_mean", "gen_lp_min", "gen_margin_min", "gen_span_score", "gen_decline_lp", "gen_decline_gap", "gen_probe")
    _keys = ("lp_mean", "lp_min", "margin_min", "span_score", "decline_lp", "decline_gap", "probe")

    def warm_up(self) -> None:
        return None

    @classmethod
    def confidence_from(cls, signals: Mapping[str, float]) -> dict[str, float] | None:
        """The generation signals a judged claim carries (``gen_lp_mean``, ...) as the mapping
        ``Guard.verify_batch(generation=...)`` takes (``lp_mean``, ...), to judge the same answer
        again; None when the claim has none."""
        out = {k: float(signals[f]) for f, k in zip(cls.features, cls._keys) if f in signals}
        return out or None

    def score(self, items: Sequence[ClaimContext]) -> ScoreBatch:
        rows, reasons = [], []
        for it in items:
            g = it.generation or {}
            row = [float(g[k]) if isinstance(g.get(k), (int, float)) else float("nan") for k in self._keys]
            rows.append(row)
            r: tuple[str, ...] = ()
            if g and isinstance(g.get("span_score"), (int, float)) and float(g["span_score"]) < 0.5:
                r = ("the answer is not a span of any passage",)
            reasons.append(r)
        return ScoreBatch(np.array(rows, dtype=np.float64).reshape(len(items), len(self.features)), [None] * len(items), reasons)


def _logit(p: float, eps: float = 1e-4) -> float:
    p = min(1 - eps, max(eps, p))
    return math.log(p / (1 - p))


_MARKUP = re.compile(r"[`*_]+")


def _flat(text: str) -> str:
    """Lower case, Markdown emphasis and code marks dropped, whitespace collapsed: for finding an
    answer's words inside a window."""
    return " ".join(_MARKUP.sub(" ", text).lower().split())


def answer_context(it: ClaimContext) -> tuple[float, float]:
    """(``ans_ctx``, ``ans_gap``) of a short answer read with its question.

    ``ans_ctx``: the share of the question's content words (IDF-weighted over the claim's windows)
    found in the best window that holds the answer itself, a sentence or two; 0 when no window
    holds it. The question's words inside the answer count: a signature that names the parameter
    asked about answers it. ``ans_gap``: how much better the best window of all covers the
    question than that. A right answer usually sits in the sentence that matches the question; a
    wrong one (the right kind of thing in the wrong slot, a plausible answer to a question the
    passage does not answer) usually sits elsewhere, or in a sentence that matches it less. NaN for
    a claim without a question (a sentence of a long answer): the combiner reads the calibration's
    mean."""
    if it.focus == it.text or not it.windows:
        return float("nan"), float("nan")
    answer = (it.asserted if it.asserted is not None else it.focus).strip()
    question = it.text[: len(it.text) - len(answer)] if answer and it.text.endswith(answer) else it.text
    qw = units(question).words
    flat_focus = _flat(answer)
    if not qw or not flat_focus:
        return float("nan"), float("nan")
    wus = [units(w.text).words for w in it.windows]
    df = {t: sum(1 for u in wus if t in u) for t in qw}
    idf = {t: math.log(1 + len(wus) / (1 + df[t])) for t in qw}
    total = sum(idf.values()) or 1.0
    covs = [sum(idf[t] for t in qw & u) / total for u in wus]
    holding = [c for c, w in zip(covs, it.windows) if flat_focus in _flat(w.text)]
    ctx = max(holding, default=0.0)
    return ctx, max(covs) - ctx


class LexicalScorer:
    """Word, number, date and name coverage (see the module docstring)."""

    name = "lexical"
    features = ("lex_best", "lex_union", "lex_all", "focus_all", "bigram_best", "missing_numbers", "missing_names", "neg_mismatch", "log_len", "missing_words", "idf_union", "seg_lex_min",
                "ans_ctx", "ans_gap")

    def __init__(self, union_k: int = 3) -> None:
        self.union_k = union_k

    def warm_up(self) -> None:
        return None

    def score(self, items: Sequence[ClaimContext]) -> ScoreBatch:
        rows, best, reasons = [], [], []
        for it in items:
            cu = units(it.text)
            fu = units(it.focus)
            wu: list[Units] = [units(it.windows[i].text) for i in it.top]
            covs = [coverage(cu, u) for u in wu]
            b = int(np.argmax(covs)) if covs else None
            lex_best = covs[b] if b is not None else 0.0
            union_words: set[str] = set()
            for u in wu[: self.union_k]:
                union_words |= u.words
            lex_union = len(cu.words & union_words) / len(cu.words) if cu.words else 1.0
            all_words: set[str] = set()
            all_nums: set[str] = set()
            for w in it.windows:
                u = units(w.text)
                all_words |= u.words
                all_nums |= u.numbers
            lex_all = len(cu.words & all_words) / len(cu.words) if cu.words else 1.0
            focus_all = len(fu.words & all_words) / len(fu.words) if fu.words else 1.0
            missing_words = math.log1p(len(cu.words - all_words))
            # IDF over the claim's evidence windows: a rare word missing from the best windows costs more
            df: dict[str, int] = {}
            for w in it.windows:
                for t in units(w.text).words & cu.words:
                    df[t] = df.get(t, 0) + 1
            n_w = max(1, len(it.windows))
            idf = {t: math.log(1 + n_w / (1 + df.get(t, 0))) for t in cu.words}
            idf_union = sum(idf[t] for t in cu.words & union_words) / (sum(idf.values()) or 1.0) if cu.words else 1.0
            cb = bigrams(it.text)
            bg = max((len(cb & bigrams(it.windows[i].text)) / len(cb) for i in it.top), default=0.0) if cb else 1.0
            seg_lex = lex_best
            if it.segments:
                seg_lex = min(max((coverage(units(sg), units(it.windows[i].text)) for i in top), default=0.0) for sg, top in it.segments)
            miss_num = sorted(n for n in fu.numbers if n not in all_nums)
            miss_names = sorted(n for n in fu.names if n not in all_words)
            if b is None:
                neg = 0.0
            elif it.focus != it.text:
                # a short answer read with its question: compare the answer's own clause of the
                # evidence, not every "no" of the window; an answer with no negation of its own
                # (a name, a number, a package) cannot contradict a "not" around it, and an answer
                # the window states word for word ("416 Range Not Satisfiable", its code marks
                # dropped) is the window's own words, whatever prose() reads as code there
                said = (it.asserted if it.asserted is not None else it.focus).replace("`", "").strip().lower()
                neg = float(fu.negated and not (said and said in it.windows[it.top[b]].text.lower().replace("`", ""))
                            and not local_negation(it.windows[it.top[b]].text, fu))
            else:
                neg = float(cu.negated != wu[b].negated)
            why: list[str] = []
            for n in miss_num:
                why.append(f"number or date '{n}' appears in no evidence")
            for n in miss_names:
                why.append(f"name '{n}' appears in no evidence")
            if not it.windows:
                why.append("no evidence was given")
            elif lex_union < 0.5 and it.focus == it.text:
                # a sentence claim only: the content words of a short answer read with its question
                # are mostly the question's, and a user's wording of a question is not what the
                # evidence must repeat (on the calibration set this fired on 3 right answers of 16);
                # the answer checks say where a short answer itself is not in the evidence
                why.append(f"the best evidence covers only {lex_union:.0%} of the claim's content words")
            if neg and it.focus != it.text:
                # named for a short answer only. On sentence claims (WiCE dev, 349 claims) it fired
                # on 43, 14 of them supported: the base rate, so it tells a user nothing there
                # (paraphrase: "declined" for "turned down"); neg_mismatch stays a signal
                why.append("negation differs between the claim and its best evidence")
            rows.append([lex_best, lex_union, lex_all, focus_all, bg, min(3, len(miss_num)), len(miss_names) / max(1, len(fu.names)), neg, math.log1p(fu.n_tokens if it.asserted is None else units(it.asserted).n_tokens), missing_words, idf_union, seg_lex,
                         *answer_context(it)])
            best.append(it.top[b] if b is not None else None)
            reasons.append(tuple(why))
        return ScoreBatch(np.asarray(rows, dtype=np.float64).reshape(len(items), len(self.features)), best, reasons)


class EmbeddingScorer:
    """Best cosine between the claim and its top windows, with the retriever's embedder."""

    name = "embedding"
    features = ("emb_best",)

    def __init__(self, embedder: Any = "minilm-l6") -> None:
        self._ref = embedder
        self.embedder: Any = None

    def warm_up(self) -> None:
        if self.embedder is None:
            from ..embed import make_embedder

            self.embedder = make_embedder(self._ref)
        warm = getattr(self.embedder, "warm_up", None)
        if warm:
            warm()

    def score(self, items: Sequence[ClaimContext]) -> ScoreBatch:
        self.warm_up()
        texts: dict[str, int] = {}
        for it in items:
            texts.setdefault(it.text, len(texts))
            for i in it.top:
                texts.setdefault(it.windows[i].text, len(texts))
        vecs = self.embedder.encode(list(texts)) if texts else np.zeros((0, 1), dtype=np.float32)
        rows, best = [], []
        for it in items:
            if not it.top:
                rows.append([0.0])
                best.append(None)
                continue
            c = vecs[texts[it.text]]
            sims = [float(vecs[texts[it.windows[i].text]] @ c) for i in it.top]
            b = int(np.argmax(sims))
            rows.append([sims[b]])
            best.append(it.top[b])
        return ScoreBatch(np.asarray(rows, dtype=np.float64).reshape(len(items), 1), best, [() for _ in items])


_ENTAIL_WORDS = ("entail", "support", "consistent", "faithful", "true", "yes", "correct", "grounded")
_NEGATIVE_WORDS = ("not", "non", "contrad", "refut", "neutral", "hallucinat", "unsupport", "false", "incorrect", "inconsistent")


def entailment_index(id2label: dict[Any, str]) -> int | None:
    """The index of the entailment-like label in a model's ``id2label`` (None for a one-logit model
    or when no label looks like entailment)."""
    labels = {int(k): str(v).lower() for k, v in id2label.items()}
    if len(labels) == 1:
        return None
    cands = [k for k, v in labels.items() if any(w in v for w in _ENTAIL_WORDS) and not any(v.startswith(n) or f"_{n}" in v or f" {n}" in v for n in _NEGATIVE_WORDS)]
    if len(cands) == 1:
        return cands[0]
    if len(labels) == 2 and all(v.startswith("label_") for v in labels.values()):
        return 1  # generic binary heads: LABEL_1 is the positive class by convention
    return None


def joined_evidence(texts: Sequence[str]) -> str | None:
    """The best three windows (``texts``, best first) joined, skipping a window already inside the
    text: the evidence ``CrossEncoderScorer`` reads besides each window alone; None where it adds
    nothing to the best window."""
    if len(texts) < 2:
        return None
    joined = texts[0]
    for t in texts[1:3]:
        if t not in joined:
            joined = joined + " " + t
    return joined if joined != texts[0] else None


class CrossEncoderScorer:
    """P(supported) of (claim, window) pairs from a sequence-classification model.

    ``ref``: ``"default"`` (the shipped model), a folder, or a hub id. ``order`` says which text
    comes first; ``"auto"`` reads ``groundqa_verifier.json`` in the model folder (the project's
    model reads the claim first) and otherwise puts the evidence first, as NLI models expect
    (premise, hypothesis). Each claim is scored against its ``top_k`` windows and, with ``concat``,
    against its best two windows joined; the best probability is the feature. ``quantize=True``
    runs the linear layers in dynamic int8 (about 2x faster on CPU; measured on 300 validation
    pairs: same AUROC, per-pair scores correlate 0.94 with fp32, so recalibrate).
    """

    name = "cross_encoder"
    features = ("nli_best", "nli_concat", "nli_seg_min")

    def __init__(
        self,
        ref: str = "default",
        *,
        top_k: int = 4,
        concat: bool = True,
        segment_k: int = 2,
        max_length: int = 256,
        batch_size: int = 32,
        order: Literal["auto", "claim_first", "evidence_first"] = "auto",
        threads: int | None = None,
        quantize: bool = False,
    ) -> None:
        check_choice("order", order, ("auto", "claim_first", "evidence_first"))
        if top_k < 1:
            raise ConfigError(f"top_k={top_k!r} is not valid; it must be >= 1")
        self.ref = ref
        self.top_k = top_k
        self.concat = concat
        self.segment_k = segment_k
        self.max_length = max_length
        self.batch_size = batch_size
        self.order = order
        self.threads = threads
        self.quantize = quantize
        self.model: Any = None
        self.tokenizer: Any = None
        self.model_name = ref
        self._entail: int | None = None
        self._claim_first = True
        self._lock = threading.Lock()

    def _path(self) -> tuple[str, bool]:
        if self.ref in ("default", "", None):
            if not (DEFAULT_VERIFIER_DIR / "config.json").exists():
                raise ModelNotFoundError(
                    f"the default verifier is missing from {DEFAULT_VERIFIER_DIR}; reinstall groundqa, "
                    "train one with `groundqa train-verifier`, or pass verifier='none'"
                )
            return str(DEFAULT_VERIFIER_DIR), True
        p = Path(self.ref).expanduser()
        if p.exists():
            return str(p), True
        if self.ref.count("/") == 1:
            from ..models import _from_hub

            return str(_from_hub(self.ref).path), True
        raise ModelNotFoundError(f"verifier={self.ref!r} is neither 'default', an existing folder, nor a hub id 'org/name'")

    def warm_up(self) -> None:
        with self._lock:
            if self.model is not None:
                return
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            if self.threads:
                torch.set_num_threads(self.threads)
            path, _ = self._path()
            meta_file = Path(path) / "groundqa_verifier.json"
            meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
            order = self.order if self.order != "auto" else meta.get("input_order", "evidence_first")
            self._claim_first = order == "claim_first"
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            model = _load_classifier(path)
            model.eval()
            n = int(model.config.num_labels)
            self._entail = entailment_index(model.config.id2label) if n > 1 else None
            if n > 1 and self._entail is None:
                raise ModelNotFoundError(
                    f"verifier {self.ref!r}: no entailment-like label in id2label={model.config.id2label}; "
                    "pass a model whose labels name entailment/support"
                )
            self.model_name = meta.get("name", self.ref)
            if self.quantize:
                # dynamic int8 linear layers: about 2x faster on CPU; scores shift a little, so
                # refit the calibration (`groundqa calibrate`) for a quantised verifier
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
            self.model = model

    def predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """P(supported) for (claim, evidence) pairs."""
        self.warm_up()
        import torch

        if not pairs:
            return np.zeros(0)
        order = np.argsort([len(a) + len(b) for a, b in pairs])
        out = np.zeros(len(pairs))
        with torch.inference_mode():
            for s in range(0, len(pairs), self.batch_size):
                idx = order[s : s + self.batch_size]
                a = [pairs[i][0] for i in idx]
                b = [pairs[i][1] for i in idx]
                first, second = (a, b) if self._claim_first else (b, a)
                enc = self.tokenizer(first, second, truncation="longest_first", max_length=self.max_length, padding=True, return_tensors="pt")
                logits = self.model(**enc).logits.float()
                if logits.shape[-1] == 1:
                    probs = torch.sigmoid(logits[:, 0])
                else:
                    probs = torch.softmax(logits, dim=-1)[:, self._entail]
                out[idx] = probs.numpy()
        return out

    def score(self, items: Sequence[ClaimContext]) -> ScoreBatch:
        pairs: dict[tuple[str, str], int] = {}
        plan: list[tuple[list[int], list[int], int | None, list[list[int]]]] = []
        for it in items:
            idx = list(it.top[: self.top_k])
            keys = [pairs.setdefault((it.text, it.windows[i].text), len(pairs)) for i in idx]
            ck = None
            joined = joined_evidence([it.windows[i].text for i in idx]) if self.concat else None
            if joined is not None:
                ck = pairs.setdefault((it.text, joined), len(pairs))
            seg_keys = [[pairs.setdefault((sg, it.windows[i].text), len(pairs)) for i in top[: self.segment_k]] for sg, top in it.segments]
            plan.append((idx, keys, ck, seg_keys))
        probs = self.predict(list(pairs))
        rows, best = [], []
        for idx, keys, ck, seg_keys in plan:
            if not keys:
                rows.append([_logit(0.0)] * 3)
                best.append(None)
                continue
            ps = [probs[k] for k in keys]
            b = int(np.argmax(ps))
            pc = probs[ck] if ck is not None else ps[b]
            seg = min((max(probs[k] for k in sk) for sk in seg_keys if sk), default=ps[b])
            rows.append([_logit(ps[b]), _logit(max(pc, ps[b])), _logit(seg)])
            best.append(idx[b])
        return ScoreBatch(np.asarray(rows, dtype=np.float64).reshape(len(items), 3), best, [() for _ in items])


class LLMJudgeScorer:
    """P("yes") from a causal LM asked whether the evidence supports the claim.

    ``model`` is the judge's language model: any object with ``warm_up()`` and
    ``choice_logprobs_batch(items, choices, batch_size=...)`` (``groundqa.generate.judge.judge_model``
    makes one from a generator reference; ``groundqa.pipeline.make_judge`` builds the whole
    scorer). The scorer builds no model itself. Evidence is chosen per claim: its best ``top_k``
    windows (the guard's pre-ranking for that claim), then the best window of each part of a
    multi-part claim, up to ``max_words`` words. The prompt (the model's) shows them numbered, then
    the claim, then the judge's question; the feature ``judge`` is ``log P(yes) - log P(no)`` for
    the first token of the reply (lower or capitalised), read from one forward pass: no text is
    generated. Claims are scored in batches of ``batch_size`` prompts of similar length.
    ``threads`` sets torch's threads when the judge warms up.
    """

    name = "llm_judge"
    features = ("judge",)

    def __init__(self, model: Any, *, top_k: int = 3, max_words: int = 220, batch_size: int = 8, threads: int | None = None) -> None:
        if isinstance(model, str):
            raise ConfigError(f"LLMJudgeScorer({model!r}) needs the judge's model, not its name; build the scorer with "
                              f"groundqa.pipeline.make_judge({model!r}) (or set judge = {model!r} under [guard] in the TOML)")
        if top_k < 1:
            raise ConfigError(f"LLMJudgeScorer top_k={top_k!r} must be >= 1")
        if batch_size < 1:
            raise ConfigError(f"LLMJudgeScorer batch_size={batch_size!r} must be >= 1")
        self.model = getattr(model, "name", type(model).__name__)
        self.top_k, self.max_words = top_k, max_words
        self.batch_size, self.threads = batch_size, threads
        self._gen: Any = model
        self._ready = False
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._ready:
                return
            if self.threads:
                import torch

                torch.set_num_threads(self.threads)
            self._gen.warm_up()
            self._ready = True

    def evidence(self, it: ClaimContext) -> tuple[list[str], int | None]:
        """The windows the judge reads for one claim, best first, and the index of the first."""
        idx = list(it.top[: self.top_k])
        for _, top in it.segments:
            idx.extend(top[:1])
        texts: list[str] = []
        words = 0
        for i in idx:
            w = it.windows[i].text
            if any(w in t for t in texts):
                continue
            n = len(w.split())
            if texts and words + n > self.max_words:
                continue
            texts.append(w)
            words += n
        return texts, (idx[0] if idx else None)

    def score(self, items: Sequence[ClaimContext]) -> ScoreBatch:
        self.warm_up()
        plans = [self.evidence(it) for it in items]
        todo = [k for k, (texts, _) in enumerate(plans) if texts]
        rows = [[_logit(0.0)] for _ in items]
        if todo:
            lps = self._gen.choice_logprobs_batch([(items[k].text, plans[k][0]) for k in todo], ["yes", "Yes", "no", "No"],
                                                  batch_size=self.batch_size)
            for k, lp in zip(todo, lps):
                rows[k] = [float(np.logaddexp(lp[0], lp[1]) - np.logaddexp(lp[2], lp[3]))]
        best = [b if texts else None for texts, b in plans]
        return ScoreBatch(np.asarray(rows, dtype=np.float64).reshape(len(items), 1), best, [() for _ in items])


def _load_classifier(path: str) -> Any:
    """The sequence classifier in ``path`` in float32 (``load_float32``)."""
    from transformers import AutoModelForSequenceClassification

    return load_float32(path, AutoModelForSequenceClassification)


def load_float32(path: str | Path, auto_class: Any) -> Any:
    """The model in ``path`` as ``auto_class`` (a transformers Auto class) in float32: from
    ``model.safetensors`` (or any format transformers reads), or from the shipped
    ``model.int8.safetensors`` (int8 with a scale per row, see groundqa.int8store)."""
    import torch
    from transformers import AutoConfig

    q = Path(path) / "model.int8.safetensors"
    if not q.exists() or (Path(path) / "model.safetensors").exists():
        return auto_class.from_pretrained(str(path), dtype=torch.float32)
    from ..int8store import load_int8

    model = auto_class.from_config(AutoConfig.from_pretrained(str(path)), dtype=torch.float32)
    state = load_int8(q)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelNotFoundError(f"{q} does not match its config.json: missing {missing[:3]}, unexpected {unexpected[:3]}; "
                                 "rewrite it with groundqa.int8store.convert_file from the model's safetensors")
    return model
