"""Public fakes for tests and examples: fast, deterministic stand-ins with the real protocols.

Built from the records (``groundqa.types``) and the shared text grammar only; the reference
OpenAI-compatible chat server over a real model is ``groundqa.generate.chat_server``."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Sequence

import numpy as np

from .text import split_sentences
from .types import DECLINE, ClaimVerdict, Generation, GuardResult
from .verify.claims import split_claims

_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """A bag-of-hashed-words embedder: texts that share words get similar unit vectors.

    Deterministic across processes (no Python hash randomisation), loads nothing.
    """

    name = "hash"

    def __init__(self, dim: int = 64, max_tokens: int = 128) -> None:
        self._dim = dim
        self._max_tokens = max_tokens

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def identity(self) -> dict[str, Any]:
        return {"name": f"hash-{self._dim}", "dim": self._dim, "max_tokens": self._max_tokens, "kind": "hash"}

    def warm_up(self) -> None:
        return None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_TOKEN.findall(t)) + 2 for t in texts]

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in _TOKEN.findall(t.lower()):
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
                out[i, h % self._dim] += 1.0 if (h >> 32) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


class ExtractiveGenerator:
    """A generator fake: answers with the first sentence of passage 1 that shares a word with the
    question, citing it as [1]; declines when no passage does. Implements the Generator protocol."""

    name = "extractive-fake"

    def __init__(self, decline: str | None = None, extra: str = "") -> None:
        self.decline = decline or DECLINE
        self.extra = extra  # appended to every answer: a way to inject an unsupported claim

    def warm_up(self) -> None:
        return None

    def _answer(self, question: str, passages: Sequence[Any]) -> str:
        qwords = {w for w in _TOKEN.findall(question.lower()) if len(w) > 3}
        for p in passages[:1]:
            text = getattr(p, "text", p)
            for sent in split_sentences(text):
                if qwords & set(_TOKEN.findall(sent.lower())):
                    return f"{sent} [1]" + (f" {self.extra}" if self.extra else "")
        return self.decline

    def generate(self, question: str, passages: Sequence[Any], **overrides: Any) -> Any:
        return self.generate_batch([question], [passages])[0]

    def generate_batch(self, questions: Sequence[str], passages: Sequence[Sequence[Any]], **overrides: Any) -> list[Any]:
        out = []
        for q, ps in zip(questions, passages):
            text = self._answer(q, ps)
            declined = text == self.decline
            prompt = len(q.split()) + sum(len(str(getattr(p, "text", p)).split()) for p in ps)  # words stand in for tokens
            out.append(Generation(text=text, citations=() if declined else (1,), declined=declined, tokens=len(text.split()),
                                  prompt_tokens=prompt, model=self.name))
        return out

    def stream(self, question: str, passages: Sequence[Any], **overrides: Any) -> Any:
        text = self._answer(question, passages)
        for i in range(0, len(text), 7):
            yield text[i : i + 7]


class KeywordGuard:
    """A guard fake: a claim is supported when every content word of it appears in the passages.
    Returns the real ``GuardResult``/``ClaimVerdict`` types."""

    verifier_name = "keyword-fake"

    def warm_up(self) -> None:
        return None

    def verify_batch(self, items: Sequence[tuple[str | None, str, Sequence[Any]]]) -> list[Any]:
        out = []
        for question, answer, passages in items:
            words = set(_TOKEN.findall(" ".join(getattr(p, "text", p) for p in passages).lower()))
            claims = []
            for c in split_claims(answer, question):
                content = [w for w in _TOKEN.findall(c.text.lower()) if len(w) > 3]
                p = sum(w in words for w in content) / max(1, len(content))
                claims.append(ClaimVerdict(c.text, c.start, c.end, p, "supported" if p >= 0.999 else "unsupported"))
            pmin = min((c.probability for c in claims), default=1.0)
            verdict = "no_claims" if not claims else ("supported" if all(c.supported for c in claims) else "unsupported")
            out.append(GuardResult(tuple(claims), pmin, verdict, 0.999, 0.0, self.verifier_name))  # type: ignore[arg-type]
        return out

    def verify(self, question: str | None, answer: str, passages: Sequence[Any]) -> Any:
        return self.verify_batch([(question, answer, passages)])[0]
