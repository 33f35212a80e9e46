"""Metadata filters, applied inside each retriever before fusion.

A filter is a mapping from a field to a condition; all conditions must hold:

* ``{"lang": "en"}``                          equality
* ``{"lang": ["en", "de"]}``                  membership (also ``{"lang": {"$in": [...]}}``)
* ``{"year": {"$gte": 2020, "$lt": 2024}}``   numeric range (``$gt``, ``$gte``, ``$lt``, ``$lte``)
* ``{"lang": {"$ne": "en"}}``                 inequality

Fields are chunk metadata keys, plus ``doc_id`` and ``source``. A chunk without the field fails
the condition.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..types import Chunk

Filters = Mapping[str, Any]
_OPS = ("$eq", "$ne", "$in", "$gt", "$gte", "$lt", "$lte")
_MISSING = object()


def _field(chunk: Chunk, name: str) -> Any:
    if name == "doc_id":
        return chunk.doc_id
    if name == "source":
        return chunk.source
    return chunk.metadata.get(name, _MISSING)


def _number(name: str, op: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"filter {name!r}: {op} needs a number, got {_short(value)}")
    try:
        return float(value)
    except OverflowError:
        raise ConfigError(f"filter {name!r}: {op} bound {_short(value)} is too large for a number; use a value within ±1.8e308") from None


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (a filter value can be huge)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int with more digits than repr converts, deep nesting
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _scalars(name: str, op: str, values: Any) -> frozenset[Any]:
    """The allowed values of a membership test: strings, numbers, booleans or null only."""
    bad = [v for v in values if v is not None and not isinstance(v, (str, int, float, bool))]
    if bad:
        raise ConfigError(f"filter {name!r}: {op} values must be strings, numbers, booleans or null, got {_short(bad[0])}; metadata values are scalars")
    return frozenset(values)


def _condition(name: str, cond: Any) -> Callable[[Any], bool]:
    if isinstance(cond, Mapping):
        unknown = [op for op in cond if op not in _OPS]
        if unknown:
            raise ConfigError(f"filter {name!r}: unknown operator(s) {unknown}; use one of {', '.join(_OPS)}")
        checks: list[Callable[[Any], bool]] = []
        for op, v in cond.items():
            if op == "$eq":
                checks.append(lambda x, v=v: x == v)
            elif op == "$ne":
                checks.append(lambda x, v=v: x is not _MISSING and x != v)
            elif op == "$in":
                if not isinstance(v, (list, tuple, set, frozenset)):
                    raise ConfigError(f"filter {name!r}: $in needs a list, got {_short(v)}")
                allowed = _scalars(name, "$in", v)
                checks.append(lambda x, a=allowed: _hashable(x) and x in a)
            else:
                bound = _number(name, op, v)
                cmp = {"$gt": float.__gt__, "$gte": float.__ge__, "$lt": float.__lt__, "$lte": float.__le__}[op]
                checks.append(lambda x, c=cmp, b=bound: _is_number(x) and c(_as_float(x), b))
        return lambda x: all(c(x) for c in checks)
    if isinstance(cond, (list, tuple, set, frozenset)):
        allowed = _scalars(name, "a list", cond)
        return lambda x: _hashable(x) and x in allowed
    return lambda x: x == cond


def _as_float(x: Any) -> float:
    """A metadata number as a float; an int too large for one compares as ±inf."""
    try:
        return float(x)
    except OverflowError:
        return float("inf") if x > 0 else float("-inf")


def _hashable(x: Any) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return x is not _MISSING


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def compile_filters(filters: Filters | None) -> Callable[[Chunk], bool] | None:
    """A predicate for ``filters`` (None for no filter); bad filters fail here, not per chunk."""
    if not filters:
        return None
    if not isinstance(filters, Mapping):
        raise ConfigError(f"filters={_short(filters)} is not valid; pass a mapping such as {{'lang': 'en'}}")
    conds = [(name, _condition(name, cond)) for name, cond in filters.items()]
    return lambda chunk: all(c(_field(chunk, name)) for name, c in conds)


def filter_mask(chunks: Sequence[Chunk], filters: Filters | None) -> np.ndarray | None:
    """A boolean array over ``chunks`` (None when there is no filter)."""
    pred = compile_filters(filters)
    if pred is None:
        return None
    return np.fromiter((pred(c) for c in chunks), dtype=bool, count=len(chunks))
