"""The generator stage: prompts with numbered passages, a transformers generator, fine-tuning.

Importing this package loads no torch or transformers; models load in ``warm_up()`` or on first use.

    from groundqa.generate import TransformersGenerator
    gen = TransformersGenerator()               # Qwen2.5-Coder-0.5B + the shipped LoRA adapter
    gen.generate("Who won?", ["[passage text]", ...]).text   # 'Denver Broncos [1]'
"""

from __future__ import annotations

from .base import Generation, Generator, passage_texts
from .hf import TransformersGenerator
from .profiles import PROFILES, resolve_profile
from .prompts import DECLINE, PromptTemplate, cut_at_stop, is_decline, parse_citations, strip_citations

__all__ = [
    "DECLINE",
    "Generation",
    "Generator",
    "PROFILES",
    "PromptTemplate",
    "TransformersGenerator",
    "cut_at_stop",
    "is_decline",
    "make_generator",
    "parse_citations",
    "passage_texts",
    "resolve_profile",
    "strip_citations",
]


def make_generator(ref: "str | Generator" = "default", **kwargs: object) -> Generator:
    """A generator from a profile, short name, folder or hub id; a Generator object passes through."""
    if not isinstance(ref, str):
        return ref
    return TransformersGenerator(ref, **kwargs)  # type: ignore[arg-type]
