"""Document ids: one normal form, and the characters an id may hold.

An id names a document in the service's URLs (``/v1/documents/{id}``), in the journal, in Milvus
filter expressions, in logs and in terminal tables. So every way in (the service's JSON and file
uploads, ``groundqa index build``/``add``, the Milvus backend) goes through ``normalize_doc_id``:

* the id is put in Unicode NFC, so ``café`` typed precomposed or decomposed is one document;
* control characters (U+0000-U+001F, U+007F-U+009F: newlines, tabs, NUL, terminal escapes),
  invisible format characters (zero-width spaces and joiners, bidirectional overrides, the BOM,
  the soft hyphen), line and paragraph separators and lone surrogates are refused, as are leading
  or trailing spaces: each makes an id that cannot be typed, shown or told apart from another one;
* ``.`` and ``..`` as a ``/``-separated segment are refused: HTTP clients remove such segments
  from a URL before sending it, so ``/v1/documents/a/../b`` would never reach the id ``a/../b``;
* an empty id is refused.

Everything else is allowed: letters and digits of any script, punctuation, symbols, ``/``, inner
spaces. ``id_problem`` says what is wrong with an id (None when it is fine).
"""

from __future__ import annotations

import unicodedata

__all__ = ["ALLOWED_ID_CHARACTERS", "id_problem", "normalize_doc_id"]

ALLOWED_ID_CHARACTERS = (
    "ids may hold letters, digits, punctuation, symbols and inner spaces (any script, put in Unicode NFC); "
    "not control characters (newlines, tabs, NUL, escapes), invisible characters (zero-width spaces or "
    "joiners, direction marks, BOM, soft hyphen), line separators, spaces at either end, or '.' or '..' "
    "between slashes"
)

_REFUSED_CATEGORIES = {"Cc": "a control character", "Cf": "an invisible format character", "Cs": "a lone surrogate", "Zl": "a line separator", "Zp": "a paragraph separator"}


def id_problem(doc_id: object) -> str | None:
    """What makes ``doc_id`` unusable as an id (before normalisation), or None if it is fine."""
    if not isinstance(doc_id, str):
        return f"is a {type(doc_id).__name__}, not text"
    if not doc_id:
        return "is empty"
    for i, ch in enumerate(doc_id):
        kind = _REFUSED_CATEGORIES.get(unicodedata.category(ch))
        if kind is not None:
            return f"contains {kind}, U+{ord(ch):04X} ({_name(ch)}), at position {i}"
    if not doc_id.strip():
        return "is only whitespace"
    if doc_id != doc_id.strip():
        return "starts or ends with whitespace"
    if any(seg in (".", "..") for seg in doc_id.split("/")):
        return "has '.' or '..' as a path segment, which HTTP clients remove from the URL"
    return None


def normalize_doc_id(doc_id: str, what: str = "document id") -> str:
    """``doc_id`` in NFC; ``ValueError`` (naming ``what``, the id and the allowed characters) for
    an id ``id_problem`` refuses."""
    problem = id_problem(doc_id)
    if problem is not None:
        shown = doc_id if isinstance(doc_id, str) else str(doc_id)
        raise ValueError(f"{what} {_cut(shown)!r} {problem}; {ALLOWED_ID_CHARACTERS}")
    return unicodedata.normalize("NFC", doc_id)


def _name(ch: str) -> str:
    names = {"\n": "line feed", "\r": "carriage return", "\t": "tab", "\x00": "NUL", "\x1b": "escape"}
    return names.get(ch) or unicodedata.name(ch, "unnamed").lower()


def _cut(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
