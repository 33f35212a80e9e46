"""reStructuredText (Sphinx docs) to plain text with docutils, and Markdown titles outside code.

``rst_to_text(source) -> (text, title)`` parses with docutils and writes the text a reader sees:
section titles (as Markdown headings, ``## Title`` by depth), paragraphs, list items (``* `` / ``1. ``), definition lists, field lists, tables
(cells joined by `` | ``) and literal/code blocks, each block separated by a blank line so
sentence splitting never runs one into the next. Sphinx adds roles and directives that docutils
does not know (``:func:`x```, ``.. versionadded::``, ``.. code-block::``, ``.. autoclass::``,
``.. toctree::``); they are registered here as generic ones, so their text is kept (a role's text
as written, ``~a.b.c`` shortened to ``c`` and ``Title <target>`` to ``Title``, and so for text in
single backticks, which Sphinx reads with the docs' default role; a directive's
argument and content) instead of becoming docutils error messages. Directives that pull content
from elsewhere (autodoc, ``literalinclude``, ``include``, ``toctree``, images) produce nothing:
that content is not in the file. Parse problems never raise: docutils' messages are dropped.
"""

from __future__ import annotations

import io
import re
from typing import Any

__all__ = ["markdown_title", "rst_to_text"]

# directives whose content lives elsewhere or is only navigation
_DROP = frozenset(
    """toctree index include literalinclude image figure autoclass automodule autofunction automethod
    autoattribute autodata autoexception autosummary autoprogram currentmodule module highlight
    default-role only tabularcolumns graphviz inheritance-diagram raw meta""".split()
)
_CODE = frozenset("code-block sourcecode code doctest testcode testoutput testsetup prompt ipython console".split())
_VERSION_LABELS = {"versionadded": "New in version", "versionchanged": "Changed in version", "deprecated": "Deprecated since version"}
_ROLE_NAME = re.compile(r"(?<![\w`]):((?:[\w-]+:)?[\w+.-]+):`")
_DIRECTIVE_NAME = re.compile(r"^[ \t]*\.\.[ \t]+([\w:+.-]+)::", re.M)
_registered: set[str] = set()


def _shown(text: str) -> str:
    """What Sphinx shows for a cross-reference's text: ``Title <target>`` shows Title, ``~pkg.mod.func``
    func, ``!name`` name."""
    shown = text
    m = re.fullmatch(r"(.*?)\s*<[^<>]+>", text, flags=re.S)
    if m and m.group(1).strip():
        shown = m.group(1).strip()  # `Title <target>`
    elif shown.startswith("~"):
        shown = shown[1:].rsplit(".", 1)[-1]  # `~pkg.mod.func` shows as func
    return shown.lstrip("!")


def _role(name: str, rawtext: str, text: str, lineno: int, inliner: Any, options: Any = None, content: Any = None) -> Any:
    from docutils import nodes

    return [nodes.literal(rawtext, _shown(text))], []


class _AnyOptions(dict):  # type: ignore[type-arg]
    """An option_spec that accepts every option as a plain string."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: Any) -> Any:
        from docutils.parsers.rst import directives

        return directives.unchanged


def _directive_class() -> Any:
    from docutils import nodes
    from docutils.parsers.rst import Directive

    class Generic(Directive):
        """A Sphinx directive docutils lacks: its arguments and content kept as text."""

        has_content = True
        optional_arguments = 20
        final_argument_whitespace = True
        option_spec = _AnyOptions()

        def run(self) -> list[Any]:
            name = self.name.split(":")[-1]
            if name in _DROP or self.name in _DROP:
                return []
            if name in _CODE:
                code = "\n".join(self.content)
                return [nodes.literal_block(code, code)] if code.strip() else []
            out: list[Any] = []
            if self.arguments:
                arg = " ".join(self.arguments)
                label = _VERSION_LABELS.get(name)
                if label:  # ".. versionadded:: 2.1 text" reads "New in version 2.1: text"
                    version, _, rest = arg.partition(" ")
                    arg = f"{label} {version}:" + (f" {rest.strip()}" if rest.strip() else "")
                inline, _msgs = self.state.inline_text(arg, self.lineno)
                out.append(nodes.paragraph(arg, "", *inline))
            if self.content:
                box = nodes.container()
                self.state.nested_parse(self.content, self.content_offset, box)
                out.append(box)
            return out

    return Generic


def _register(source: str) -> None:
    from docutils.parsers.rst import directives, roles

    generic = None
    for name in set(_DIRECTIVE_NAME.findall(source)):
        key = f"directive:{name}"
        if key in _registered:
            continue
        _registered.add(key)
        known = name in directives._directives or name in directives._directive_registry  # type: ignore[attr-defined]
        # docutils' own "class" directive sets an HTML class and loses a Sphinx ``.. class:: joiner(sep)``
        # with all its documentation: in Sphinx docs it documents a class, as ``.. function::`` does
        if not known or name in ("code", "include", "raw", "image", "figure", "meta", "class"):
            generic = generic or _directive_class()
            directives.register_directive(name, generic)
    for name in set(_ROLE_NAME.findall(source)):
        key = f"role:{name}"
        if key in _registered:
            continue
        _registered.add(key)
        if name not in roles._roles and name not in roles._role_registry:  # type: ignore[attr-defined]
            roles.register_local_role(name, _role)


def _text(node: Any) -> str:
    from docutils import nodes

    if isinstance(node, (nodes.system_message, nodes.comment, nodes.target, nodes.substitution_definition, nodes.raw, nodes.image, nodes.footnote_reference)):
        return ""
    if isinstance(node, nodes.problematic):
        return node.astext()
    if isinstance(node, nodes.Text):
        return str(node)
    if isinstance(node, (nodes.literal_block, nodes.doctest_block)):
        return node.astext()
    if isinstance(node, nodes.title_reference):
        # text in single backticks: Sphinx docs set a default role (marshmallow: `Schema <marshmallow.Schema>`,
        # `~marshmallow.fields.Nested`), which shows what a role shows; docutils would keep the target
        return _shown(node.astext())
    if isinstance(node, nodes.TextElement) and not isinstance(node, nodes.term):
        return "".join(_text(c) for c in node.children)
    if isinstance(node, (nodes.bullet_list, nodes.enumerated_list)):
        items = []
        for i, item in enumerate(node.children, start=1):
            body = _blocks(item).strip()
            mark = "*" if isinstance(node, nodes.bullet_list) else f"{i}."
            items.append(f"{mark} " + body.replace("\n\n", "\n  "))
        return "\n".join(items)
    if isinstance(node, nodes.definition_list_item):
        term = " ".join(_text(c) for c in node.children if isinstance(c, (nodes.term, nodes.classifier)))
        body = " ".join(_blocks(c).strip() for c in node.children if isinstance(c, nodes.definition))
        return f"{term}: {body}" if body else term
    if isinstance(node, nodes.field):
        name = _text(node.children[0]) if node.children else ""
        body = _blocks(node.children[1]).strip() if len(node.children) > 1 else ""
        return f"{name}: {body}"
    if isinstance(node, nodes.row):
        return " | ".join(_blocks(e).strip().replace("\n", " ") for e in node.children)
    if isinstance(node, nodes.term):
        return "".join(_text(c) for c in node.children)
    return _blocks(node)


def _blocks(node: Any) -> str:
    from docutils import nodes

    parts = []
    for c in node.children:
        t = _text(c)
        if t.strip() and isinstance(c, nodes.title) and isinstance(node, nodes.section):
            # a section title as a Markdown heading, so a reader (and the guard's answer checks)
            # sees which section a sentence is in, as in Markdown docs
            depth, up = 0, node
            while up is not None:
                depth += isinstance(up, nodes.section)
                up = up.parent
            t = "#" * min(6, max(1, depth)) + " " + " ".join(t.split())
        if t.strip():
            parts.append(t.strip("\n"))
    sep = "\n" if isinstance(node, (nodes.tbody, nodes.thead, nodes.tgroup, nodes.table)) else "\n\n"
    return sep.join(parts)


def rst_to_text(source: str) -> tuple[str, str]:
    """The readable text of a reStructuredText document and its first section title ("" if none)."""
    from docutils import nodes
    from docutils.core import publish_doctree

    _register(source)
    settings = {
        "report_level": 5,
        "halt_level": 5,
        "warning_stream": io.StringIO(),
        "file_insertion_enabled": False,
        "raw_enabled": False,
        "doctitle_xform": False,
        "sectsubtitle_xform": False,
        "syntax_highlight": "none",
        "input_encoding": "unicode",
    }
    try:
        tree = publish_doctree(source, settings_overrides=settings)
    except Exception:  # docutils raises on a few malformed inputs even at halt_level 5
        return source, ""
    title = ""
    for sec in tree.findall(nodes.section):
        if sec.children and isinstance(sec.children[0], nodes.title):
            title = " ".join(_text(sec.children[0]).split())
            break
    text = _blocks(tree)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip(), title


_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")


def _atx_heading(line: str) -> tuple[int, str] | None:
    r"""(level, text) of a ``#`` heading line, its closing ``#`` sequence removed; None otherwise.

    Plain string operations, no regex: a pattern such as ``#\s+(.+?)\s*#*\s*$`` backtracks
    cubically on a heading padded with thousands of spaces (66 s for 3 KB, issue 15)."""
    body = line.lstrip(" \t")
    if len(line) - len(body) > 3:
        return None
    level = len(body) - len(body.lstrip("#"))
    rest = body[level:]
    if not 1 <= level <= 6 or not rest or rest[0] not in " \t":
        return None
    title = rest.strip()
    bare = title.rstrip("#")
    if bare != title and (not bare or bare[-1] in " \t"):  # closing sequence: "# Title ##"
        title = bare.rstrip()
    return (level, title) if title else None


def markdown_title(text: str) -> str | None:
    """The first ``# `` heading of a Markdown text outside fenced code blocks (a ``# comment`` in a
    shell or Python block is not a title); failing that, the first heading of any level (``## ``,
    or a setext ``Title`` over ``===``/``---``) outside code and YAML front matter; backticks are
    dropped from it; None if there is none."""
    fence: str | None = None
    first_any: str | None = None
    prev = ""
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":  # YAML front matter ("---\ntoc_depth: 2\n---") is not a heading
        end = next((i for i, line in enumerate(lines[1:], start=1) if line.strip() in ("---", "...")), None)
        if end is not None:
            lines = lines[end + 1 :]
    for line in lines:
        m = _FENCE.match(line)
        if m:
            mark = m.group(1)
            if fence is None:
                fence = mark[0] * len(mark)
            elif line.strip().startswith(fence):
                fence = None
            prev = ""
            continue
        if fence is not None:
            continue
        h = _atx_heading(line)
        if h:
            heading = h[1].replace("`", "").strip()
            if h[0] == 1:
                return heading
            first_any = first_any or heading
        elif prev.strip() and re.fullmatch(r"[ \t]{0,3}(=+|-+)[ \t]*", line) and not re.match(r"^[ \t]*[*+-][ \t]", prev):
            if line.strip().startswith("="):
                return prev.strip()
            first_any = first_any or prev.strip()
        prev = line
    return first_any
