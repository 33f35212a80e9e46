"""The guard: split an answer into claims, score each against the passages, decide.

``Guard.verify(question, answer, passages) -> GuardResult``; ``Guard.verify_batch`` does many at
once (one model pass over all their pairs). See the package docstring for the whole interface.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..types import Citation, ClaimVerdict, GuardResult, Passage, Verdict
from .answer_check import AnswerProblem, answer_problem
from .claims import ClaimSpan, claim_inputs, claim_segments, is_yes_no, split_claims
from .combiner import Combiner
from .evidence import EvidenceWindow, evidence_windows, lexical_rank
from .scorers import ClaimContext, CrossEncoderScorer, EmbeddingScorer, GenerationScorer, LexicalScorer, LLMJudgeScorer, Scorer

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "verifier"


def _default_calibration(with_model: bool, with_judge: bool = False, with_reader: bool = False) -> Path:
    if with_judge:
        return DATA_DIR / ("calibration_judge.json" if with_model else "calibration_judge_nomodel.json")
    if with_model:
        return DATA_DIR / ("calibration_reader.json" if with_reader else "calibration.json")
    return DATA_DIR / "calibration_nomodel.json"


class Guard:
    """Checks every claim of an answer against the passages it was generated from.

    Args:
        verifier: ``"default"`` (the shipped cross-encoder), a folder or hub id of any
            sequence-classification NLI / fact-checking model, a ``Scorer``, or ``None``/``"none"``
            for lexical and embedding signals only.
        embedder: the retriever's embedder (an ``Embedder`` or a reference), or ``None`` to skip
            the embedding signal.
        calibration: ``"default"`` (shipped JSON matching the signals; in a ``Pipeline`` whose
            generator folder ships ``groundqa_calibration.json``, that one: see
            ``use_generator_calibration``), a path written by ``groundqa calibrate``, a ``Combiner``,
            or a dict.
        threshold: overrides the calibration's threshold (a claim is supported iff P >= threshold);
            ``"balanced"`` or ``"precision"`` picks one of the calibrated thresholds. The shipped
            calibration's own threshold is its ``precision`` one: the lowest support at which the
            answers it returned on held-out calibration data reached its target precision.
        top_k: evidence windows per claim after lexical pre-ranking.
        exact_checks: a number or date of the claim found in no evidence makes it unsupported
            (probability capped below the threshold), with that reason.
        judge: an LLM judge as one more signal: a ``Scorer`` (``groundqa.pipeline.make_judge("qwen2.5-coder-0.5b")``
            builds the ``LLMJudgeScorer`` with its model; the TOML's ``[guard] judge = NAME`` does so), or
            ``None``/``"none"`` (the default) for none. The guard builds no model for it. It reads
            each claim's best windows and gives log P(yes) - log P(no); the default calibration
            then is the one fitted with the judge (``calibration_judge.json``).
        reader: an extractive reader as three more signals (``reader.ReaderScorer``: would a model
            that scores every span of the passages pick this answer?): ``"default"`` (the shipped
            one; the default calibration is then ``calibration_reader.json``, fitted with it), a
            folder with a question-answering model, a ``Scorer``, or ``None``/``"none"`` (the
            default) for none. Opt-in: measured in docs/benchmark-history.md (issue 21, sixth
            session), it ranks answers better on every held-out run but moves the operating point.
        answer_checks: a short answer read with its question must be in the evidence as the
            answer to that question (``answer_check.answer_problem``: not an echo of the
            question, in one evidence sentence, next to what the question asks about); one that
            is not is unsupported (probability capped below the threshold) with the named reason.

    ``verify_batch(items, generation=[...])`` takes the generator's confidence for each answer
    (``Generation.confidence``: answer-token log-probabilities, margin, span match) as more signals;
    the pipeline passes them. Without them those signals take the calibration's mean (no effect).
    """

    accepts_generation = True

    def __init__(
        self,
        verifier: str | Scorer | None = "default",
        *,
        embedder: Any = "minilm-l6",
        calibration: str | Path | Combiner | Mapping[str, Any] = "default",
        threshold: float | str | None = None,
        top_k: int = 4,
        max_sentences: int = 2,
        exact_checks: bool = True,
        answer_checks: bool = True,
        extra_scorers: Sequence[Scorer] = (),
        judge: str | Scorer | None = None,
        reader: str | Path | Scorer | None = None,
    ) -> None:
        if top_k < 1:
            raise ConfigError(f"top_k={top_k!r} is not valid; it must be >= 1")
        self.scorers: list[Scorer] = [LexicalScorer()]
        if embedder is not None:
            self.scorers.append(EmbeddingScorer(embedder))
        self.verifier_name = "none"
        if isinstance(verifier, str) and verifier.lower() != "none":
            self.scorers.append(CrossEncoderScorer(verifier, top_k=top_k))
            self.verifier_name = verifier
        elif verifier is not None and not isinstance(verifier, str):
            self.scorers.append(verifier)
            self.verifier_name = getattr(verifier, "name", type(verifier).__name__)
        self.scorers.append(GenerationScorer())
        if isinstance(reader, (str, Path)) and str(reader).lower() != "none":
            from .reader import ReaderScorer

            self.scorers.append(ReaderScorer(reader))
        elif reader is not None and not isinstance(reader, (str, Path)):
            self.scorers.append(reader)
        self.scorers.extend(extra_scorers)  # extra signals (an LLM judge) come last
        if isinstance(judge, str) and judge.lower() != "none":
            self.scorers.append(LLMJudgeScorer(judge))
        elif judge is not None and not isinstance(judge, str):
            self.scorers.append(judge)
        self.top_k = max(top_k, 4)
        self.max_sentences = max_sentences
        self.exact_checks = exact_checks
        self.answer_checks = answer_checks
        self._calibration_ref = calibration
        self._generator_calibration: Path | None = None  # set by use_generator_calibration
        self._threshold_ref = threshold
        self.combiner: Combiner | None = None
        self._lock = threading.Lock()

    # ---- loading -------------------------------------------------------------------------------
    @property
    def features(self) -> tuple[str, ...]:
        return tuple(f for s in self.scorers for f in s.features)

    def _default_path(self) -> Path:
        has_model = any(isinstance(s, CrossEncoderScorer) for s in self.scorers)
        return _default_calibration(has_model, "judge" in self.features, "rd_span" in self.features)

    def use_generator_calibration(self, path: str | Path | None) -> bool:
        """Score with the calibration a generator ships, fitted on its own answers
        (``TransformersGenerator.calibration_path``), instead of the default one, which was
        fitted on the default generator's: a combiner and threshold read other confidence values
        (and another probe) on another model's answers. Only a guard left on ``calibration="default"``
        with the default signals (the shipped verifier; no reader, no judge) takes it; an explicit
        calibration always wins. ``Pipeline`` calls it once its generator is loaded. Returns
        whether the guard now scores with ``path``."""
        if path is None or not (isinstance(self._calibration_ref, str) and self._calibration_ref == "default"):
            return False
        if self._default_path() != DATA_DIR / "calibration.json":
            return False
        path = Path(path)
        with self._lock:
            if self._generator_calibration != path:
                self._generator_calibration = path
                self.combiner = None  # loaded again, from the generator's file
        return True

    @property
    def calibration_name(self) -> str:
        """What the guard scores with: ``"default"``, the generator's (``FOLDER/groundqa_calibration.json``),
        a file's path, or ``"custom"`` (an object)."""
        if self._generator_calibration is not None:
            return f"{self._generator_calibration.parent.name}/{self._generator_calibration.name}"
        ref = self._calibration_ref
        return str(ref) if isinstance(ref, (str, Path)) else "custom"

    def _load_combiner(self) -> Combiner:
        ref = self._calibration_ref
        if self._generator_calibration is not None:
            ref = self._generator_calibration
        if isinstance(ref, Combiner):
            comb = ref
        elif isinstance(ref, Mapping):
            comb = Combiner.from_dict(ref)
        elif str(ref) == "default":
            path = self._default_path()
            if not path.exists():
                raise ConfigError(f"no shipped calibration for this guard's signals ({path.name} is missing); fit one with "
                                  "`groundqa calibrate --data LABELLED.jsonl --out cal.json` and pass calibration='cal.json'")
            comb = Combiner.load(path)
        else:
            comb = Combiner.load(ref)
        missing = [f for f in comb.features if f not in self.features]
        if missing and self._generator_calibration is not None:
            raise ConfigError(
                f"the generator's calibration {self._generator_calibration} needs features {missing} that this guard does "
                f"not compute (its signals: {list(self.features)}); pass the guard a calibration of its own "
                "(calibration='cal.json'), or remove that file from the generator's folder"
            )
        if missing:
            raise ConfigError(
                f"calibration needs features {missing} that this guard does not compute (its signals: "
                f"{list(self.features)}); recalibrate with `groundqa calibrate` for this verifier/embedder"
            )
        return comb

    def warm_up(self) -> None:
        """Load the models and the calibration (safe to call twice)."""
        with self._lock:
            if self.combiner is None:
                self.combiner = self._load_combiner()
        for s in self.scorers:
            s.warm_up()

    @property
    def threshold(self) -> float:
        self.warm_up()
        assert self.combiner is not None
        t = self._threshold_ref
        if t is None:  # the calibration's own choice (the shipped one: its target-precision threshold)
            return float(self.combiner.threshold)
        if t == "balanced":
            return float(self.combiner.thresholds.get("balanced") or self.combiner.threshold)
        if t == "precision":
            v = self.combiner.thresholds.get("precision")
            if v is None:
                raise ConfigError("threshold='precision': the calibration has no precision threshold; recalibrate with --target-precision")
            return float(v)
        if isinstance(t, (int, float)) and 0.0 <= float(t) <= 1.0:
            return float(t)
        raise ConfigError(f"threshold={t!r} is not valid; pass a probability in [0, 1], 'balanced' or 'precision'")

    # ---- scoring -------------------------------------------------------------------------------
    def contexts(self, claims: Sequence[tuple[str, ...]], windows: Sequence[EvidenceWindow],
                 generation: Mapping[str, float] | None = None) -> list[ClaimContext]:
        """Claim contexts for (text, focus) or (text, focus, asserted) tuples over shared ``windows``
        (``claims.claim_inputs`` makes them); ``generation``: the answer's generation signals."""
        wt = tuple(windows)
        out = []
        for c in claims:
            t, f = c[0], c[1]
            segs = claim_segments(t) if t == f else [t]
            seg_ctx = tuple((sg, tuple(lexical_rank(sg, wt, 3))) for sg in segs) if len(segs) > 1 else ()
            out.append(ClaimContext(t, f, wt, tuple(lexical_rank(t, wt, self.top_k)), seg_ctx, c[2] if len(c) > 2 else None,
                                    generation))
        return out

    def signals(self, items: Sequence[ClaimContext]) -> tuple[np.ndarray, list[int | None], list[tuple[str, ...]]]:
        """Feature matrix (columns ``self.features``), best window per claim, reasons per claim.

        The best window is the cross-encoder's where there is one, else the lexical scorer's."""
        self.warm_up()
        cols, best, reasons = [], [None] * len(items), [()] * len(items)
        for s in self.scorers:
            b = s.score(items)
            cols.append(b.values)
            for i, w in enumerate(b.best):
                if w is not None and (best[i] is None or isinstance(s, CrossEncoderScorer)):
                    best[i] = w
            reasons = [r + x for r, x in zip(reasons, b.reasons)]
        X = np.hstack(cols) if cols else np.zeros((len(items), 0))
        return X, best, reasons

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        self.warm_up()
        assert self.combiner is not None
        idx = [self.features.index(f) for f in self.combiner.features]
        # signals a claim does not have (generation confidence without a generator, the answer
        # context of a sentence claim) are NaN: the combiner reads them as its mean
        p = self.combiner.predict_proba(np.array(X[:, idx], dtype=np.float64))
        if self.exact_checks and "missing_numbers" in self.features:
            miss = X[:, self.features.index("missing_numbers")] > 0
            p = np.where(miss, np.minimum(p, self.threshold * 0.5), p)
        return p

    # ---- the interface -------------------------------------------------------------------------
    def verify(self, question: str | None, answer: str, passages: Sequence[Passage]) -> GuardResult:
        """Judge every claim of ``answer`` against ``passages`` (the ones the generator was given)."""
        return self.verify_batch([(question, answer, passages)])[0]

    def verify_batch(self, items: Sequence[tuple[str | None, str, Sequence[Passage]]],
                     generation: Sequence[Mapping[str, float] | None] | None = None) -> list[GuardResult]:
        """``verify`` for many answers, with one pass of each model over all their claims.
        ``generation``: one mapping of generation signals per item (see the class docstring)."""
        self.warm_up()
        if generation is not None and len(generation) != len(items):
            raise ConfigError(f"verify_batch got {len(items)} items but {len(generation)} generation signal maps; pass one per item")
        t0 = time.perf_counter()
        all_ctx: list[ClaimContext] = []
        plan: list[tuple[list[ClaimSpan], list[EvidenceWindow], Sequence[Passage]]] = []
        problems: list[AnswerProblem | None] = []
        for n, (question, answer, passages) in enumerate(items):
            if not isinstance(answer, str):
                raise ConfigError(f"answer={answer!r} is not valid; pass the answer text as a str")
            spans = split_claims(answer, question)
            wins = evidence_windows(passages, self.max_sentences)
            plan.append((spans, wins, passages))
            inputs = [claim_inputs(c, answer) for c in spans]
            all_ctx.extend(self.contexts(inputs, wins, generation[n] if generation else None))
            texts = [getattr(p, "text", p) for p in passages]
            titles = [str(getattr(getattr(p, "chunk", None), "metadata", {}).get("title", "") or "") for p in passages]
            cut = [int(getattr(getattr(p, "chunk", None), "start", 0) or 0) > 0 for p in passages]  # chunks after a document's first
            for c, (_, focus, asserted) in zip(spans, inputs):
                check = self.answer_checks and c.with_question and question and not is_yes_no(asserted)
                problems.append(answer_problem(question, focus, texts, titles, cut) if check else None)
        X, best, reasons = self.signals(all_ctx) if all_ctx else (np.zeros((0, len(self.features))), [], [])
        probs = self.probabilities(X) if all_ctx else np.zeros(0)
        thr = self.threshold
        seconds = (time.perf_counter() - t0) / max(1, len(items))
        out: list[GuardResult] = []
        k = 0
        for spans, wins, passages in plan:
            cvs = []
            for c in spans:
                p = float(probs[k])
                b = best[k]
                cit = None
                if b is not None:
                    w = wins[b]
                    cit = Citation(w.doc_id, w.chunk_id, w.source, w.start, w.end, w.text, passages[w.passage].rank if w.passage >= 0 else None)
                why = reasons[k]
                if problems[k] is not None:
                    p = min(p, thr * 0.5)
                    why = (problems[k].reason,) + why
                verdict: Verdict = "supported" if p >= thr else "unsupported"
                sig = {f: float(v) for f, v in zip(self.features, X[k]) if not np.isnan(v)}
                cvs.append(ClaimVerdict(c.text, c.start, c.end, p, verdict, why if verdict == "unsupported" else (), cit, sig))
                k += 1
            if not cvs:
                out.append(GuardResult((), 1.0, "no_claims", thr, seconds, self.verifier_name))
            else:
                pmin = min(c.probability for c in cvs)
                out.append(GuardResult(tuple(cvs), pmin, "supported" if all(c.supported for c in cvs) else "unsupported", thr, seconds, self.verifier_name))
        return out

    def describe(self) -> dict[str, Any]:
        """A JSON-able description: signals, verifier, calibration provenance."""
        self.warm_up()
        assert self.combiner is not None
        return {"features": list(self.features), "verifier": self.verifier_name, "threshold": self.threshold, "calibration": dict(self.combiner.info)}
