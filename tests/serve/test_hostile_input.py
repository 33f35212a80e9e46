"""Issue 25: nothing lost or unreachable in silence. The service's store, ids, keys, limits and the
review tool under hostile input (missing index folder, unreachable and look-alike ids, chunk-id
collisions, terminal escapes, corrupt start-up files, non-ASCII keys, schema limits, read scope)."""

from __future__ import annotations

import copy
import json
import logging
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest

from groundqa.errors import ConfigError

from .conftest import ADMIN_KEY, ASK_KEY, INGEST_KEY, auth, fake_factory, httpx, keyed_settings, serving


def _url(doc_id: str) -> str:
    return "/v1/documents/" + quote(doc_id, safe="")


def _store(index_dir: Path, state: Path) -> Any:
    from groundqa.serve.app import open_index
    from groundqa.serve.store import DocumentStore

    return DocumentStore(open_index(index_dir, "hash"), index_dir, state)


def _docs(*pairs: tuple[str, str]) -> list[Any]:
    from groundqa.types import Document

    return [Document(i, t) for i, t in pairs]


# -- 1. a missing index folder is never a silent shrink --------------------------------------------
def test_missing_index_folder_with_a_journal_refuses_to_start(tmp_path: Path) -> None:
    from groundqa.documents import Chunker
    from groundqa.index import HybridIndex

    index_dir, state = tmp_path / "index", tmp_path / "index.serve"
    built = HybridIndex("hash")  # documents of `groundqa index build`: not in the journal
    built.add([c for g in Chunker(built.embedder).chunk_many(_docs(("built.md", "Built with the CLI."))) for c in g])
    built.save(index_dir)
    store = _store(index_dir, state)
    store.replay()
    store.ingest(_docs(("api.md", "Ingested through the API.")))
    store.snapshot()
    store.close()
    import shutil

    shutil.rmtree(index_dir)
    with pytest.raises(ConfigError) as err:
        _store(index_dir, state).replay()
    msg = str(err.value)
    assert str(index_dir) in msg and str(state / "journal.jsonl") in msg and "1 document(s) built with `groundqa index build`" in msg
    assert "Restore" in msg and "create the empty folder" in msg
    # nothing was touched: with the folder back, every document is served
    built.save(index_dir)
    store = _store(index_dir, state)
    store.replay()
    assert store.get("built.md") is not None and store.get("api.md") is not None


def test_missing_index_folder_is_rebuilt_when_the_journal_holds_every_document(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    index_dir, state = tmp_path / "index", tmp_path / "index.serve"
    store = _store(index_dir, state)
    store.replay()
    store.ingest(_docs(("a.md", "First document."), ("b.md", "Second document.")))
    store.close()  # killed before the first snapshot: no index folder
    assert not index_dir.exists()
    with caplog.at_level(logging.WARNING, logger="groundqa.serve.store"):
        store = _store(index_dir, state)
        store.replay()
    assert sorted(store.doc_ids()) == ["a.md", "b.md"] and len(store.index) == 2
    assert "rebuilding it from the journal" in caplog.text


def test_missing_index_folder_with_a_journal_of_an_older_version_refuses(tmp_path: Path) -> None:
    """A state folder without the marker (written before issue 25): whether the index held more is
    unknown, so refuse; an empty folder is the explicit way to start from the journal alone."""
    index_dir, state = tmp_path / "index", tmp_path / "index.serve"
    store = _store(index_dir, state)
    store.replay()
    store.ingest(_docs(("a.md", "First document.")))
    store.close()
    (state / "index.json").unlink()
    with pytest.raises(ConfigError, match="nothing in .* records whether the index held documents"):
        _store(index_dir, state).replay()
    index_dir.mkdir()
    store = _store(index_dir, state)
    store.replay()
    assert store.doc_ids() == ["a.md"]


# -- 3. chunk ids through NUL: the report matches the index -----------------------------------------
def test_documents_that_collided_through_nul_both_have_their_chunks(tmp_path: Path) -> None:
    store = _store(tmp_path / "index", tmp_path / "state")
    store.replay()
    out = store.ingest(_docs(("col\x00Warranty", "T"), ("col", "Warranty\x00T")))
    for o in out:
        held = store.index.chunks_of(o.id)
        assert o.chunks == len(held) == 1, (o, held)


def test_a_chunk_id_held_by_another_document_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    from groundqa.errors import DocumentError
    from groundqa.types import Chunk

    store = _store(tmp_path / "index", tmp_path / "state")
    store.replay()
    store.ingest(_docs(("a.md", "Alpha text.")))
    held = store.index.chunks_of("a.md")[0]

    class Clashing:  # a foreign chunker whose ids ignore the document id
        def chunk_many(self, docs: list[Any]) -> list[list[Chunk]]:
            return [[Chunk(id=held.id, doc_id=d.id, text=d.text, start=0, end=len(d.text))] for d in docs]

    store._chunker = Clashing()
    before = (store.journal_path.read_bytes(), len(store.index))
    with pytest.raises(DocumentError, match="already holds in the index; nothing was stored"):
        store.ingest(_docs(("b.md", "Beta text.")))
    assert (store.journal_path.read_bytes(), len(store.index)) == before and store.get("b.md") is None


# -- 5. start-up errors name the file, the line and the fix -----------------------------------------
@pytest.mark.parametrize(
    "line,problem",
    [
        (b"[]", "a JSON list, not an object"),
        (b'{"op": "put", "id": "x", "sha256": "00"}', "a put with no 'text' field"),
        (b'{"op": "put", "text": "t", "sha256": "00"}', "id is None"),
        (b'{"op": "rename", "id": "x"}', "op is 'rename'"),
        (b'"just a string"', "a JSON str, not an object"),
        (b'{"op": "put", "id": "x", "text": "t", "sha256": "00", "chunk_ids": "abc"}', "chunk_ids is not a list"),
    ],
)
def test_a_journal_line_of_the_wrong_shape_names_file_line_and_fix(tmp_path: Path, line: bytes, problem: str) -> None:
    state = tmp_path / "state"
    store = _store(tmp_path / "index", state)
    store.replay()
    store.ingest(_docs(("a.md", "First document.")))
    store.close()
    with open(state / "journal.jsonl", "ab") as f:
        f.write(line + b"\n" + b'{"op": "delete", "id": "a.md", "time": 1.0}\n')
    with pytest.raises(ConfigError) as err:
        _store(tmp_path / "index", state).replay()
    msg = str(err.value)
    assert f"{state / 'journal.jsonl'}: line 2 is valid JSON but not a journal record ({problem}" in msg
    assert "repair or remove line 2" in msg and "Restore it from a backup" in msg


def test_a_torn_last_journal_line_is_recovered_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "state"
    store = _store(tmp_path / "index", state)
    store.replay()
    store.ingest(_docs(("a.md", "First document.")))
    store.close()
    with open(state / "journal.jsonl", "ab") as f:
        f.write(b'{"op": "put", "id": "b.md", "te')
    with caplog.at_level(logging.WARNING):  # the default level of `groundqa serve` shows it
        store = _store(tmp_path / "index", state)
        rep = store.replay()
    assert rep.torn_lines == 1 and store.doc_ids() == ["a.md"]
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "torn" in r.getMessage()]
    assert warned and "line 2 (the last) is torn" in warned[0].getMessage() and "journal.jsonl" in warned[0].getMessage()


def test_a_damaged_middle_journal_line_names_the_fix(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "journal.jsonl").write_bytes(b'{"op": "put", "id": "a"\n\xff\xfe not utf-8\n{"op": "delete", "id": "a", "time": 1}\n')
    with pytest.raises(ConfigError, match=r"journal.jsonl: line 1 is damaged and is not the last one; .*Restore the journal from a backup, or repair or remove line 1"):
        _store(tmp_path / "index", state).replay()


@pytest.mark.parametrize("content", [b"this is not a database" * 100, b"SQLite format 3\x00" + b"\x07" * 4000])
def test_a_garbage_audit_log_names_the_file_and_the_fix(tmp_path: Path, content: bytes) -> None:
    from groundqa.serve.audit import AuditLog

    path = tmp_path / "audit.sqlite"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        AuditLog(path)
    assert f"the audit log {path} cannot be opened as an SQLite database" in str(err.value) and "Move it away" in str(err.value)
    assert path.read_bytes() == content  # left as it was


def test_an_audit_log_of_another_program_is_refused(tmp_path: Path) -> None:
    from groundqa.serve.audit import AuditLog

    path = tmp_path / "audit.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE answers (id INTEGER PRIMARY KEY, body TEXT)")
    db.close()
    content = path.read_bytes()
    with pytest.raises(ConfigError, match="has a table 'answers' without the column"):
        AuditLog(path)
    assert path.read_bytes() == content  # not switched to WAL or given groundqa's table


def test_review_cli_reports_a_garbage_audit_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from groundqa.cli import main

    path = tmp_path / "audit.sqlite"
    path.write_bytes(b"garbage" * 100)
    with pytest.raises(SystemExit) as exit_:
        main(["review", "list", "--audit", str(path)])
    assert exit_.value.code == 2 and f"the audit log {path} cannot be opened" in capsys.readouterr().err


# -- 4. terminal escapes in the review tool ---------------------------------------------------------
def test_review_show_escapes_control_characters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from groundqa.cli import main
    from groundqa.serve.audit import AuditLog

    evil_id, evil_text = "evil\ndoc\x1b]0;pwned\x07", "\x1b[2J\x1b[31mRefunds\rare free\u202e forever."
    log = AuditLog(tmp_path / "audit.sqlite")
    log.record({
        "question": "Are refunds free?\x1b[5m", "answer": "Yes [1]\x1b[0m", "generated": "Yes [1]", "verdict": "flagged", "reason": "unsupported\x1b[1m", "policy": "flag", "support": 0.1,
        "claims": [{"text": "Refunds are free\x1b[31m.", "start": 0, "end": 3, "probability": 0.1, "verdict": "unsupported", "reasons": [], "citation": None, "signals": {}}],
        "passages": [{"id": "c1", "doc_id": evil_id, "rank": 1, "score": 1.0, "scores": {}, "source": "s", "start": 0, "end": 40, "text": evil_text}],
        "models": {}, "timings_ms": {},
    })
    log.close()
    assert main(["review", "show", "--audit", str(tmp_path / "audit.sqlite"), "1"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out and "\u202e" not in out
    lines = out.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("  [1] "))
    assert "evil\\ndoc\\x1b]0;pwned\\x07 (0-40)" in lines[at]
    # the passage is printed whole on the indented lines under it, escaped
    assert lines[at + 1].strip() == "\\x1b[2J\\x1b[31mRefunds\\rare free\\u202e forever."
    assert main(["review", "list", "--audit", str(tmp_path / "audit.sqlite")]) == 0
    assert "\x1b" not in capsys.readouterr().out


def test_cli_tables_escape_ids_and_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from groundqa.cli.index import _table

    out = _table([["evil\nid\x1b[31m", "text\x1b[2J"]], ["doc", "text"])
    assert "\x1b" not in out and len(out.splitlines()) == 3


# -- 6. API keys: ASCII only when hashing; the header's bytes are what is hashed ------------------
def test_hash_key_refuses_non_ascii_keys() -> None:
    from groundqa.cli import main
    from groundqa.serve import hash_key

    with pytest.raises(ConfigError, match="printable ASCII"):
        hash_key("clé-secrète-0123456789")
    with pytest.raises(ConfigError, match="printable ASCII"):
        hash_key("tab\tin-the-key-0123456789")
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--hash-key", "schlüssel-0123456789abcdef"])
    assert exit_.value.code == 2


def test_a_key_is_checked_on_the_bytes_the_client_sent(tmp_path: Path) -> None:
    """A UTF-8 key (hashed outside ``hash_key``) matches a client that sends it as UTF-8."""
    import hashlib

    from groundqa.serve import ApiKey, ServeSettings
    from groundqa.serve.app import create_app

    key = "clé-0123456789abcdef"
    settings = ServeSettings(index_dir=tmp_path / "index", embedder="hash", api_keys=(ApiKey("utf8", hashlib.sha256(key.encode("utf-8")).hexdigest(), ("ask",)),))
    with serving(create_app(pipeline_factory=fake_factory, settings=settings)) as url:
        r = httpx.post(f"{url}/v1/ask", json={"question": "Anything?"}, headers=[(b"Authorization", b"Bearer " + key.encode("utf-8"))])
        assert r.status_code == 200, r.text
        r = httpx.post(f"{url}/v1/ask", json={"question": "Anything?"}, headers=[(b"Authorization", b"Bearer " + key.encode("latin-1"))])
        assert r.status_code == 401


# -- 2, 8. ids: refused with a 422 that says why, or reachable; look-alikes are one document ---------
@pytest.mark.parametrize("doc_id", ["a\nb", "trailing\n", "a\rb", "col\x00Warranty", "refunds\u200b.md", "x\x1b[31m", "a\u2028b", "bom\ufeff", " padded", "..", "a/./b"])
def test_unreachable_and_invisible_ids_are_refused_with_the_allowed_characters(server: tuple[str, Any], doc_id: str) -> None:
    url, app = server
    r = httpx.post(f"{url}/v1/documents", json={"documents": [{"id": doc_id, "text": "Some text."}]}, headers=auth(ADMIN_KEY))
    assert r.status_code == 422, r.text
    assert "ids may hold letters, digits, punctuation" in r.json()["message"] and "not control characters" in r.json()["message"]
    assert app.state.store.get(doc_id) is None


def test_upload_names_that_cannot_be_ids_are_refused(server: tuple[str, Any]) -> None:
    url, _ = server
    for name in ("zero\u200bwidth.txt", "evil\u202etxt.md"):  # (httpx sends a newline in a file name as %0A)
        r = httpx.post(f"{url}/v1/documents", files=[("files", (name, b"Hello there.", "text/plain"))], headers=auth(ADMIN_KEY))
        assert r.status_code == 422 and "file name (the document id)" in r.json()["message"], r.text
    # a .jsonl upload whose records carry bad ids: those records are skipped, with the reason
    lines = b'{"id": "ok-record", "text": "Fine."}\n{"id": "bad\\nrecord", "text": "Newline."}\n'
    r = httpx.post(f"{url}/v1/documents", files=[("files", ("records.jsonl", lines, "application/x-ndjson"))], headers=auth(ADMIN_KEY))
    assert r.status_code == 201 and [d["id"] for d in r.json()["documents"]] == ["ok-record"]
    assert "U+000A (line feed)" in r.json()["skipped"][0]["reason"]


def test_every_accepted_id_is_readable_and_deletable(server: tuple[str, Any]) -> None:
    url, _ = server
    ids = ["plain", "a/b/c.md", "with space.md", "100% ?&#=+;.md", "ümlaut/日本.txt", "...", "a/..b/.c", "%2F", "%0A", "/lead/slash", "a//b", "quote\"'`", "back\\slash", "tab-free\u00a0nbsp", "x" * 512, "🙂"]
    with httpx.Client(base_url=url, headers=auth(ADMIN_KEY)) as c:
        for i, doc_id in enumerate(ids):
            r = c.post("/v1/documents", json={"documents": [{"id": doc_id, "text": f"Document number {i}."}]})
            assert r.status_code == 201, (doc_id, r.text)
            stored = r.json()["documents"][0]["id"]
            got = c.get(_url(stored))
            assert got.status_code == 200 and got.json()["text"] == f"Document number {i}.", (doc_id, got.text)
            d = c.delete(_url(stored))
            assert d.status_code == 200 and d.json()["id"] == stored, (doc_id, d.text)
            assert c.get(_url(stored)).status_code == 404


def test_nfc_and_nfd_forms_are_one_document(server: tuple[str, Any]) -> None:
    url, app = server
    nfc = "café/menü.md"
    nfd = unicodedata.normalize("NFD", nfc)
    with httpx.Client(base_url=url, headers=auth(ADMIN_KEY)) as c:
        r1 = c.post("/v1/documents", json={"documents": [{"id": nfd, "text": "The menu changes daily."}]})
        assert r1.status_code == 201 and r1.json()["documents"][0]["id"] == nfc
        r2 = c.post("/v1/documents", json={"documents": [{"id": nfc, "text": "The menu changes daily."}]})
        assert r2.status_code == 200 and r2.json()["documents"][0]["status"] == "unchanged"
        assert app.state.store.get(nfd) is None and app.state.store.get(nfc) is not None
        assert c.get(_url(nfd)).json()["id"] == nfc  # either form finds it
        assert c.delete(_url(nfd)).json() == {"id": nfc, "deleted": True, "chunks": 1}
        assert c.get(_url(nfc)).status_code == 404


def test_ids_stored_by_an_older_version_stay_reachable(tmp_path: Path) -> None:
    """A journal written before ids were checked may hold a newline: GET and DELETE still reach it."""
    from groundqa.serve import ServeSettings
    from groundqa.serve.app import create_app

    legacy = ["old\nline", "trailing\n", unicodedata.normalize("NFD", "café")]
    state = tmp_path / "index.serve"
    state.mkdir()
    from groundqa.serve.store import content_hash

    (state / "journal.jsonl").write_text("".join(json.dumps({"op": "put", "id": i, "text": f"Legacy {n}.", "sha256": content_hash(f"Legacy {n}."), "chunk_ids": [], "created": 0.0}) + "\n" for n, i in enumerate(legacy)))
    (state / "index.json").write_text(json.dumps({"format": 1, "prebuilt_documents": 0}))
    settings = ServeSettings(index_dir=tmp_path / "index", embedder="hash")
    with serving(create_app(pipeline_factory=fake_factory, settings=settings)) as url, httpx.Client(base_url=url) as c:
        for n, doc_id in enumerate(legacy):
            got = c.get(_url(doc_id))
            assert got.status_code == 200 and got.json()["id"] == doc_id and got.json()["text"] == f"Legacy {n}.", (doc_id, got.text)
        assert c.get(_url("trailing")).status_code == 404  # not the document 'trailing\n'
        for doc_id in legacy:
            assert c.delete(_url(doc_id)).status_code == 200
        assert c.get("/v1/health").json()["index"]["documents"] == 0


# -- 7. every limit the schema states is the server's --------------------------------------------
_BASES = {
    "AskRequest": {"question": "How do I reset my password?", "top_k": 3, "policy": "flag", "conversation": [{"role": "user", "content": "I forgot my password."}]},
    "IngestRequest": {"documents": [{"id": "limits/doc", "text": "A document for the limit walk.", "source": "kb/limits.md"}]},
    "ChatCompletionRequest": {"model": "groundqa", "messages": [{"role": "user", "content": "How do I reset my password?"}], "n": 1, "temperature": 0,
                              "top_p": 1, "max_tokens": 16, "max_completion_tokens": 16, "groundqa": {"top_k": 3}},
}
# OpenAI's routes answer a bad body with OpenAI's 400 invalid_request_error, the service's own with 422
_REFUSED = {"/v1/chat/completions": 400}
# at its limit the value is valid, but this one must also name something that exists
_ONLY_REFUSAL = {("/v1/chat/completions", ("model",), "minLength")}  # "x" is no model: 404, as it should be
_KINDS = ("maxLength", "minLength", "maximum", "minimum", "maxItems", "minItems")


def _limits(schema: dict, comps: dict, path: tuple = ()) -> Iterator[tuple[tuple, str, int]]:
    if "$ref" in schema:
        schema = comps[schema["$ref"].rsplit("/", 1)[-1]]
    for kind in _KINDS:
        if kind in schema:
            yield path, kind, schema[kind]
    for name, sub in schema.get("properties", {}).items():
        yield from _limits(sub, comps, path + (name,))
    if isinstance(schema.get("items"), dict):
        yield from _limits(schema["items"], comps, path + (0,))
    for sub in schema.get("anyOf", []):
        yield from _limits(sub, comps, path)


def _with(body: dict, path: tuple, kind: str, value: int) -> dict:
    body = copy.deepcopy(body)
    *parents, last = path
    target: Any = body
    for p in parents:
        target = target[p]
    current = target[last]
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the schema writes some integer bounds as 1.0
    if kind in ("maxLength", "minLength"):
        target[last] = "x" * value
    elif kind in ("maxItems", "minItems"):
        target[last] = [copy.deepcopy(current[0]) for _ in range(value)]
    else:
        target[last] = value
    return body


def test_every_limit_the_schema_states_is_enforced(server: tuple[str, Any]) -> None:
    """Walk every maxLength/minLength/maximum/minimum/maxItems/minItems of every JSON request body
    in the served OpenAPI schema: one past the limit is a 422, the limit itself is accepted."""
    url, _ = server
    with httpx.Client(base_url=url, headers=auth(ADMIN_KEY), timeout=120) as c:
        schema = c.get("/openapi.json").json()
        comps = schema["components"]["schemas"]
        checked = []
        for path, ops in schema["paths"].items():
            for method, op in ops.items():
                body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
                if body_schema is None:
                    continue
                name = body_schema["$ref"].rsplit("/", 1)[-1]
                assert name in _BASES, f"{method.upper()} {path} takes {name}: add a valid base body for it to _BASES"
                base = _BASES[name]
                assert c.request(method, path, json=base).status_code in (200, 201)
                for where, kind, limit in _limits(body_schema, comps):
                    past = limit + 1 if kind.startswith("max") else limit - 1
                    r = c.request(method, path, json=_with(base, where, kind, past))
                    assert r.status_code == _REFUSED.get(path, 422), (path, where, kind, limit, r.status_code, r.text[:200])
                    checked.append((path, where, kind))
                    if (path, where, kind) in _ONLY_REFUSAL:
                        continue
                    r = c.request(method, path, json=_with(base, where, kind, limit))
                    assert r.status_code in (200, 201), (path, where, kind, limit, r.status_code, r.text[:200])
        # the case: conversation turns of max_question_chars + 1 characters
        assert ("/v1/ask", ("conversation", 0, "content"), "maxLength") in checked
        assert ("/v1/chat/completions", ("groundqa", "top_k"), "maximum") in checked
        assert len(checked) >= 8


# -- 9. read scope; docs and metrics keyed by default ---------------------------------------------
def test_read_scope_and_what_each_key_may_do(server: tuple[str, Any]) -> None:
    url, _ = server
    with httpx.Client(base_url=url) as c:
        assert c.get("/v1/documents/faq/card", headers=auth(ASK_KEY)).status_code == 403
        assert "lacks the 'read' scope" in c.get("/v1/documents/faq/card", headers=auth(ASK_KEY)).json()["message"]
        assert c.get("/v1/documents/faq/card", headers=auth(INGEST_KEY)).status_code == 200  # ingest implies read
        assert c.get("/v1/documents/faq/card", headers=auth(ADMIN_KEY)).status_code == 200
        for path in ("/metrics", "/openapi.json", "/docs", "/redoc"):
            assert c.get(path).status_code == 401, path
            assert c.get(path, headers=auth(ASK_KEY)).status_code == 200, path
        assert c.get("/v1/health").status_code == 200  # liveness stays public


def test_a_read_only_key_reads_but_cannot_ask_or_write(tmp_path: Path) -> None:
    from groundqa.serve import ApiKey, ServeSettings, hash_key
    from groundqa.serve.app import create_app

    reader, writer = "reader-key-0123456789abcdef", "writer-key-0123456789abcdef"
    keys = (ApiKey("reader", hash_key(reader), ("read",)), ApiKey("writer", hash_key(writer), ("ingest",)))
    settings = ServeSettings(index_dir=tmp_path / "index", embedder="hash", api_keys=keys, public_docs=True, public_metrics=True)
    assert settings.api_keys[1].scopes == ("ingest", "read")
    with serving(create_app(pipeline_factory=fake_factory, settings=settings)) as url, httpx.Client(base_url=url) as c:
        assert c.post("/v1/documents", json={"documents": [{"id": "d", "text": "Text."}]}, headers=auth(writer)).status_code == 201
        assert c.get("/v1/documents/d", headers=auth(reader)).json()["text"] == "Text."
        assert c.post("/v1/ask", json={"question": "Text?"}, headers=auth(reader)).status_code == 403
        assert c.delete("/v1/documents/d", headers=auth(reader)).status_code == 403
        for path in ("/metrics", "/openapi.json", "/docs"):  # public by setting
            assert c.get(path).status_code == 200, path


def test_public_settings_are_checked() -> None:
    from groundqa.serve import ServeSettings

    with pytest.raises(ConfigError, match="public_docs='yes' is not valid; it must be true or false"):
        ServeSettings.from_mapping({"public_docs": "yes"})
    assert ServeSettings.from_mapping({"public_metrics": True}).public_metrics is True


def test_groundqa_serve_refuses_damaged_state_before_loading_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`groundqa serve` checks the journal, the index folder and the audit log first: one message,
    exit code 2, no traceback after minutes of model loading."""
    from groundqa.cli import main

    index_dir, state = tmp_path / "idx", tmp_path / "idx.serve"
    store = _store(index_dir, state)
    store.replay()
    store.ingest(_docs(("a.md", "First document.")))
    store.snapshot()
    store.close()
    journal = state / "journal.jsonl"
    good = journal.read_bytes()
    journal.write_bytes(good + b"[]\n" + good)
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--index", str(index_dir), "--port", "8765"])
    assert exit_.value.code == 2 and f"{journal}: line 2 is valid JSON but not a journal record" in capsys.readouterr().err
    journal.write_bytes(good)
    (state / "audit.sqlite").write_bytes(b"not sqlite" * 500)
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--index", str(index_dir), "--port", "8765"])
    assert exit_.value.code == 2 and f"the audit log {state / 'audit.sqlite'} cannot be opened" in capsys.readouterr().err


def test_groundqa_ask_output_escapes_document_text_and_ids() -> None:
    """`groundqa ask` prints passages and citations: their ids and text are escaped, while its own
    colours (``color=True``) stay."""
    from groundqa.cli.ask import render_answer
    from groundqa.documents import Chunker
    from groundqa.index import HybridIndex
    from groundqa.pipeline import Pipeline
    from groundqa.testing import ExtractiveGenerator, KeywordGuard
    from groundqa.types import Document

    idx = HybridIndex("hash")
    doc = Document("evil\x1b]0;pwned\x07.md", "Oxygen was discovered by \x1b[2J\x1b[31mJoseph Priestley\r in 1774.")
    idx.add([c for g in Chunker(idx.embedder).chunk_many([doc]) for c in g])
    a = Pipeline(idx, ExtractiveGenerator(), KeywordGuard(), policy="flag").ask("Who discovered oxygen?")
    shown = render_answer(a)
    assert "\x1b" not in shown and "\r" not in shown and "\x07" not in shown
    assert "evil\\x1b]0;pwned\\x07.md" in shown and "\\x1b[31mJoseph Priestley" in shown
    assert "\x1b[32m" in render_answer(a, color=True) or "\x1b[31m" in render_answer(a, color=True)
