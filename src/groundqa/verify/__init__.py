"""The guard: every claim of an answer is checked against the passages it was generated from.

Interface the pipeline uses::

    from groundqa.verify import Guard
    guard = Guard()                      # verifier="default" (shipped cross-encoder), embedder="minilm-l6",
                                         # calibration="default" (shipped JSON); nothing loads yet
    guard.warm_up()                      # loads the models and the calibration; safe to call twice
    result = guard.verify(question, answer, passages)   # passages: list[groundqa.types.Passage]
    result.verdict                       # "supported" | "unsupported" | "no_claims"
    result.probability                   # the weakest claim's P(supported)
    for c in result.claims:              # ClaimVerdict
        c.text, c.start, c.end           # claim text (citation marks removed), span in `answer`
        c.probability, c.verdict         # calibrated P(supported); "supported" iff P >= guard.threshold
        c.reasons                        # e.g. ("number or date '1889' appears in no evidence",)
        c.citation                       # Citation(doc_id, chunk_id, source, start, end, text, passage_rank)
    guard.verify_batch([(q, a, passages), ...])          # one model pass for many answers
    guard.threshold                      # the calibrated decision threshold; Guard(threshold="precision")
                                         # uses the threshold fitted for a target precision on unsupported claims

How a claim is judged: ``claims.split_claims`` cuts the answer into sentences (a short answer is
read with its question); ``evidence.evidence_windows`` cuts the passages into one- and
two-sentence windows, pre-ranked per claim by lexical coverage; scorers (``scorers.py``: lexical
coverage with exact number/date/name checks, embedding cosine, an entailment cross-encoder) give
features; a logistic-regression combiner (``combiner.py``, fitted by ``groundqa calibrate``) turns
them into one probability. A number or date of the claim that no evidence contains caps the
probability below the threshold, with that reason. So does a short answer that is not in the
evidence as the answer to its question (``answer_check``: it only repeats the question's words,
no evidence sentence holds it, the question asks for a code name and it is none, or it sits next
to another identifier than the one asked about), with the named reason; ``Guard(answer_checks=False)``
turns these off. Code in technical prose (``None``, ``no_proxy``, ``NULL``) is not negation.

Modules: ``claims``, ``evidence``, ``lexical``, ``answer_check``, ``scorers``, ``combiner``. The offline
work on the guard lives outside the stage: ``groundqa.metrics.verifier`` (pure metrics),
``groundqa.train.calibrate``, ``groundqa.datasets.claims`` (WiCE / HaluEval / plain readers, NLI
sources and licences), ``groundqa.datasets.synth`` (synthetic training pairs from any corpus),
``groundqa.train.verifier`` (fine-tune the cross-encoder).
Importing this package loads no torch or transformers.
"""

from __future__ import annotations

from ..protocols import Verifier  # the stage's protocol; Guard implements it
from ..types import Citation, Claim, ClaimVerdict, GuardResult
from .claims import ClaimSpan, qa_claim, split_claims
from .combiner import Combiner, fit_combiner
from .evidence import EvidenceWindow, evidence_windows
from .guard import Guard
from .scorers import ClaimContext, CrossEncoderScorer, EmbeddingScorer, LexicalScorer, LLMJudgeScorer, ScoreBatch, Scorer

__all__ = [
    "Citation",
    "Claim",
    "ClaimContext",
    "ClaimSpan",
    "ClaimVerdict",
    "Combiner",
    "CrossEncoderScorer",
    "LLMJudgeScorer",
    "EmbeddingScorer",
    "EvidenceWindow",
    "Guard",
    "GuardResult",
    "LexicalScorer",
    "ScoreBatch",
    "Scorer",
    "Verifier",
    "evidence_windows",
    "fit_combiner",
    "qa_claim",
    "split_claims",
]
