"""The generator an LLM judge reads with: a causal LM shown a claim's evidence and asked yes or no.

``judge_model(ref)`` is a :class:`TransformersGenerator` with the judge's prompt; the guard's
``LLMJudgeScorer`` (``groundqa.verify.scorers``) receives it and reads ``log P(yes) - log P(no)``
from ``choice_logprobs_batch``. ``groundqa.pipeline.make_judge`` puts the two together.
"""

from __future__ import annotations

from typing import Any

from .hf import TransformersGenerator
from .prompts import PromptTemplate

JUDGE_INSTRUCTION = "Is the claim fully supported by the evidence above? Answer yes or no."
JUDGE_TEMPLATE = PromptTemplate(instruction=JUDGE_INSTRUCTION, layout="Evidence:\n{passages}\n\nClaim: {question}\n\n{instruction}",
                                system="You check facts. You answer only yes or no.")


def judge_model(model: str = "qwen2.5-coder-0.5b", *, int8: bool = False, device: str | None = None, dtype: str = "auto",
                threads: int | None = None) -> Any:
    """The judge's generator for ``model`` (any generator reference: ``qwen2.5-coder-0.5b``, a
    larger one such as ``qwen2.5-coder-1.5b``, a folder, a hub id); nothing loads until
    ``warm_up``. The judge's evidence is already the claim's best windows: shown whole."""
    return TransformersGenerator(model, template=JUDGE_TEMPLATE, int8=int8, device=device, dtype=dtype,
                                 max_prompt_tokens=1024, context="chunks", threads=threads or "auto")
