"""Public fakes for tests and examples: fast, deterministic stand-ins with the real protocols."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Sequence

import numpy as np

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
