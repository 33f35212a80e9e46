"""Issue 17, items 4 and 6: reStructuredText (Sphinx) docs are read through docutils, and a
Markdown title is never a ``# comment`` inside a code block."""

from __future__ import annotations

import pytest

from groundqa.documents import SUPPORTED_EXTENSIONS, load_documents
from groundqa.documents.rst import markdown_title, rst_to_text

SPHINX_PAGE = """\
.. _quickstart:

Quickstart
==========

.. code-block:: python

   # Not a title
   import mylib

Install it with ``pip install mylib``. Call :func:`mylib.connect` or :meth:`~mylib.Client.close`,
see :ref:`the advanced guide <advanced>`.

.. versionadded:: 2.1
   The ``timeout`` argument.

.. note::

   Connections are pooled.

* ``max_connections`` - the pool size, or ``None`` for no limit. (Default 100)
* ``retries`` - retries per request. (Default 3)

.. autoclass:: mylib.Client
   :members:

.. toctree::
   :maxdepth: 2

   api

Options
-------

timeout
   Seconds to wait. Defaults to 5.
"""


def test_rst_is_read_as_the_text_a_reader_sees(tmp_path):
    assert SUPPORTED_EXTENSIONS[".rst"] == "rst"
    (tmp_path / "guide.rst").write_text(SPHINX_PAGE, encoding="utf-8")
    result = load_documents([tmp_path])
    assert result.skipped == []
    doc = result.documents[0]
    assert doc.id == "guide.rst" and doc.metadata["type"] == "rst" and doc.metadata["title"] == "Quickstart"
    text = doc.text
    # Sphinx roles keep their text, shortened the way Sphinx shows them
    assert "Call mylib.connect or close," in text and "see the advanced guide." in text
    assert "Install it with pip install mylib." in text
    # directives docutils does not know: arguments and content kept, nothing of docutils' errors
    assert "New in version 2.1: The timeout argument." in text
    assert "Connections are pooled." in text and "import mylib" in text
    assert "* max_connections - the pool size, or None for no limit. (Default 100)" in text
    assert "timeout: Seconds to wait. Defaults to 5." in text
    for noise in ("autoclass", "toctree", "maxdepth", "System Message", "Unknown", ":func:", "``"):
        assert noise not in text


def test_a_sphinx_class_directive_keeps_its_signature_and_documentation():
    """Issue 21: docutils' own ``class`` directive (an HTML class) dropped Jinja's ``joiner``."""
    text, _ = rst_to_text(
        "Globals\n=======\n\n.. class:: joiner(sep=', ')\n\n    A tiny helper that can be used to \"join\" multiple sections.\n\n"
        "    .. method:: reset()\n\n        Resets the current item.\n\nAfter.\n")
    assert "joiner(sep=', ')" in text and 'A tiny helper that can be used to "join" multiple sections.' in text
    assert "reset()" in text and "Resets the current item." in text and "After." in text


def test_text_in_single_backticks_reads_as_the_default_role_shows_it():
    """Issue 21: Sphinx docs that set a default role (marshmallow) write references in single
    backticks; docutils kept their link target, so the loaded text read "Schema <marshmallow.Schema>"."""
    text, _ = rst_to_text("Use `Schema <marshmallow.Schema>`, `~marshmallow.fields.Nested`, `!raw` or `a title`, "
                          "not `a link <https://example.com>`_.\n")
    assert text == "Use Schema, Nested, raw or a title, not a link.", text


def test_rst_that_docutils_cannot_make_sense_of_is_still_read():
    text, title = rst_to_text("Title\n=====\n\n.. unknown-thing:: arg\n   :opt: 1\n\n   Body *text* here.\n\n`unclosed\n")
    assert title == "Title" and "Body text here." in text and "arg" in text


@pytest.mark.parametrize(
    "md,title",
    [
        ("```shell\n# install it\npip install x\n```\n\n# Real Title\n\ntext", "Real Title"),
        ("~~~python\n# comment\n~~~\n\n## Section\n\ntext", "Section"),  # no H1: the first heading
        ("Setext Title\n============\n\ntext", "Setext Title"),
        ("    # indented code is not a heading\n\ntext", None),
        ("```python\n# only code\n```\n", None),
        ("---\ntoc_depth: 2\n---\n\n## Release Notes\n", "Release Notes"),  # front matter is not a setext heading
        ("## `Request.send_push_promise`\n", "Request.send_push_promise"),
    ],
)
def test_markdown_title_skips_code_blocks(md, title):
    assert markdown_title(md) == title


def test_markdown_document_title_outside_code(tmp_path):
    (tmp_path / "config.md").write_text("Intro.\n\n```python\n# Config will be read from env\n```\n\n## Secrets\n\ntext\n", encoding="utf-8")
    doc = load_documents([tmp_path]).documents[0]
    assert doc.metadata["title"] == "Secrets"
