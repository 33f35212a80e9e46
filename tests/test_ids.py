"""Document ids (``groundqa.ids``) and terminal-safe printing (``groundqa.text.printable``): issue 25."""

from __future__ import annotations

import unicodedata

import pytest

from groundqa.ids import ALLOWED_ID_CHARACTERS, id_problem, normalize_doc_id
from groundqa.text import printable


@pytest.mark.parametrize(
    "doc_id,problem",
    [
        ("a\nb", "U+000A (line feed)"),
        ("a\rb", "U+000D (carriage return)"),
        ("col\x00Warranty", "U+0000 (NUL)"),
        ("x\x1b[31m", "U+001B (escape)"),
        ("tab\there", "U+0009 (tab)"),
        ("refunds\u200b.md", "U+200B (zero width space)"),
        ("\ufeffbom.md", "U+FEFF"),
        ("evil\u202etxt.md", "U+202E"),
        ("line\u2028sep", "line separator"),
        ("", "is empty"),
        ("   ", "only whitespace"),
        ("name.md ", "starts or ends with whitespace"),
        ("\ud800", "lone surrogate"),
        ("..", "'.' or '..' as a path segment"),
        ("a/../b", "'.' or '..' as a path segment"),
        ("./a", "'.' or '..' as a path segment"),
    ],
)
def test_refused_ids_say_what_and_which_characters_are_allowed(doc_id: str, problem: str) -> None:
    assert problem in id_problem(doc_id)
    with pytest.raises(ValueError, match="ids may hold letters, digits") as err:
        normalize_doc_id(doc_id)
    assert problem in str(err.value)


def test_ids_are_put_in_nfc_and_ordinary_ids_pass() -> None:
    nfd = unicodedata.normalize("NFD", "café/menü.md")
    assert nfd != "café/menü.md" and normalize_doc_id(nfd) == "café/menü.md"
    for ok in ("faq/password", "a b.md", "sha256:0123", "日本語.txt", "100% ?&#=+.md", "x" * 512, "...", "a/.b/c..", ".env"):
        assert normalize_doc_id(ok) == ok and id_problem(ok) is None
    assert "not control characters" in ALLOWED_ID_CHARACTERS


def test_printable_escapes_terminal_controls_but_keeps_text() -> None:
    assert printable("plain text, ünïcode ✓") == "plain text, ünïcode ✓"
    s = printable("\x1b[2J\x1b[31mred\x07 id\nsecond\rline\u200b\u202e")
    assert "\x1b" not in s and "\n" not in s and "\r" not in s and "\u200b" not in s and "\u202e" not in s
    assert s == "\\x1b[2J\\x1b[31mred\\x07 id\\nsecond\\rline\\u200b\\u202e"
    assert printable("two\nlines\x1b", newlines=True) == "two\nlines\\x1b"
