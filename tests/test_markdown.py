"""Issue 17, item 5: answers are cleaned of the Markdown the generator copied from the docs."""

from __future__ import annotations

import pytest

from groundqa.markdown import clean_answer, restore_spacing, strip_markdown

PASSAGES = [
    "For HTTP/2 support, install the optional extra: `pip install httpx[http2]`.",
    "Run the app with `$ uvicorn main:app`, see [uvicorn](https://www.uvicorn.org/).",
]


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("```shell $ pip install httpx [http2] ``` [1]", "pip install httpx[http2] [1]"),
        ('```python title="main.py" from starlette.routing import Route ```', "from starlette.routing import Route"),
        ("**GET** [2]", "GET [2]"),
        ("[uvicorn](https://www.uvicorn.org/) [2]", "uvicorn [2]"),
        ("The [asgi][asgi] spec [1]", "The asgi spec [1]"),
        ("`response.num_bytes_downloaded` [1]", "response.num_bytes_downloaded [1]"),
        ("<a href=\"https://x\">docs</a> [1]", "docs [1]"),
        (">>> str(settings.SECRET_KEY)", "str(settings.SECRET_KEY)"),
        ("Paris [1, 2]", "Paris [1, 2]"),  # citation marks stay
        ("a * b * c", "a * b * c"),  # not emphasis
        ("## Installation", "Installation"),
    ],
)
def test_clean_answer(raw, clean):
    assert clean_answer(raw, PASSAGES) == clean


def test_spacing_is_restored_only_where_the_passages_have_it():
    assert restore_spacing("pip install httpx [http2]", PASSAGES) == "pip install httpx[http2]"
    assert restore_spacing("pip install httpx [http2]", ["pip install httpx [http2]"]) == "pip install httpx [http2]"
    assert restore_spacing("install the extra [1]", PASSAGES) == "install the extra [1]"  # never glued to a citation
    assert restore_spacing("the app", ["theapp"]) == "the app"  # two plain words stay apart
    assert strip_markdown("  many   spaces  ") == "many spaces"


def test_bold_cut_between_two_runs_leaves_no_marks():
    from groundqa.markdown import clean_answer

    assert clean_answer("8000** and **8001 [1]") == "8000 and 8001 [1]"
    assert clean_answer("use **kwargs here") == "use **kwargs here"
    assert clean_answer("2**8 [1]") == "2**8 [1]"


def test_half_bold_attribute_lists_and_rst_literal_marks_are_residue():
    """Issue 21, Python-Markdown's and Jinja's docs: an answer begun inside a bold term with an
    attribute list, and a reStructuredText definition term."""
    assert clean_answer("noclasses**{ #noclasses }: Use inline styles [1]") == "noclasses: Use inline styles [1]"
    assert clean_answer("the note {: .warning } [2]") == "the note [2]"
    assert clean_answer('Title { #intro .lead data-x="1" } [1]') == "Title [1]"
    assert clean_answer("leeway:: Configures the leeway [1]") == "leeway: Configures the leeway [1]"
    # code that looks alike stays: Jinja comments and tags, dicts, f-string fields, C++ scopes
    for code in ("{# note #}", "{% include 'x' %}", "{'a': 1}", "f'{name}'", "std::vector", "a[::2]"):
        assert clean_answer(code) == code


def test_an_answer_keeps_no_unbalanced_bracket_or_link_label():
    """Issue 21: a generated answer that ran into link labels or stopped inside a bracket."""
    from groundqa.markdown import clean_answer

    assert clean_answer("INFO [asgi-logger] [asgi_logger/middleware.py] [a [1]") == "INFO [1]"
    assert clean_answer("3.9+ [sync-sup [2]") == "3.9+ [2]"
    assert clean_answer("pkg[extra [1]") == "pkg [1]"
    assert clean_answer("pip install httpx[http2] [1]") == "pip install httpx[http2] [1]"
    assert clean_answer("Paris [1, 2]") == "Paris [1, 2]" and clean_answer("[1]") == "[1]"


def test_sphinx_roles_read_as_what_the_page_shows():
    """Issue 21, seventeenth session: attrs' and structlog's Markdown is written for Sphinx (MyST),
    and an answer copied from it can hold a role; the answer shows the name or the label only."""
    assert clean_answer("{class}`~structlog.stdlib.ExtraAdder` [1]") == "structlog.stdlib.ExtraAdder [1]"
    assert clean_answer("use {func}`!attrs.define` [2]") == "use attrs.define [2]"
    assert clean_answer("the {ref}`API documentation <procs>` [1]") == "the API documentation [1]"
    assert clean_answer(":meth:`Schema.load` [1]") == "Schema.load [1]"
    # a plain code span keeps its ~ and <...>; C++ scopes are no role
    assert clean_answer("`~/.config` [1]") == "~/.config [1]"
    assert clean_answer("`List<int>` [1]") == "List<int> [1]"
    assert clean_answer("std::vector") == "std::vector"


def test_a_python_dunder_name_is_a_name_not_bold_text():
    """Issue 21, nineteenth session: APScheduler's "use the __getstate__ and __setstate__ special
    methods" (reStructuredText, whose code markup the loader drops) was returned as "getstate": the
    double underscores were read as Markdown bold. A dunder name is kept; underscores around other
    text still read as bold."""
    assert clean_answer("__getstate__ [1]") == "__getstate__ [1]"
    assert clean_answer("use __getstate__ and __setstate__ [2]") == "use __getstate__ and __setstate__ [2]"
    assert clean_answer("obj.__dict__ and __init__() [1]") == "obj.__dict__ and __init__() [1]"
    assert clean_answer("__Note__: read this") == "Note: read this"
    assert clean_answer("__two words__ here") == "two words here"
    assert clean_answer("**8000** and **8001**") == "8000 and 8001"
