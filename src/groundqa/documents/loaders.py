"""Turn files and records into ``Document``s, reporting every file or record that cannot be used.

Supported inputs, chosen by file extension:

========================  =====================================================================
``.txt`` ``.text``        the text as is
``.md`` ``.markdown``     the text as is (the first ``# heading`` outside code blocks becomes
                          ``metadata["title"]``)
``.rst``                  reStructuredText (Sphinx docs) as the text a reader sees, through
                          docutils (``documents.rst``); the first section title is the title
``.html`` ``.htm``        visible text only: script, style, head, template and noscript dropped;
                          block elements (p, div, h1-h6, li, tr, ...) become paragraph breaks
``.jsonl`` ``.ndjson``    one JSON object per line: one document per record
``.csv`` ``.tsv``         one document per row (the first row names the columns)
========================  =====================================================================

A path may be a file, a directory (walked recursively, hidden files and folders left out) or a
glob pattern (``docs/**/*.md``). Document ids are stable, so ingesting again finds the same ids:
for a file, its path relative to the directory given (or the glob's fixed prefix, or just its
name for a single file); for a jsonl/csv record, its ``id_field`` value or ``<file id>#<row>``
(jsonl: the line number; csv: the data row number, the header not counted; both from 1).

Nothing here raises for a bad file: binary, undecodable, empty, too-large files, unknown
extensions, records without the text field, invalid JSON lines and duplicate ids are each
reported in ``IngestResult.skipped`` with the reason, and everything else is ingested. An id
never silently replaces a text: a repeat with the same text is kept once (``duplicates``), one
with a different text is left out and reported (``id_conflicts``). Bad
*arguments* (a path that does not exist, a glob that matches nothing) raise ``ConfigError``.
"""

from __future__ import annotations

import codecs
import csv
import fnmatch
import glob
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Mapping, Sequence

from ..errors import ConfigError, check_positive
from ..ids import normalize_doc_id
from ..types import Document

__all__ = [
    "IngestResult",
    "Skipped",
    "SUPPORTED_EXTENSIONS",
    "documents_from_records",
    "html_to_text",
    "load_documents",
]

#: extension -> file type stored in ``metadata["type"]``
SUPPORTED_EXTENSIONS: Mapping[str, str] = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".rst": "rst",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
}

_SNIFF_BYTES = 8192
_GLOB_CHARS = re.compile(r"[*?\[]")

#: document id -> (where it was first seen, sha256 of its text)
_Seen = dict[str, tuple[str, str]]


@dataclass(frozen=True)
class Skipped:
    """A file or record that was not ingested, and why (``source`` is a path or ``path#row``).

    ``kind`` marks the two id cases: ``"duplicate"`` (the id and the text of an earlier document:
    nothing is lost) and ``"id_conflict"`` (the id of an earlier document with a *different* text:
    this text is not ingested); "" for every other reason."""

    source: str
    reason: str
    kind: Literal["", "duplicate", "id_conflict"] = ""

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "reason": self.reason}


@dataclass(frozen=True)
class IngestResult:
    """The documents that were read and everything that was skipped, in input order."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.documents)

    @property
    def id_conflicts(self) -> list[Skipped]:
        """Records or files left out because an earlier one holds their id with a different text."""
        return [s for s in self.skipped if s.kind == "id_conflict"]

    @property
    def duplicates(self) -> list[Skipped]:
        """Exact repeats (same id, same text) of an earlier document, kept once."""
        return [s for s in self.skipped if s.kind == "duplicate"]


# --------------------------------------------------------------------------------------------
# HTML


class _VisibleText(HTMLParser):
    """Collects the text a browser would show, with block elements as paragraph breaks."""

    SKIP = frozenset({"script", "style", "head", "template", "noscript", "title"})
    BLOCK = frozenset(
        {
            "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog",
            "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
            "h4", "h5", "h6", "header", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section",
            "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
        }
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._skip: list[str] = []  # open elements whose content is hidden

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip.append(tag)
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            # close up to the matching open element (tolerates unclosed children)
            if tag in self._skip:
                while self._skip and self._skip.pop() != tag:
                    pass
        elif tag in self.BLOCK and not self._skip:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)
        elif self._skip[-1] == "title":
            self.title_parts.append(data)


def _tidy(text: str) -> str:
    """Collapse runs of spaces inside lines and runs of blank lines; strip line ends."""
    lines = [re.sub(r"[ \t\f\v\u00a0]+", " ", line).strip() for line in text.split("\n")]
    out = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def html_to_text(html: str) -> tuple[str, str]:
    """The visible text of an HTML page and its ``<title>`` (empty if none).

    Inline whitespace is collapsed; block elements are separated by a blank line and ``<br>`` by a
    newline, so sentence splitting never runs a heading or list item into the next block.
    """
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    # whitespace in HTML source is not significant: newlines inside text count as spaces
    parts = [p if p in ("\n", "\n\n") else re.sub(r"\s+", " ", p) for p in parser.parts]
    return _tidy("".join(parts)), " ".join(" ".join(parser.title_parts).split())


# --------------------------------------------------------------------------------------------
# bytes -> text


def _decode(data: bytes) -> tuple[str | None, str | None]:
    """``(text, None)`` or ``(None, reason)`` for bytes that are binary or not valid text."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError as exc:
            return None, f"undecodable: not valid UTF-16 text ({exc.reason} at byte {exc.start})"
    if b"\x00" in data[:_SNIFF_BYTES]:
        return None, "binary file (contains NUL bytes); only text files can be ingested"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, (
            f"undecodable: not valid UTF-8 ({exc.reason} at byte {exc.start}); "
            "re-save the file as UTF-8"
        )
    return text.replace("\r\n", "\n").replace("\r", "\n"), None


# --------------------------------------------------------------------------------------------
# file discovery


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A glob pattern as a regex over '/'-separated relative paths; ``**/`` spans folders."""
    i, out = 0, []
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 2)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def _matches(rel: str, pattern: str | None) -> bool:
    if pattern is None:
        return True
    if "/" not in pattern:  # a bare name pattern matches at any depth
        return fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], pattern)
    return _pattern_regex(pattern).match(rel) is not None


def _walk(root: Path, skipped: list[Skipped]) -> Iterator[Path]:
    """Files under ``root`` in sorted order, hidden files and folders left out.

    Folders that cannot be listed, symbolic links that loop, dangle or point outside ``root``,
    and linked folders are reported in ``skipped`` (links are never followed out of the folder
    given, so a link to ``/etc/passwd`` in an uploaded or shared folder is not read).
    """

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename).as_posix() if exc.filename else root.as_posix()
        skipped.append(Skipped(where, f"cannot read folder: {exc.strerror or exc}; check its permissions"))

    try:
        top = root.resolve()
    except (OSError, RuntimeError) as exc:
        skipped.append(Skipped(root.as_posix(), f"cannot resolve folder: {exc}"))
        return
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=False):
        here = Path(dirpath)
        for d in sorted(dirnames):
            if not d.startswith(".") and (here / d).is_symlink():
                skipped.append(Skipped((here / d).as_posix(), "symbolic link to a folder; not followed (pass the folder itself to ingest it)"))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (here / d).is_symlink())
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            f = here / name
            if f.is_symlink():
                problem = _link_problem(f, top)
                if problem:
                    skipped.append(Skipped(f.as_posix(), problem))
                    continue
            yield f


def _link_problem(link: Path, top: Path) -> str | None:
    """Why the symbolic link ``link`` is not followed, or None if it points to a file in ``top``."""
    try:
        target = link.resolve(strict=True)
    except RuntimeError:
        return "symbolic link loop; not followed"
    except OSError as exc:
        return f"broken symbolic link ({exc.strerror or exc}); not followed"
    if target != top and top not in target.parents:
        return f"symbolic link to {target.as_posix()}, outside the folder {top.as_posix()}; not followed (copy the file in, or pass it by name)"
    return None


def _glob_root(pattern: str) -> Path:
    """The fixed folder prefix of a glob pattern (ids are made relative to it)."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if _GLOB_CHARS.search(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _discover(paths: Sequence[str | os.PathLike[str]], pattern: str | None, skipped: list[Skipped]) -> Iterator[tuple[Path, str]]:
    """``(file path, document id)`` for every file the inputs name; what cannot be walked goes to ``skipped``."""
    for raw in paths:
        p = Path(raw)
        text = os.fspath(raw)
        if p.is_dir():
            for f in _walk(p, skipped):
                rel = f.relative_to(p).as_posix()
                if _matches(rel, pattern):
                    yield f, rel
        elif p.exists():
            yield p, p.name
        elif _GLOB_CHARS.search(text):
            root = _glob_root(text)
            hits = sorted(glob.glob(text, recursive=True))
            files = [Path(h) for h in hits if Path(h).is_file()]
            if not files:
                raise ConfigError(f"paths: the pattern {text!r} matches no files; check the pattern and the current folder ({os.getcwd()})")
            try:
                top = root.resolve()
            except (OSError, RuntimeError):
                top = Path(os.path.abspath(root))
            for f in files:
                problem = _link_problem(f, top) if f.is_symlink() else None
                if problem:
                    skipped.append(Skipped(f.as_posix(), problem))
                    continue
                rel = os.path.relpath(f, root).replace(os.sep, "/")
                if _matches(rel, pattern):
                    yield f, rel
        else:
            raise ConfigError(f"paths: {text!r} does not exist; pass a file, a folder or a glob pattern like 'docs/**/*.md'")


# --------------------------------------------------------------------------------------------
# records (jsonl, csv, in-memory)


_INT = re.compile(r"-?(?:0|[1-9]\d*)\Z")
_FLOAT = re.compile(r"-?(?:0|[1-9]\d*)\.\d+(?:[eE][-+]?\d+)?\Z")


def _csv_value(value: str) -> Any:
    """CSV cells are strings; numbers written plainly become numbers so range filters work.

    ``"2019"`` -> 2019 and ``"3.5"`` -> 3.5, but ``"007"`` and ``"1e5"`` stay strings.
    """
    try:
        if _INT.match(value):
            return int(value)
        if _FLOAT.match(value):
            return float(value)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        pass
    return value


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


class _RecordReader:
    """Turns records into documents with the caller's field choices; shared by all record inputs."""

    def __init__(
        self,
        *,
        text_field: str,
        id_field: str | None,
        metadata_fields: Sequence[str] | None,
        max_bytes: int,
        result: IngestResult,
        seen: _Seen,
    ) -> None:
        self.text_field = text_field
        self.id_field = id_field
        self.metadata_fields = list(metadata_fields) if metadata_fields is not None else None
        self.max_bytes = max_bytes
        self.result = result
        self.seen = seen
        self.id_fix = (f"fix the repeated {id_field!r} values, or choose another id field with id_field= / --id-field "
                       "(records without it are numbered FILE#ROW)")

    def add(self, record: Any, *, where: str, default_id: str, source: str, base_meta: Mapping[str, Any]) -> None:
        skip = self.result.skipped.append
        if not isinstance(record, Mapping):
            skip(Skipped(where, f"record is a JSON {type(record).__name__}, not an object"))
            return
        if self.text_field not in record:
            fields = ", ".join(map(str, list(record)[:12])) or "none"
            skip(Skipped(where, f"no {self.text_field!r} field (fields: {fields}); choose the text field with text_field= / --text-field"))
            return
        text = record[self.text_field]
        if not isinstance(text, str):
            skip(Skipped(where, f"field {self.text_field!r} is a {type(text).__name__}, not text"))
            return
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text.strip():
            skip(Skipped(where, f"empty: field {self.text_field!r} has no text"))
            return
        size = len(text.encode("utf-8"))
        if size > self.max_bytes:
            skip(Skipped(where, f"too large: {size} bytes of text > max_bytes={self.max_bytes}; split it or raise max_bytes"))
            return
        raw_id = record.get(self.id_field) if self.id_field else None
        doc_id = default_id if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()) else str(raw_id)
        meta = dict(base_meta)
        if self.metadata_fields is None:
            skip_keys = {self.text_field, self.id_field}
            meta.update({k: v for k, v in record.items() if k not in skip_keys and _is_scalar(v)})
        else:
            meta.update({k: record[k] for k in self.metadata_fields if k in record})
        fix = self.id_fix if raw_id is not None else "give the record an id"
        _add_unique(self.result, self.seen, Document(id=doc_id, text=text, source=source, metadata=meta), where, fix)


def _add_unique(result: IngestResult, seen: _Seen, doc: Document, where: str, fix: str) -> None:
    """Add ``doc`` unless its id is taken: an exact repeat is kept once, a different text under a
    taken id is left out and reported as an ``id_conflict`` (never silently replaced). The id is
    put in NFC; one with control or invisible characters is skipped (``groundqa.ids``)."""
    try:
        doc_id = normalize_doc_id(doc.id)
    except ValueError as exc:
        result.skipped.append(Skipped(where, f"{exc}; rename the file or fix the record's id"))
        return
    if doc_id != doc.id:
        doc = Document(id=doc_id, text=doc.text, source=doc.source, metadata=doc.metadata)
    digest = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
    first = seen.get(doc.id)
    if first is not None:
        if first[1] == digest:
            result.skipped.append(Skipped(where, f"duplicate document id {doc.id!r} (first seen in {first[0]}) with the same text: kept once", "duplicate"))
        else:
            result.skipped.append(Skipped(where, f"duplicate document id {doc.id!r} (first seen in {first[0]}) with a different text: not ingested; ids must be unique: {fix}", "id_conflict"))
        return
    seen[doc.id] = (where, digest)
    result.documents.append(doc)


def documents_from_records(
    records: Iterable[Mapping[str, Any]],
    *,
    text_field: str = "text",
    id_field: str | None = "id",
    metadata_fields: Sequence[str] | None = None,
    source: str = "records",
    max_bytes: int = 10_000_000,
) -> IngestResult:
    """Documents from in-memory dicts (one per record), with the same rules as jsonl files.

    ``metadata_fields=None`` keeps every other field with a scalar value (str, int, float, bool);
    a list keeps exactly those fields. A record without ``id_field`` gets ``<source>#<n>`` (n from
    1). Records without text, with empty text or a duplicate id are reported in ``skipped``.
    """
    _check_fields(text_field, id_field, metadata_fields)
    check_positive("max_bytes", max_bytes)
    result = IngestResult()
    reader = _RecordReader(text_field=text_field, id_field=id_field, metadata_fields=metadata_fields, max_bytes=max_bytes, result=result, seen={})
    for n, record in enumerate(records, start=1):
        where = f"{source}#{n}"
        reader.add(record, where=where, default_id=where, source=source, base_meta={"source": source, "type": "record"})
    return result


def _check_fields(text_field: Any, id_field: Any, metadata_fields: Any) -> None:
    if not isinstance(text_field, str) or not text_field:
        raise ConfigError(f"text_field={text_field!r} is not valid; pass the name of the field that holds the text, e.g. 'text'")
    if id_field is not None and (not isinstance(id_field, str) or not id_field):
        raise ConfigError(f"id_field={id_field!r} is not valid; pass a field name, or None to number the records")
    if metadata_fields is not None and (isinstance(metadata_fields, str) or not all(isinstance(f, str) for f in metadata_fields)):
        raise ConfigError(f"metadata_fields={metadata_fields!r} is not valid; pass a list of field names like ['title', 'year'], or None for all")


# --------------------------------------------------------------------------------------------
# the entry point


def load_documents(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    pattern: str | None = None,
    text_field: str = "text",
    id_field: str | None = "id",
    metadata_fields: Sequence[str] | None = None,
    max_bytes: int = 10_000_000,
) -> IngestResult:
    """Read documents from files, folders and glob patterns; report what cannot be read.

    Args:
        paths: one path or several: files, folders (walked recursively) or glob patterns
            (``"docs/**/*.md"``).
        pattern: keep only files under a folder whose relative path matches this glob
            (``"*.md"`` matches names at any depth; ``"guides/**/*.md"`` matches paths).
        text_field, id_field, metadata_fields: for jsonl/csv records, which field holds the text,
            which the id, and which fields go into metadata (``None``: every other scalar field).
        max_bytes: a text file larger than this, or a record whose text is, is skipped.

    Every document's metadata holds ``source`` (the file path) and ``type`` (txt, md, rst, html,
    jsonl or csv), then the record's fields, and ``title`` for md/rst/html files that have one.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise ConfigError("paths is empty; pass at least one file, folder or glob pattern")
    _check_fields(text_field, id_field, metadata_fields)
    check_positive("max_bytes", max_bytes)
    if pattern is not None and (not isinstance(pattern, str) or not pattern):
        raise ConfigError(f"pattern={pattern!r} is not valid; pass a glob like '*.md' or 'guides/**/*.txt'")

    result = IngestResult()
    seen: _Seen = {}
    reader = _RecordReader(text_field=text_field, id_field=id_field, metadata_fields=metadata_fields, max_bytes=max_bytes, result=result, seen=seen)
    done: set[Path] = set()
    for path, doc_id in _discover(paths, pattern, result.skipped):
        try:
            key = path.resolve()
        except (OSError, RuntimeError) as exc:  # a link loop named directly
            result.skipped.append(Skipped(path.as_posix(), f"cannot resolve: {exc}"))
            continue
        if key in done:  # the same file named twice (a folder and a pattern inside it)
            continue
        done.add(key)
        _load_file(path, doc_id, result, seen, reader, max_bytes)
    return result


def _rst_text(text: str) -> tuple[str, str]:
    """reStructuredText as plain text and its title (``documents.rst``; needs docutils)."""
    from .rst import rst_to_text

    return rst_to_text(text)


def _load_file(path: Path, doc_id: str, result: IngestResult, seen: _Seen, reader: _RecordReader, max_bytes: int) -> None:
    source = path.as_posix()
    skip = result.skipped.append
    kind = SUPPORTED_EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        ext = path.suffix or "(none)"
        skip(Skipped(source, f"unknown extension {ext!r}; supported: {', '.join(SUPPORTED_EXTENSIONS)}"))
        return
    try:
        size = path.stat().st_size
        if kind in ("txt", "md", "html", "rst") and size > max_bytes:
            skip(Skipped(source, f"too large: {size} bytes > max_bytes={max_bytes}; split the file or raise max_bytes"))
            return
        if not path.is_file():
            skip(Skipped(source, "not a regular file"))
            return
        data = path.read_bytes()
    except OSError as exc:
        skip(Skipped(source, f"cannot read: {exc.strerror or exc}"))
        return
    if not data.strip():
        skip(Skipped(source, "empty file"))
        return
    text, problem = _decode(data)
    if text is None:
        skip(Skipped(source, problem or "undecodable"))
        return

    base = {"source": source, "type": kind}
    if kind in ("txt", "md", "html", "rst"):
        meta: dict[str, Any] = dict(base)
        if kind == "rst":
            try:
                import docutils  # noqa: F401
            except ImportError:  # a main dependency; say so rather than fail the whole run
                skip(Skipped(source, "reading .rst needs docutils, which is not installed: pip install docutils"))
                return
        if kind in ("html", "rst"):
            text, title = html_to_text(text) if kind == "html" else _rst_text(text)
            if title:
                meta["title"] = title
            if not text:
                skip(Skipped(source, "empty: the page has no visible text" if kind == "html" else "empty: the document has no text"))
                return
        elif not text.strip():
            skip(Skipped(source, "empty: only whitespace"))
            return
        if kind == "md":
            from .rst import markdown_title

            md_title = markdown_title(text)
            if md_title:
                meta["title"] = md_title
        fix = "another input has a file at the same relative path (a file's id is its path relative to the folder given); rename one or load them separately"
        _add_unique(result, seen, Document(id=doc_id, text=text, source=source, metadata=meta), source, fix)
        return

    records = 0
    if kind == "jsonl":
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            records += 1
            where = f"{source}#{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                skip(Skipped(where, f"invalid JSON: {exc.msg} at column {exc.colno}"))
                continue
            except RecursionError:
                skip(Skipped(where, "invalid JSON: nested too deeply for the parser; flatten the record"))
                continue
            except ValueError as exc:  # e.g. an integer with more digits than Python converts
                skip(Skipped(where, f"invalid JSON: {exc}"))
                continue
            reader.add(record, where=where, default_id=f"{doc_id}#{lineno}", source=source, base_meta=base)
    else:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        old_limit = csv.field_size_limit()
        csv.field_size_limit(max(old_limit, max_bytes + 1))
        try:
            rows = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
            columns = rows.fieldnames or []
            if reader.text_field not in columns:
                skip(Skipped(source, f"no {reader.text_field!r} column (columns: {', '.join(columns) or 'none'}); choose the text column with text_field= / --text-field"))
                return
            for n, row in enumerate(rows, start=1):
                records += 1
                where = f"{source}#{n}"
                if None in row:  # more cells than header columns
                    skip(Skipped(where, f"row has {len(columns) + len(row[None])} cells but the header names {len(columns)} columns"))  # type: ignore[index]
                    continue
                clean = {k: (v if k in (reader.text_field, reader.id_field) or v is None else _csv_value(v)) for k, v in row.items()}
                clean = {k: v for k, v in clean.items() if v is not None and (v != "" or k == reader.text_field)}
                reader.add(clean, where=where, default_id=f"{doc_id}#{n}", source=source, base_meta=base)
        except csv.Error as exc:
            skip(Skipped(source, f"malformed CSV: {exc}"))
            return
        finally:
            csv.field_size_limit(old_limit)
    if records == 0:
        skip(Skipped(source, "empty: no records"))
