"""The verified-answer pipeline: retrieve -> generate -> verify each claim -> apply the policy.

Wiring only. Each stage is any object with the stage's protocol (``groundqa.protocols``): a
``Retriever`` (``groundqa.index``), a ``Generator`` (``groundqa.generate``) and a ``Verifier`` with
``verify_batch([(question, answer, passages)]) -> [GuardResult]`` (``groundqa.verify.Guard``).
``Pipeline.from_config("groundqa.toml")`` builds the default stages from one TOML file
(``groundqa.pipeline.build``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import ConfigError, check_choice
from ..markdown import clean_answer
from ..protocols import Generator, Retriever, Verifier
from ..text import CITATION_RUN as _LEADING_CITES
from ..text import is_decline, sentence_spans
from ..types import DECLINE, Answer, Passage, StreamEvent
from .policy import POLICIES, WITHHELD_TEXT, apply_policy, relevance_gate


def answer_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of an answer, with citation marks that Punkt puts at the start of the next
    sentence ("... 1770s. [1] Later ...") moved back to the sentence they cite for."""
    spans = [list(se) for se in sentence_spans(text)]
    for i in range(1, len(spans)):
        m = _LEADING_CITES.match(text, spans[i][0])
        if m:
            spans[i - 1][1] = m.end()
            spans[i][0] = m.end() + (len(text[m.end() :]) - len(text[m.end() :].lstrip()))
    return [(s, e) for s, e in spans if e > s]


class Pipeline:
    """retrieve -> generate -> verify -> decide. Defaults here, overrides per call.

    ``policy`` defaults to ``abstain``: an answer with any claim the guard does not support is
    withheld. ``flag``/``return`` hand unsupported answers back (marked), for review tools.
    """

    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        guard: Verifier,
        *,
        policy: str = "abstain",
        top_k: int = 4,
        mode: str | None = None,
        min_relevance: float | None = None,
    ) -> None:
        self.retriever, self.generator, self.guard = retriever, generator, guard
        self.policy = check_choice("policy", policy, POLICIES)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0:
            raise ConfigError(f"top_k={top_k!r} is not valid; it must be a positive integer")
        self.top_k, self.mode, self.min_relevance = top_k, mode, min_relevance

    @classmethod
    def from_config(cls, config: str | Path | Mapping[str, Any]) -> "Pipeline":
        """Build from a TOML file (or its parsed dict): ``[retriever]`` index (a folder) or
        backend/uri; ``[generator]`` model and options; ``[guard]`` verifier, calibration,
        threshold; ``[pipeline]`` policy, top_k, mode, min_relevance."""
        return build_pipeline(config)

    def warm_up(self) -> None:
        for stage in (self.retriever, self.generator, self.guard):
            if stage is self.guard:
                self._sync_calibration()
            warm = getattr(stage, "warm_up", None)
            if warm:
                warm()

    def _sync_calibration(self) -> None:
        """A generator whose folder ships a guard calibration fitted on its own answers
        (``groundqa_calibration.json``, as ``recipes/qwen15_accurate/assemble.sh`` writes one) gives it
        to a guard left on the default one; cheap, so called before every guard pass (the generator
        loads on first use)."""
        use = getattr(self.guard, "use_generator_calibration", None)
        if use is not None:
            use(getattr(self.generator, "calibration_path", None))

    def models(self) -> dict[str, str]:
        emb = getattr(self.retriever, "embedder", None)
        out = {
            "embedder": str(getattr(emb, "name", "")),
            "generator": str(getattr(self.generator, "name", type(self.generator).__name__)),
            "verifier": str(getattr(self.guard, "verifier_name", type(self.guard).__name__)),
        }
        calibration = getattr(self.guard, "calibration_name", None)  # the guard's (default, or the generator's)
        if calibration:
            out["calibration"] = str(calibration)
        return out

    # -- the API ----------------------------------------------------------------------------------
    def ask(self, question: str, *, top_k: int | None = None, filters: Mapping[str, Any] | None = None, policy: str | None = None) -> Answer:
        return self.ask_batch([question], top_k=top_k, filters=filters, policy=policy)[0]

    def ask_batch(self, questions: Sequence[str], *, top_k: int | None = None, filters: Mapping[str, Any] | None = None, policy: str | None = None) -> list[Answer]:
        """Answer many questions, batched through each stage."""
        policy = self.policy if policy is None else check_choice("policy", policy, POLICIES)
        return self.ask_policies(questions, (policy,), top_k=top_k, filters=filters)[policy]

    def ask_policies(self, questions: Sequence[str], policies: Sequence[str] = POLICIES, *, top_k: int | None = None, filters: Mapping[str, Any] | None = None) -> dict[str, list[Answer]]:
        """Answer many questions once (one retrieval, one generation, one guard pass each) and
        apply every policy in ``policies`` to the same results: ``{policy: [Answer, ...]}``.
        For comparing policies on the same answers (``benchmarks/docs_qa.py``)."""
        policies = [check_choice("policy", p, POLICIES) for p in policies]
        questions = [self._check_question(q) for q in questions]
        t0 = time.perf_counter()
        hits = self.retriever.search_batch(questions, top_k=top_k or self.top_k, mode=self.mode, filters=filters)
        t_retrieve = _ms(t0) / max(1, len(questions))
        gate = [relevance_gate(self._relevance(h), self.min_relevance) for h in hits]
        todo = [i for i, g in enumerate(gate) if g is None]
        t1 = time.perf_counter()
        gens = dict(zip(todo, self.generator.generate_batch([questions[i] for i in todo], [hits[i] for i in todo]))) if todo else {}
        t_generate = _ms(t1) / max(1, len(todo))
        # the answer as shown: Markdown copied from the passages removed, spacing restored
        texts = {i: g.text if g.declined else clean_answer(g.text, [p.text for p in hits[i]]) for i, g in gens.items()}
        checkable = [i for i in todo if not gens[i].declined]
        t2 = time.perf_counter()
        judged = dict(zip(checkable, self._verify([(questions[i], texts[i], hits[i]) for i in checkable],
                                                  [getattr(gens[i], "confidence", None) for i in checkable]))) if checkable else {}
        t_verify = _ms(t2) / max(1, len(checkable))
        models = self.models()
        out: dict[str, list[Answer]] = {p: [] for p in policies}
        for i, q in enumerate(questions):
            timings = {"retrieve": t_retrieve, "generate": t_generate if i in gens else 0.0, "verify": t_verify if i in judged else 0.0}
            timings["total"] = sum(timings.values())
            grounded = _grounding(gens[i], hits[i]) if i in gens else None  # the same under every policy
            for policy in policies:
                if gate[i] is not None:
                    out[policy].append(Answer(q, WITHHELD_TEXT, "withheld", gate[i], "", (), 0.0, tuple(hits[i]), policy, timings, models))
                    continue
                gen, text = gens[i], texts[i]
                result = judged.get(i)
                claims = tuple(result.claims) if result is not None else ()
                decision = apply_policy(policy, text, [(c.start, c.end, c.supported) for c in claims], declined=gen.declined)
                support = float(result.probability) if result is not None else 1.0
                threshold = float(result.threshold) if result is not None else None
                span = grounded if decision.verdict not in ("withheld", "declined") else None
                usage = {"prompt_tokens": int(getattr(gen, "prompt_tokens", 0) or 0), "completion_tokens": int(getattr(gen, "tokens", 0) or 0)}
                out[policy].append(Answer(q, decision.text, decision.verdict, decision.reason, text, claims, support, tuple(hits[i]), policy, timings, models, threshold, span, usage))
        return out

    def stream(self, question: str, *, top_k: int | None = None, filters: Mapping[str, Any] | None = None, policy: str | None = None) -> Iterator[StreamEvent]:
        """Yield each sentence once the guard has judged it, then a ``done`` event with the Answer."""
        policy = self.policy if policy is None else check_choice("policy", policy, POLICIES)
        question = self._check_question(question)
        t0 = time.perf_counter()
        hits = self.retriever.search(question, top_k=top_k or self.top_k, mode=self.mode, filters=filters)
        timings = {"retrieve": _ms(t0), "generate": 0.0, "verify": 0.0}
        models = self.models()
        gate = relevance_gate(self._relevance(hits), self.min_relevance)
        if gate is not None:
            timings["total"] = sum(timings.values())
            yield StreamEvent("done", answer=Answer(question, WITHHELD_TEXT, "withheld", gate, "", (), 0.0, tuple(hits), policy, timings, models))
            return
        text, sent_upto, claims = "", 0, []
        t_gen = time.perf_counter()
        stopped = False
        for piece in self.generator.stream(question, hits):
            text += piece
            spans = answer_sentences(text)
            # every sentence but the last is complete once another one has begun
            for s, e in spans[:-1]:
                if e <= sent_upto:
                    continue
                event, ok = self._judge_sentence(question, text, s, e, hits, claims, timings, policy)
                sent_upto = e
                if event is not None:
                    yield event
                if not ok and policy == "abstain":
                    stopped = True
                    break
            if stopped:
                break
        # a generator's decline margin, as in ask(), while no sentence has gone out yet
        near = not stopped and sent_upto == 0 and not is_decline(text) and _near_decline(self.generator, question, hits, text)
        timings["generate"] = _ms(t_gen) - timings["verify"]
        if not stopped:
            if is_decline(text) or near:
                if near:  # the decline sentence, as ask() returns it
                    template = getattr(self.generator, "template", None)
                    text = getattr(template, "decline", None) or DECLINE
                timings["total"] = sum(timings.values())
                decision = apply_policy(policy, text.strip(), [], declined=True)
                yield StreamEvent("done", answer=Answer(question, decision.text, decision.verdict, decision.reason, text, (), 1.0, tuple(hits), policy, timings, models))
                return
            for s, e in answer_sentences(text):
                if e > sent_upto:
                    event, _ = self._judge_sentence(question, text, s, e, hits, claims, timings, policy)
                    sent_upto = e
                    if event is not None:
                        yield event
        decision = apply_policy(policy, text, [(c.start, c.end, c.supported) for c in claims])
        support = min((c.probability for c in claims), default=1.0)
        threshold = getattr(self.guard, "threshold", None) if claims else None
        timings["total"] = sum(v for k, v in timings.items() if k != "total")
        yield StreamEvent("done", answer=Answer(question, decision.text, decision.verdict, decision.reason, text, tuple(claims), support, tuple(hits), policy, timings, models,
                                                float(threshold) if isinstance(threshold, (int, float)) else None))

    # -- helpers ----------------------------------------------------------------------------------
    def _verify(self, items: list[tuple[str, str, Sequence[Passage]]], generation: list[Any]) -> list[Any]:
        """The guard's verdicts; the generator's confidence goes along where the guard takes it."""
        self._sync_calibration()
        if getattr(self.guard, "accepts_generation", False) and any(g for g in generation):
            return self.guard.verify_batch(items, generation=generation)
        return self.guard.verify_batch(items)

    def _judge_sentence(self, question: str, text: str, s: int, e: int, hits: Sequence[Passage], claims: list, timings: dict, policy: str) -> tuple[StreamEvent | None, bool]:
        t = time.perf_counter()
        self._sync_calibration()
        result = self.guard.verify_batch([(question, text[s:e], hits)])[0]
        timings["verify"] += _ms(t)
        # claim spans are relative to the sentence: shift them into the whole answer
        shifted = tuple(_shift(c, s) for c in result.claims)
        claims.extend(shifted)
        ok = all(c.supported for c in shifted)
        if policy == "strip" and not ok:
            return None, ok
        return StreamEvent("sentence", text[s:e], shifted), ok

    @staticmethod
    def _relevance(passages: Sequence[Passage]) -> list[float]:
        dense = [p.scores["dense"] for p in passages if "dense" in p.scores]
        if dense:
            return dense
        return [p.score for p in passages]

    @staticmethod
    def _check_question(q: Any) -> str:
        if not isinstance(q, str) or not q.strip():
            raise ConfigError(f"question={q!r} is empty or not a string; pass the question text")
        return q.strip()


def _grounding(gen: Any, passages: Sequence[Passage]) -> dict[str, Any] | None:
    """Document offsets of a span-grounded answer (``Generation.grounding``), or None."""
    snap = getattr(gen, "grounding", None)
    if snap is None or not snap.snapped or not 1 <= snap.passage <= len(passages):
        return None
    p = passages[snap.passage - 1]
    chunk = getattr(p, "chunk", None)
    if chunk is None:  # plain-text passages: offsets within the passage
        return {"passage_rank": snap.passage, "start": snap.start, "end": snap.end, "text": snap.text, "exact": snap.exact}
    return {"doc_id": chunk.doc_id, "chunk_id": chunk.id, "source": chunk.source, "passage_rank": snap.passage,
            "start": chunk.start + snap.start, "end": chunk.start + snap.end, "text": snap.text, "exact": snap.exact}


def _shift(claim: Any, offset: int) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(claim) and hasattr(claim, "start"):
        return dataclasses.replace(claim, start=claim.start + offset, end=claim.end + offset)
    return claim


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def build_pipeline(config: str | Path | Mapping[str, Any], *, retriever: Any = None) -> Pipeline:
    """A ``Pipeline`` from a TOML file (or its parsed dict), its stages made by
    ``groundqa.pipeline.build.build_stages``; ``retriever`` replaces the one ``[retriever]`` names."""
    from .build import build_stages

    stages = build_stages(config, retriever=retriever)
    try:
        return Pipeline(stages.retriever, stages.generator, stages.guard, **stages.options)
    except TypeError as exc:
        raise ConfigError(f"[pipeline] has an unknown key: {exc}; valid keys: policy, top_k, mode, min_relevance") from exc


def _near_decline(generator: Any, question: str, hits: Sequence[Passage], text: str) -> bool:
    """A streamed answer that the generator's decline margin turns into a decline, as it does in
    ``ask`` (``TransformersGenerator.decline_margin``); False for a generator without one."""
    margin = getattr(generator, "decline_margin", None)
    gap = getattr(generator, "decline_gap", None)
    if margin is None or gap is None or not text.strip():
        return False
    return bool(gap(question, hits, text) > -margin)

