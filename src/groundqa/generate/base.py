"""The generator stage's protocol and its typed result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class Generation:
    """One generated answer.

    ``text`` is the answer as generated (cut at a stop string), with its [n] marks; ``citations``
    the 1-based passage numbers it cites; ``declined`` whether it is the decline sentence.
    ``tokens`` counts generated tokens; ``prompt_tokens`` the prompt's; ``seconds`` is this answer's
    share of its batch's time and ``batch_seconds`` the whole batch's wall time.

    ``raw_text`` is what the model wrote where span grounding changed it (else equal to ``text``);
    ``grounding`` where the answer lies in the passages (a :class:`~groundqa.generate.grounding.Snap`:
    passage number and character offsets in that passage's text), None when not grounded;
    ``confidence`` the generator's own signals for the guard: ``lp_mean`` and ``lp_min`` (mean and
    lowest log-probability of the answer's tokens), ``margin_min`` (the smallest gap between the
    chosen token's log-probability and the runner-up's), ``span_score`` (token F1 of the answer with
    its passage span; 1.0 exact, 0.0 where none was found).
    """

    text: str
    citations: tuple[int, ...]
    declined: bool
    tokens: int
    prompt_tokens: int = 0
    seconds: float = 0.0
    batch_seconds: float = 0.0
    finish_reason: str = "stop"  # "stop" (eos or stop string) or "length"
    model: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    raw_text: str = ""
    grounding: Any = None
    confidence: dict[str, float] = field(default_factory=dict)

    @property
    def answer(self) -> str:
        """The answer without its citation marks ("" when declined)."""
        from .prompts import strip_citations

        return "" if self.declined else strip_citations(self.text)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["citations"] = list(self.citations)
        d["grounding"] = self.grounding.to_dict() if self.grounding is not None else None
        return d


@runtime_checkable
class Generator(Protocol):
    """Answers a question from numbered passages (str or :class:`~groundqa.types.Passage`)."""

    name: str

    def warm_up(self) -> None: ...

    def generate(self, question: str, passages: Sequence[Any], **overrides: Any) -> Generation: ...

    def generate_batch(self, questions: Sequence[str], passages: Sequence[Sequence[Any]], **overrides: Any) -> list[Generation]: ...

    def stream(self, question: str, passages: Sequence[Any], **overrides: Any) -> Iterator[str]: ...


def passage_texts(passages: Sequence[Any]) -> list[str]:
    """Texts of passages given as strings, Passages, Chunks, or anything with ``.text``."""
    out = []
    for p in passages:
        out.append(p if isinstance(p, str) else str(getattr(p, "text")))
    return out
