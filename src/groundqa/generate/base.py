"""The generator stage's protocol and its typed result (both defined with the other stages' in
``groundqa.protocols`` and ``groundqa.types``)."""

from __future__ import annotations

from typing import Any, Sequence

from ..protocols import Generator
from ..types import Generation

__all__ = ["Generation", "Generator", "passage_texts"]


def passage_texts(passages: Sequence[Any]) -> list[str]:
    """Texts of passages given as strings, Passages, Chunks, or anything with ``.text``."""
    out = []
    for p in passages:
        out.append(p if isinstance(p, str) else str(getattr(p, "text")))
    return out
