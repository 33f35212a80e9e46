"""Bad-request sweep against the real ``groundqa serve``: over 100 malformed, oversized, hostile
or unauthorised requests, each must get a 4xx with a JSON error body (never a 5xx or a dropped
connection) in under 2 s, and the service must answer /v1/health right after each. The OpenAI
routes (``/v1/chat/completions``, ``/v1/models``, issue 27) are swept too; their errors are
OpenAI's error object (``{"error": {"message", ...}}``).

Then an id sweep (issue 25): documents under ordinary and hostile ids (newlines, NUL, zero-width
and direction characters, terminal escapes, NFD forms, dot segments, URL and query syntax). Every
id must be either refused with a 422 that lists the allowed characters, or accepted and then
readable (GET, by the stored id and by the id as sent) and deletable (DELETE, then GET 404):
0 unreachable ids. Look-alike twins (NFC/NFD) must be one document, and the pair whose chunk ids
used to collide through NUL must not lose a chunk.

The server is the real command (``python -m groundqa serve``, default models) over a copy of an
index, with API keys and ``body_timeout_s = 1.5`` from a config file; one ordinary document is
ingested before the timed cases (the first ingest loads the sentence splitter). Build the index
first:

    groundqa index build src/groundqa/data/sample/articles --out /tmp/sample-index
    python benchmarks/stress/bad_requests.py --index /tmp/sample-index --out benchmarks/results/stress/bad_requests.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import quote

ADMIN, ASKER = "admin-key-0123456789abcdef", "ask-only-key-0123456789ab"
ASK, DOCS, CHAT, MODELS = "/v1/ask", "/v1/documents", "/v1/chat/completions", "/v1/models"
J = {"Content-Type": "application/json"}


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    return b"[" * depth + leaf + b"]" * depth


def cases() -> list[tuple[str, str, str, dict, set[int]]]:
    """(name, method, path, httpx kwargs, acceptable statuses); the admin key unless headers say."""
    c: list[tuple[str, str, str, dict, set[int]]] = []

    def add(name: str, method: str, path: str, kw: dict, ok: set[int] | int) -> None:
        c.append((name, method, path, kw, {ok} if isinstance(ok, int) else ok))

    q = "What did the Apollo program achieve?"
    # auth
    add("no key", "POST", ASK, {"json": {"question": q}, "headers": {"Authorization": ""}}, 401)
    add("unknown key", "POST", ASK, {"json": {"question": q}, "headers": {"Authorization": "Bearer not-a-key-000000000000"}}, 401)
    add("malformed auth header", "POST", ASK, {"json": {"question": q}, "headers": {"Authorization": "Basic abc"}}, 401)
    add("ask key ingests", "POST", DOCS, {"json": {"documents": [{"text": "x y z"}]}, "headers": {"Authorization": f"Bearer {ASKER}"}}, 403)
    add("ask key deletes", "DELETE", f"{DOCS}/apollo_program.md", {"headers": {"Authorization": f"Bearer {ASKER}"}}, 403)
    # issue 25: reading documents needs the read scope; docs and metrics need a key once keys are set
    add("ask key reads a whole document", "GET", f"{DOCS}/apollo_program.md", {"headers": {"Authorization": f"Bearer {ASKER}"}}, 403)
    for route in ("/metrics", "/openapi.json", "/docs", "/redoc"):
        add(f"{route} without a key", "GET", route, {"headers": {"Authorization": ""}}, 401)
    # ask: fields
    for name, body in [
        ("empty question", {"question": ""}), ("blank question", {"question": " \n\t "}), ("question 1001 chars", {"question": "why " * 251}),
        ("question 5000 chars", {"question": "x" * 5000}), ("question int", {"question": 42}), ("question list", {"question": [q]}),
        ("question object", {"question": {"text": q}}), ("question null", {"question": None}), ("question bool", {"question": True}),
        ("top_k string", {"question": q, "top_k": "5"}), ("top_k zero", {"question": q, "top_k": 0}), ("top_k negative", {"question": q, "top_k": -1}),
        ("top_k over max_top_k", {"question": q, "top_k": 21}), ("top_k float", {"question": q, "top_k": 1.5}), ("top_k bool", {"question": q, "top_k": True}),
        ("top_k 10^30", {"question": q, "top_k": 10**30}), ("bad policy", {"question": q, "policy": "yolo"}), ("policy int", {"question": q, "policy": 1}),
        ("unknown field", {"question": q, "temperature": 2}), ("missing question", {"top_k": 3}),
        ("conversation bad role", {"question": q, "conversation": [{"role": "bot", "content": "hi"}]}), ("conversation not a list", {"question": q, "conversation": "hi"}),
        ("conversation 21 turns", {"question": q, "conversation": [{"role": "user", "content": "hi"}] * 21}), ("conversation content int", {"question": q, "conversation": [{"role": "user", "content": 1}]}),
        ("filter $regex", {"question": q, "filters": {"title": {"$regex": "a"}}}), ("filter $in not a list", {"question": q, "filters": {"n": {"$in": 3}}}),
        ("filter $in [[1]]", {"question": q, "filters": {"n": {"$in": [[1]]}}}), ("filter $in [{}]", {"question": q, "filters": {"n": {"$in": [{}]}}}),
        ("filter list with a dict", {"question": q, "filters": {"n": [{"a": 1}]}}), ("filter $gt string", {"question": q, "filters": {"n": {"$gt": "5"}}}),
        ("filter $gte bool", {"question": q, "filters": {"n": {"$gte": True}}}), ("filters a list", {"question": q, "filters": ["a"]}),
        ("filter two bad ops", {"question": q, "filters": {"n": {"$foo": 1, "$bar": 2}}}), ("filter key 10k chars", {"question": q, "filters": {"k" * 10_000: {"$nope": 1}}}),
        # issue 25: every limit the schema states (max_question_chars for the question and each turn)
        ("conversation turn 1001 chars", {"question": q, "conversation": [{"role": "user", "content": "x" * 1001}]}),
        ("conversation turn 4000 chars", {"question": q, "conversation": [{"role": "assistant", "content": "y" * 4000}]}),
        ("question 1000 chars and a space", {"question": "x" * 1000 + " "}),
    ]:
        add(name, "POST", ASK, {"json": body}, {400, 422})
    add("filter $gt 10^400", "POST", ASK, {"content": b'{"question": "x?", "filters": {"n": {"$gt": 1' + b"0" * 400 + b"}}}", "headers": J}, 400)
    # ask: raw bodies
    for name, raw in [
        ("invalid JSON", b'{"question": "x",'), ("truncated JSON", b'{"question": "x'), ("JSON array", b'["x"]'), ("JSON string", b'"x"'), ("JSON number", b"3"),
        ("JSON null", b"null"), ("empty body", b""), ("invalid UTF-8", b'{"question": "\xff\xfe"}'), ("NaN question", b'{"question": NaN}'),
        ("int of 5000 digits", b'{"question": "x", "top_k": ' + b"9" * 5000 + b"}"), ("int of 100k digits", b'{"question": "x", "top_k": ' + b"9" * 100_000 + b"}"),
        ("nested 1k deep", nested(1000)), ("nested 100k deep", nested(100_000)), ("nested 900k deep", nested(900_000)),
        ("filters nested 100k deep", b'{"question": "x", "filters": {"a": ' + nested(100_000) + b"}}"),
        ("objects nested 50k deep", b'{"a": ' * 50_000 + b"1" + b"}" * 50_000), ("duplicate keys", b'{"question": "x", "question": 5}'),
    ]:
        add(f"ask {name}", "POST", ASK, {"content": raw, "headers": J}, {400, 422})
    add("ask form body", "POST", ASK, {"data": {"question": q}}, {400, 422})
    add("ask text/plain", "POST", ASK, {"content": q.encode(), "headers": {"Content-Type": "text/plain"}}, {400, 422})
    # documents: JSON
    for name, body in [
        ("no documents", {"documents": []}), ("documents not a list", {"documents": {"text": "x"}}), ("document without text", {"documents": [{"id": "x"}]}),
        ("blank text", {"documents": [{"id": "x", "text": "   "}]}), ("text int", {"documents": [{"text": 5}]}), ("empty id", {"documents": [{"id": "", "text": "hello there"}]}),
        ("blank id", {"documents": [{"id": "   ", "text": "hello there"}]}), ("id 513 chars", {"documents": [{"id": "i" * 513, "text": "hello there"}]}),
        ("id int", {"documents": [{"id": 5, "text": "hello there"}]}), ("metadata nested", {"documents": [{"text": "hello there", "metadata": {"a": {"b": 1}}}]}),
        ("metadata a list", {"documents": [{"text": "hello there", "metadata": [1]}]}), ("metadata list value", {"documents": [{"text": "hello there", "metadata": {"a": [1]}}]}),
        ("unknown document field", {"documents": [{"text": "hello there", "lang": "en"}]}), ("source 3000 chars", {"documents": [{"text": "hello there", "source": "s" * 3000}]}),
        ("101 documents", {"documents": [{"text": f"document {i}"} for i in range(101)]}), ("documents null", {"documents": None}),
    ] + [(f"id {name}", {"documents": [{"id": i, "text": "hello there"}]}) for name, i in REFUSED_IDS]:
        add(name, "POST", DOCS, {"json": body}, {400, 413, 422})
    for name, raw in [
        ("invalid JSON", b"{nope"), ("JSON array", b"[]"), ("empty body", b""), ("invalid UTF-8", b"\xff\xfe\xfd"),
        ("metadata int of 5000 digits", b'{"documents": [{"text": "hello there", "metadata": {"n": ' + b"9" * 5000 + b"}}]}"),
        ("metadata nested 100k deep", b'{"documents": [{"text": "hi there", "metadata": {"a": ' + nested(100_000) + b"}}]}"),
        ("metadata nested 500 deep", b'{"documents": [{"text": "hi there", "metadata": {"a": ' + nested(500) + b"}}]}"),
        ("body nested 900k deep", nested(900_000)), ("body 3 MB", b'{"documents": [{"text": "' + b"a " * 1_500_000 + b'"}]}'),
    ]:
        add(f"documents {name}", "POST", DOCS, {"content": raw, "headers": J}, {400, 413, 422})

    def chunks():
        for _ in range(300):
            yield b"x" * 10_000

    add("documents chunked body over the limit", "POST", DOCS, {"content": chunks(), "headers": J}, 413)
    add("documents wrong content type", "POST", DOCS, {"content": b"hello", "headers": {"Content-Type": "text/plain"}}, 415)
    add("documents multipart without boundary", "POST", DOCS, {"content": b"--x\r\n", "headers": {"Content-Type": "multipart/form-data"}}, {400, 422})
    add("documents multipart garbage", "POST", DOCS, {"content": b"garbage", "headers": {"Content-Type": "multipart/form-data; boundary=zz"}}, {400, 422})
    # uploads
    T = "text/plain"
    for name, files in [
        ("no files field", [("other", ("a.txt", b"hello", T))]), ("only binary", [("files", ("a.bin", b"\x00\x01\x02", "application/octet-stream"))]),
        ("named ..", [("files", ("..", b"hello there", T))]), ("named .", [("files", (".", b"hello there", T))]), ("named a/..", [("files", ("a/..", b"hello there", T))]),
        ("named ../../etc/passwd", [("files", ("../../etc/passwd", b"root:x:0:0", T))]), ("name 300 chars", [("files", ("n" * 296 + ".txt", b"hello there", T))]),
        ("name 256 UTF-8 bytes", [("files", ("é" * 126 + ".txt", b"hello there", T))]), ("hidden name", [("files", (".env", b"SECRET=1", T))]),
        ("two files one name", [("files", ("a.txt", b"one", T)), ("files", ("a.txt", b"two", T))]), ("jsonl nested 100k deep", [("files", ("deep.jsonl", nested(100_000) + b"\n", "application/x-ndjson"))]),
        ("jsonl int of 5000 digits", [("files", ("n.jsonl", b'{"text": "x", "n": ' + b"9" * 5000 + b"}\n", "application/x-ndjson"))]),
        ("empty file", [("files", ("empty.txt", b"", T))]), ("unknown extension", [("files", ("a.exe", b"MZ hello", T))]), ("undecodable", [("files", ("a.txt", b"\x80\x81\x82 abc \xc3\x28" * 10, T))]),
        ("csv without text column", [("files", ("a.csv", b"title,n\nx,1\n", "text/csv"))]), ("html without visible text", [("files", ("a.html", b"<script>x()</script>", "text/html"))]),
        ("101 files", [("files", (f"f{i}.txt", b"hi", T)) for i in range(101)]),
        ("name with a zero-width space", [("files", ("refunds\u200b.md", b"hello there", T))]), ("name with a direction override", [("files", ("evil\u202etxt.md", b"hello there", T))]),
        ("name with an escape", [("files", ("x\x1b[31m.txt", b"hello there", T))]),
    ]:
        add(f"upload {name}", "POST", DOCS, {"files": files}, {400, 413, 422})
    # the OpenAI route
    u = {"role": "user", "content": q}
    add("chat no key", "POST", CHAT, {"json": {"model": "groundqa", "messages": [u]}, "headers": {"Authorization": ""}}, 401)
    add("chat unknown key", "POST", CHAT, {"json": {"model": "groundqa", "messages": [u]}, "headers": {"Authorization": "Bearer not-a-key-000000000000"}}, 401)
    add("chat malformed auth header", "POST", CHAT, {"json": {"model": "groundqa", "messages": [u]}, "headers": {"Authorization": "Basic abc"}}, 401)
    add("models no key", "GET", MODELS, {"headers": {"Authorization": ""}}, 401)
    add("chat unknown model", "POST", CHAT, {"json": {"model": "gpt-4o", "messages": [u]}}, 404)
    add("model id unknown", "GET", f"{MODELS}/gpt-4o", {}, 404)
    for name, body in [
        ("missing model", {"messages": [u]}), ("model int", {"model": 5, "messages": [u]}), ("model empty", {"model": "", "messages": [u]}),
        ("missing messages", {"model": "groundqa"}), ("messages empty", {"model": "groundqa", "messages": []}), ("messages a string", {"model": "groundqa", "messages": q}),
        ("message without role", {"model": "groundqa", "messages": [{"content": q}]}), ("message role bot", {"model": "groundqa", "messages": [{"role": "bot", "content": q}]}),
        ("content int", {"model": "groundqa", "messages": [{"role": "user", "content": 5}]}), ("content null", {"model": "groundqa", "messages": [{"role": "user", "content": None}]}),
        ("content blank", {"model": "groundqa", "messages": [{"role": "user", "content": " \n "}]}),
        ("content image part", {"model": "groundqa", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/a.png"}}]}]}),
        ("content part without type", {"model": "groundqa", "messages": [{"role": "user", "content": [{"text": q}]}]}),
        ("last message assistant", {"model": "groundqa", "messages": [u, {"role": "assistant", "content": "ok"}]}),
        ("only a system message", {"model": "groundqa", "messages": [{"role": "system", "content": "be nice"}]}),
        ("question 1001 chars", {"model": "groundqa", "messages": [{"role": "user", "content": "why " * 251}]}),
        ("question 5000 chars", {"model": "groundqa", "messages": [{"role": "user", "content": "x" * 5000}]}),
        ("101 messages", {"model": "groundqa", "messages": [u] * 101}),
        ("n 2", {"model": "groundqa", "messages": [u], "n": 2}), ("n 0", {"model": "groundqa", "messages": [u], "n": 0}), ("n 10^30", {"model": "groundqa", "messages": [u], "n": 10**30}),
        ("tools", {"model": "groundqa", "messages": [u], "tools": [{"type": "function", "function": {"name": "f"}}]}),
        ("response_format json", {"model": "groundqa", "messages": [u], "response_format": {"type": "json_object"}}),
        ("temperature 5", {"model": "groundqa", "messages": [u], "temperature": 5}), ("temperature string", {"model": "groundqa", "messages": [u], "temperature": "hot"}),
        ("max_tokens 0", {"model": "groundqa", "messages": [u], "max_tokens": 0}), ("stop int", {"model": "groundqa", "messages": [u], "stop": 5}),
        ("stream string", {"model": "groundqa", "messages": [u], "stream": "yes please"}), ("stream_options a list", {"model": "groundqa", "messages": [u], "stream": True, "stream_options": [1]}),
        ("groundqa top_k 21", {"model": "groundqa", "messages": [u], "groundqa": {"top_k": 21}}), ("groundqa top_k string", {"model": "groundqa", "messages": [u], "groundqa": {"top_k": "5"}}),
        ("groundqa unknown option", {"model": "groundqa", "messages": [u], "groundqa": {"rerank": True}}), ("groundqa not an object", {"model": "groundqa", "messages": [u], "groundqa": 1}),
        ("groundqa filter $regex", {"model": "groundqa", "messages": [u], "groundqa": {"filters": {"title": {"$regex": "a"}}}}),
        ("groundqa filter $in not a list", {"model": "groundqa", "messages": [u], "groundqa": {"filters": {"n": {"$in": 3}}}}),
    ]:
        add(f"chat {name}", "POST", CHAT, {"json": body}, {400, 404})
    for name, raw in [
        ("invalid JSON", b'{"model": "groundqa",'), ("JSON array", b'[{"role": "user"}]'), ("JSON null", b"null"), ("empty body", b""),
        ("invalid UTF-8", b'{"model": "groundqa", "messages": [{"role": "user", "content": "\xff\xfe"}]}'), ("NaN temperature", b'{"model": "groundqa", "messages": [], "temperature": NaN}'),
        ("n of 5000 digits", b'{"model": "groundqa", "messages": [], "n": ' + b"9" * 5000 + b"}"), ("nested 100k deep", nested(100_000)),
        ("messages nested 100k deep", b'{"model": "groundqa", "messages": ' + nested(100_000) + b"}"),
    ]:
        add(f"chat {name}", "POST", CHAT, {"content": raw, "headers": J}, {400, 413, 422})
    add("chat form body", "POST", CHAT, {"data": {"model": "groundqa"}}, 400)
    add("chat text/plain", "POST", CHAT, {"content": q.encode(), "headers": {"Content-Type": "text/plain"}}, 400)
    add("chat body 3 MB", "POST", CHAT, {"content": b'{"model": "groundqa", "messages": [{"role": "user", "content": "' + b"a " * 1_500_000 + b'"}]}', "headers": J}, 413)
    # paths and methods
    for name, method, path, ok in [
        ("GET chat", "GET", CHAT, 405), ("PUT models", "PUT", MODELS, 405), ("DELETE chat", "DELETE", CHAT, 405),
        ("unknown document", "GET", f"{DOCS}/nope/never", 404), ("delete unknown document", "DELETE", f"{DOCS}/never-was", 404),
        ("document id 10k chars", "GET", f"{DOCS}/" + "d" * 10_000, {404, 414, 431}), ("document id with %00", "GET", f"{DOCS}/a%00b", 404),
        ("document id with %0A", "GET", f"{DOCS}/never%0Awas", 404), ("delete document id with %0D", "DELETE", f"{DOCS}/never%0Dwas", 404),
        ("unknown route", "GET", "/v1/nothing", 404), ("GET ask", "GET", ASK, 405), ("PUT ask", "PUT", ASK, 405), ("PATCH documents", "PATCH", DOCS, 405),
    ]:
        add(name, method, path, {}, ok)
    return c


# ids the service must refuse with a 422 that lists the allowed characters (issue 25)
REFUSED_IDS = [
    ("with a newline", "a\nb"), ("ending in a newline", "refunds.md\n"), ("with a carriage return", "a\rb"), ("with NUL", "col\x00Warranty"),
    ("with a tab", "a\tb"), ("with an ANSI escape", "x\x1b[31mred"), ("with a zero-width space", "refunds\u200b.md"), ("with a zero-width joiner", "re\u200dfunds.md"),
    ("with a BOM", "\ufeffrefunds.md"), ("with a direction override", "evil\u202etxt.md"), ("with a line separator", "a\u2028b"), ("with a soft hyphen", "re\u00adfunds.md"),
    ("with a leading space", " refunds.md"), ("with a trailing space", "refunds.md "), ("'..'", ".."), ("with a '.' segment", "a/./b"), ("with a '..' segment", "a/../b"),
    ("with DEL", "a\x7fb"), ("with a C1 control", "a\x85b"),
]
# ids the service must accept, and then serve and delete by the stored id and by the id as sent
ACCEPTED_IDS = [
    "plain.md", "a/b/c.md", "with space.md", "100% ?&#=+;.md", "ümlaut/日本.txt", "...", "a/..b/.c", "%2F", "%0A", "/lead/slash", "a//b", "trailing/",
    "quote\"'`", "back\\slash", "nbsp\u00a0x", "🙂", "x" * 512, unicodedata.normalize("NFD", "café/menü.md"), "<script>alert(1)</script>",
    "' OR 1=1 --", 'doc_id == "x" || true', "{}", "a;b", "~user", "CON", "Ω≈ç√", ".env", "sha256:0000",
]


def id_sweep(c: Any) -> dict[str, Any]:
    """Every id refused with the allowed characters, or readable and deletable (issue 25)."""
    rows = []
    for kind, doc_id in [("refused", i) for _, i in REFUSED_IDS] + [("accepted", i) for i in ACCEPTED_IDS]:
        text = f"Document under the id number {len(rows)}."
        r = c.post(DOCS, json={"documents": [{"id": doc_id, "text": text}]})
        row: dict[str, Any] = {"id": doc_id, "expected": kind, "post": r.status_code, "problems": []}
        if r.status_code in (200, 201):
            stored = r.json()["documents"][0]["id"]
            row["stored"] = stored
            if stored != unicodedata.normalize("NFC", doc_id):
                row["problems"].append(f"stored as {stored!r}")
            for name, asked in (("get stored", stored), ("get as sent", doc_id)):
                g = c.get(f"{DOCS}/{quote(asked, safe='')}")
                row[name] = g.status_code
                if g.status_code != 200 or g.json().get("text") != text:
                    row["problems"].append(f"{name}: {g.status_code}")
            d = c.delete(f"{DOCS}/{quote(stored, safe='')}")
            row["delete"] = d.status_code
            if d.status_code != 200:
                row["problems"].append(f"delete: {d.status_code}")
            gone = c.get(f"{DOCS}/{quote(stored, safe='')}").status_code
            if gone != 404:
                row["problems"].append(f"get after delete: {gone}")
        else:
            msg = r.json().get("message", "") if r.headers.get("content-type", "").startswith("application/json") else r.text
            row["message"] = msg[:200]
            if r.status_code != 422 or "ids may hold" not in msg:
                row["problems"].append("refused without saying which characters are allowed")
        rows.append(row)
    # look-alike twins are one document
    nfc, nfd = "twins/café.md", unicodedata.normalize("NFD", "twins/café.md")
    a = c.post(DOCS, json={"documents": [{"id": nfd, "text": "The menu changes daily."}]}).json()["documents"][0]
    b = c.post(DOCS, json={"documents": [{"id": nfc, "text": "The menu changes daily."}]}).json()["documents"][0]
    twins = int(not (a["id"] == b["id"] == nfc and b["status"] == "unchanged"))
    c.delete(f"{DOCS}/{quote(nfc, safe='')}")
    # the pair whose chunk ids collided through NUL: the first is refused, the second keeps its chunk
    first = c.post(DOCS, json={"documents": [{"id": "col\x00Warranty", "text": "T"}]}).status_code
    second = c.post(DOCS, json={"documents": [{"id": "col", "text": "Warranty\x00T"}]})
    held = c.get(f"{DOCS}/col").json().get("chunks") if second.status_code in (200, 201) else None
    nul_ok = first == 422 and second.status_code in (200, 201) and second.json()["documents"][0]["chunks"] == held == 1
    c.delete(f"{DOCS}/col")
    accepted = [r for r in rows if r["post"] in (200, 201)]
    return {
        "ids": len(rows),
        "accepted": len(accepted),
        "refused": len(rows) - len(accepted),
        "accepted_as_expected": sum(r["expected"] == "accepted" for r in accepted),
        "refused_as_expected": sum(r["expected"] == "refused" and r["post"] == 422 for r in rows),
        "unreachable": sum(bool(r["problems"]) for r in accepted),
        "refused_without_allowed_characters": sum(bool(r["problems"]) for r in rows if r["post"] not in (200, 201)),
        "status_5xx": sum(r["post"] >= 500 for r in rows),
        "lookalike_twins_stored_twice": twins,
        "nul_collision_pair_ok": nul_ok,
        "rows": rows,
    }


def hash_key_check() -> dict[str, Any]:
    """``groundqa serve --hash-key`` with a non-ASCII key: refused (exit 2) with the reason."""
    p = subprocess.run([sys.executable, "-m", "groundqa", "serve", "--hash-key", "clé-secrète-0123456789"], capture_output=True, text=True, timeout=120)
    return {"exit_code": p.returncode, "refused": p.returncode == 2 and "printable ASCII" in p.stderr, "message": p.stderr.strip()[-300:]}


def hostile_but_valid() -> list[tuple[str, str, str, dict, set[int]]]:
    """Inputs that froze or crashed the service before, but are documents: ingested in < 2 s."""
    md = b"# a" + b" " * 3000 + b"b\n\nThe padded heading used to take 66 s to load.\n"
    return [
        ("upload Markdown title padded with 3,000 spaces", "POST", DOCS, {"files": [("files", ("padded.md", md, "text/markdown"))]}, {200, 201}),
        ("upload jsonl with one deep and one good line", "POST", DOCS, {"files": [("files", ("mixed.jsonl", nested(100_000) + b'\n{"id": "mixed-ok", "text": "A flat record."}\n', "application/x-ndjson"))]}, {200, 201}),
        ("upload jsonl with a newline id and a good one (the first skipped, with the reason)", "POST", DOCS, {"files": [("files", ("ids.jsonl", b'{"id": "bad\\nid", "text": "x y"}\n{"id": "ids-ok", "text": "A flat record."}\n', "application/x-ndjson"))]}, {200, 201}),
    ]


def slow_body(url: str) -> tuple[int, float]:
    """Send headers and part of the body, then stall; the answer must be a 408."""
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(f"POST {DOCS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nAuthorization: Bearer {ADMIN}\r\n\r\n".encode() + b'{"documents": [')
        t0 = time.perf_counter()
        data = b""
        while b"\r\n\r\n" not in data:
            part = s.recv(65536)
            if not part:
                break
            data += part
        return int(data.split(b" ", 2)[1]) if data else 0, time.perf_counter() - t0


def main() -> None:
    import httpx

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", required=True, help="an index folder (copied; the copy is served)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--limit-s", type=float, default=2.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="groundqa-badreq-"))
    shutil.copytree(args.index, tmp / "index")
    cfg = tmp / "serve.toml"
    cfg.write_text(
        "[serve]\nbody_timeout_s = 1.5\nmax_top_k = 20\n"
        + "".join(f'[[serve.api_keys]]\nname = "{n}"\nsha256 = "{hashlib.sha256(k.encode()).hexdigest()}"\nscopes = {s}\n' for n, k, s in (("admin", ADMIN, '["ask", "ingest"]'), ("asker", ASKER, '["ask"]')))
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "groundqa", "serve", "--index", str(tmp / "index"), "--port", str(port), "--config", str(cfg), "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT)
    t0 = time.perf_counter()
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"groundqa serve exited: {(tmp / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/v1/health", timeout=2).json()["status"] == "ok":
                    break
            except (httpx.HTTPError, ValueError):
                time.sleep(0.5)
        startup = time.perf_counter() - t0
        # one ordinary ingest first (not timed): the first one loads the sentence splitter
        warm = httpx.post(f"{url}{DOCS}", json={"documents": [{"id": "warm-up", "text": "An ordinary document."}]}, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=600)
        warm.raise_for_status()
        rows = []
        with httpx.Client(base_url=url, timeout=60) as c:
            for kind, group in (("bad", cases()), ("hostile-valid", hostile_but_valid())):
                for name, method, path, kw, ok in group:
                    kw = dict(kw)
                    headers = {"Authorization": f"Bearer {ADMIN}", **kw.pop("headers", {})}
                    headers = {k: v for k, v in headers.items() if v}
                    t = time.perf_counter()
                    try:
                        r = c.request(method, path, headers=headers, **kw)
                        status, body = r.status_code, r.text
                    except httpx.HTTPError as exc:
                        status, body = 0, f"{type(exc).__name__}: {exc}"
                    secs = time.perf_counter() - t
                    json_error = True
                    if status >= 400:
                        try:
                            e = json.loads(body)
                            err = e.get("error")  # the service's {"error", "message"} or OpenAI's {"error": {"message", ...}}
                            json_error = bool(err) and bool(e.get("message") or (isinstance(err, dict) and err.get("message")))
                        except ValueError:
                            json_error = False
                    th = time.perf_counter()
                    health = httpx.get(f"{url}/v1/health", timeout=10).status_code
                    rows.append({"kind": kind, "name": name, "path": path[:80], "status": status, "expected": sorted(ok), "seconds": round(secs, 3), "json_error": json_error, "health_after": health, "health_s": round(time.perf_counter() - th, 3), "message": body[:160]})
        with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {ADMIN}"}) as c:
            ids = id_sweep(c)
        code, secs = slow_body(url)
        rows.append({"kind": "bad", "name": "body stalled after 15 bytes (body_timeout_s 1.5)", "path": DOCS, "status": code, "expected": [408], "seconds": round(secs, 3), "json_error": True, "health_after": httpx.get(f"{url}/v1/health", timeout=10).status_code, "health_s": 0.0, "message": ""})
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    bad = [r for r in rows if r["kind"] == "bad"]
    out = {
        "cases": len(rows),
        "bad_requests": len(bad),
        "hostile_but_valid": len(rows) - len(bad),
        "status_5xx": sum(r["status"] >= 500 for r in rows),
        "openai_route_cases": sum(r["path"] in (CHAT, MODELS) or r["path"].startswith(MODELS + "/") for r in rows),
        "openai_route_5xx": sum(r["status"] >= 500 for r in rows if r["path"] in (CHAT, MODELS) or r["path"].startswith(MODELS + "/")),
        "dropped_connections": sum(r["status"] == 0 for r in rows),
        "unexpected_status": sum(r["status"] not in r["expected"] for r in rows),
        "non_json_errors": sum(not r["json_error"] for r in rows),
        "slower_than_limit": sum(r["seconds"] > args.limit_s for r in rows),
        "max_seconds": max(r["seconds"] for r in rows),
        "health_failures_after": sum(r["health_after"] != 200 for r in rows),
        "max_health_seconds": max(r["health_s"] for r in rows),
        "statuses": {str(s): sum(r["status"] == s for r in rows) for s in sorted({r["status"] for r in rows})},
        "id_sweep": {k: v for k, v in ids.items() if k != "rows"},
        "hash_key_non_ascii": hash_key_check(),
        "server_startup_s": round(startup, 1),
        "config": {
            "server": "python -m groundqa serve (default pipeline: real embedder, generator and guard) over a copy of --index; API keys and body_timeout_s = 1.5 from a config file",
            "index": args.index,
            "limit_s": args.limit_s,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), {platform.python_version()}",
            "command": "python " + " ".join(sys.argv),
        },
        "rows": rows,
        "id_rows": ids["rows"],
    }
    print(f"{'case':60s} {'status':>6s} {'s':>6s}")
    for r in rows:
        print(f"{r['name'][:60]:60s} {r['status']:>6d} {r['seconds']:>6.2f}")
    summary = {k: v for k, v in out.items() if k not in ("rows", "id_rows")}
    print(json.dumps(summary, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    ok = not (out["status_5xx"] or out["dropped_connections"] or out["unexpected_status"] or out["slower_than_limit"] or out["non_json_errors"] or out["health_failures_after"])
    sweep = out["id_sweep"]
    ok = ok and not (sweep["unreachable"] or sweep["refused_without_allowed_characters"] or sweep["status_5xx"] or sweep["lookalike_twins_stored_twice"])
    ok = ok and sweep["nul_collision_pair_ok"] and sweep["accepted_as_expected"] == len(ACCEPTED_IDS) and sweep["refused_as_expected"] == len(REFUSED_IDS) and out["hash_key_non_ascii"]["refused"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
