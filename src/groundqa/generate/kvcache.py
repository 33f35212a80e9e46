"""Reusing what the generator has already read: the model's keys and values for prompt prefixes.

Every prompt starts with the same system text and instruction, and then the numbered passages.
Asks about the same topic retrieve the same passages in the same order again and again (a support
bot's users ask the same few things), and a decoder's keys and values for a token depend only on
the tokens before it. So :class:`PromptCache` keeps, for each prompt read lately, its tokens and
its keys and values, and a new prompt reads only what follows the longest prefix it shares with
one of them; the instruction's own entry is pinned.

Exactness: an entry serves a prefix only where the token ids are equal, so the keys and values are
those that reading the prefix would compute (the same positions, rotary phases included). Rows of a
batch may start from prefixes of different lengths: each row is laid out as ``[its cached
prefix][masked padding to the longest cached prefix][masked padding][rest of its prompt]``, and
positions are counted over unmasked tokens only, so every row reads exactly as it would alone.

Memory: keys and values take ``2 x layers x kv_heads x head_dim x 4`` bytes per token (24 KiB for
the 0.5B default), about 7 MiB for a 300-token prompt; the cache keeps the most recently used
entries within ``budget_mb`` (default 256).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Sequence

Layers = list  # [(keys, values)] per layer, each a tensor [1, kv_heads, tokens, head_dim]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PromptCache:
    """Keys and values of recently read prompts, least recently used dropped past ``budget_mb``."""

    def __init__(self, pinned_ids: Sequence[int], pinned: Layers, *, budget_mb: float = 256.0) -> None:
        self.pinned_ids = tuple(pinned_ids)
        self.pinned = pinned
        self.budget = int(budget_mb * 2**20)
        self.entries: OrderedDict[tuple[int, ...], Layers] = OrderedDict()
        self.used = 0
        self.hits = 0
        self.tokens_reused = 0
        self._lock = threading.Lock()

    @staticmethod
    def nbytes(layers: Layers) -> int:
        return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in layers)

    def longest(self, row: Sequence[int]) -> tuple[int, Layers]:
        """``(n, layers)``: the longest cached prefix of ``row`` (at most ``len(row) - 1`` tokens, so
        something is left to read) and the layers whose first ``n`` tokens hold it. The pinned
        instruction when nothing longer matches."""
        best, layers = len(self.pinned_ids), self.pinned
        limit = len(row) - 1
        with self._lock:
            found = None
            for ids in self.entries:
                n = min(common_prefix(ids, row), limit)
                if n > best:
                    best, found = n, ids
            if found is not None:
                layers = self.entries[found]
                self.entries.move_to_end(found)
                self.hits += 1
                self.tokens_reused += best - len(self.pinned_ids)
        return best, layers

    def put(self, ids: Sequence[int], layers: Layers) -> None:
        """Keep ``layers`` (the keys and values of exactly ``ids``); drop entries it extends and the
        least recently used past the budget."""
        key = tuple(ids)
        size = self.nbytes(layers)
        if size > self.budget:
            return
        with self._lock:
            for old in [k for k in self.entries if len(k) <= len(key) and key[: len(k)] == k]:
                self.used -= self.nbytes(self.entries.pop(old))
            self.entries[key] = layers
            self.used += size
            while self.used > self.budget and self.entries:
                _, dropped = self.entries.popitem(last=False)
                self.used -= self.nbytes(dropped)


    def clear(self) -> None:
        """Drop every entry but the pinned instruction."""
        with self._lock:
            self.entries.clear()
            self.used = 0


def batch_layers(starts: Sequence[tuple[int, Layers]]) -> tuple[int, list[tuple[Any, Any]]]:
    """Stack the rows' cached prefixes into one batch: ``(width, [(keys, values)] per layer)``,
    each row's first ``n`` tokens followed by zeros up to the widest (masked by the caller)."""
    import torch

    width = max(n for n, _ in starts)
    out = []
    for layer in range(len(starts[0][1])):
        ks, vs = [], []
        for n, layers in starts:
            k, v = layers[layer]
            k, v = k[:, :, :n], v[:, :, :n]
            if n < width:
                pad = (0, 0, 0, width - n)
                k, v = torch.nn.functional.pad(k, pad), torch.nn.functional.pad(v, pad)
            ks.append(k)
            vs.append(v)
        out.append((torch.cat(ks), torch.cat(vs)))
    return width, out


def to_cache(layers: Sequence[tuple[Any, Any]], device: Any, tokens: int | None = None) -> Any:
    """A transformers ``DynamicCache`` holding ``layers`` (their first ``tokens`` tokens, or all)."""
    from transformers import DynamicCache

    cache = DynamicCache()
    for i, (k, v) in enumerate(layers):
        if tokens is not None:
            k, v = k[:, :, :tokens], v[:, :, :tokens]
        cache.update(k.to(device), v.to(device), i)
    return cache


def row_layers(cache: Any, row: int, spans: Sequence[tuple[int, int]]) -> Layers:
    """The keys and values of one row of a batch cache, the ``spans`` (start, end) of its real
    tokens joined: what reading those tokens alone would have cached."""
    import torch

    out = []
    for layer in cache.layers:
        k = torch.cat([layer.keys[row : row + 1, :, a:b] for a, b in spans], dim=2)
        v = torch.cat([layer.values[row : row + 1, :, a:b] for a, b in spans], dim=2)
        out.append((k.contiguous(), v.contiguous()))
    return out
