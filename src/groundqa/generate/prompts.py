"""Prompts: numbered passages, a short answer that cites them as [n], a fixed decline sentence.

The same :class:`PromptTemplate` builds the prompts at fine-tuning and at answer time, so a model
trained by ``groundqa finetune`` sees exactly what the pipeline will show it. Pure functions, no
torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import ConfigError
from ..text import cited_numbers, is_decline, remove_citations  # noqa: F401 (re-exported)
from ..types import DECLINE  # the sentence a generator answers with when the passages do not hold the answer

DEFAULT_INSTRUCTION = (
    "Answer the question using only the numbered documents. Reply with a short answer followed by "
    "the number of the document that contains it, like: Paris [2]. If the documents do not contain "
    "the answer, reply exactly: {decline}"
)
DEFAULT_LAYOUT = "{instruction}\n\n{passages}\n\nQuestion: {question}"

@dataclass(frozen=True)
class PromptTemplate:
    """How a question and its passages become the user message.

    ``layout`` may use ``{instruction}``, ``{passages}`` and ``{question}``; ``instruction`` may use
    ``{decline}``; ``passage_format`` uses ``{n}`` and ``{text}`` (and ``{title}`` if given).
    ``system`` replaces the chat template's default system message when set. ``max_passage_words``
    truncates each passage (0 keeps it whole).
    """

    instruction: str = DEFAULT_INSTRUCTION
    layout: str = DEFAULT_LAYOUT
    passage_format: str = "[{n}] {text}"
    system: str | None = None
    decline: str = DECLINE
    max_passage_words: int = 0
    stop: tuple[str, ...] = ("\n\n", "Question:")

    def __post_init__(self) -> None:
        for key in ("{passages}", "{question}"):
            if key not in self.layout:
                raise ConfigError(f"PromptTemplate.layout={self.layout!r} must contain {key}")
        if "{text}" not in self.passage_format or "{n}" not in self.passage_format:
            raise ConfigError(
                f"PromptTemplate.passage_format={self.passage_format!r} must contain {{n}} and {{text}}"
            )
        if self.max_passage_words < 0:
            raise ConfigError(f"PromptTemplate.max_passage_words={self.max_passage_words!r} must be >= 0")

    def format_passages(self, passages: Sequence[str]) -> str:
        parts = []
        for i, p in enumerate(passages, start=1):
            text = truncate_words(p, self.max_passage_words) if self.max_passage_words else p
            parts.append(self.passage_format.format(n=i, text=" ".join(text.split()), title=""))
        return "\n".join(parts)

    def user_message(self, question: str, passages: Sequence[str]) -> str:
        return self.layout.format(
            instruction=self.instruction.format(decline=self.decline),
            passages=self.format_passages(passages) if passages else "(no documents)",
            question=question.strip(),
        )

    def messages(self, question: str, passages: Sequence[str]) -> list[dict[str, str]]:
        msgs = []
        if self.system is not None:
            msgs.append({"role": "system", "content": self.system})
        msgs.append({"role": "user", "content": self.user_message(question, passages)})
        return msgs

    def render(self, tokenizer: Any, question: str, passages: Sequence[str]) -> str:
        """The full prompt text: the chat template where the tokenizer has one, else plain text."""
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(
                self.messages(question, passages), tokenize=False, add_generation_prompt=True
            )
        sys_part = f"{self.system}\n\n" if self.system else ""
        return f"{sys_part}{self.user_message(question, passages)}\nAnswer:"

    def target(self, answer: str | None, citation: int | None) -> str:
        """The training target: ``answer [n]``, or the decline sentence when ``answer`` is None."""
        if answer is None:
            return self.decline
        answer = " ".join(answer.split())
        return f"{answer} [{citation}]" if citation else answer

    def to_dict(self) -> dict[str, Any]:
        return {
            "instruction": self.instruction,
            "layout": self.layout,
            "passage_format": self.passage_format,
            "system": self.system,
            "decline": self.decline,
            "max_passage_words": self.max_passage_words,
            "stop": list(self.stop),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PromptTemplate":
        d = dict(d)
        if "stop" in d:
            d["stop"] = tuple(d["stop"])
        return cls(**d)


def truncate_words(text: str, max_words: int) -> str:
    words = text.split()
    return text if len(words) <= max_words else " ".join(words[:max_words]) + " ..."


def window_around(text: str, start: int, end: int, max_words: int) -> str:
    """At most ``max_words`` words of ``text`` that contain the characters ``start:end``."""
    words = list(re.finditer(r"\S+", text))
    if len(words) <= max_words:
        return text
    first = next((i for i, m in enumerate(words) if m.end() > start), 0)
    last = next((i for i, m in enumerate(words) if m.end() >= end), len(words) - 1)
    span = last - first + 1
    if span >= max_words:
        lo = first
    else:
        lo = max(0, min(first - (max_words - span) // 2, len(words) - max_words))
    hi = min(len(words), lo + max_words)
    out = text[words[lo].start() : words[hi - 1].end()]
    return ("... " if lo > 0 else "") + out + (" ..." if hi < len(words) else "")


parse_citations = cited_numbers  # the passage numbers cited as [n], in order, without repeats
strip_citations = remove_citations  # the answer without its [n] marks (the name of old; see groundqa.text)


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the first stop string; return the kept text and whether one was found."""
    best = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                best = min(best, i)
    return text[:best], best < len(text)


@dataclass(frozen=True)
class Profile:
    """A named generator setting: a model reference, an optional adapter, and a dtype."""

    name: str
    model: str
    adapter: str | None = None
    dtype: str = "auto"
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
