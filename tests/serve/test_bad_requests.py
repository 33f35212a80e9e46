"""Every bad request gets its 4xx and a JSON message naming the problem; never a 5xx."""

from __future__ import annotations

import httpx
import pytest

from .conftest import ADMIN_KEY, auth

ASK = "/v1/ask"
DOCS = "/v1/documents"

CASES = [
    # (name, method, path, kwargs, status, error code, words in the message)
    ("empty question", "POST", ASK, {"json": {"question": ""}}, 422, "validation_error", "question"),
    ("blank question", "POST", ASK, {"json": {"question": "   \n "}}, 422, "validation_error", "question"),
    ("huge question", "POST", ASK, {"json": {"question": "why " * 200}}, 422, "validation_error", "max_question_chars"),
    ("question over schema max", "POST", ASK, {"json": {"question": "x" * 5000}}, 422, "validation_error", "question"),
    ("question not a string", "POST", ASK, {"json": {"question": 42}}, 422, "validation_error", "question"),
    ("top_k a string", "POST", ASK, {"json": {"question": "reset password?", "top_k": "5"}}, 422, "validation_error", "top_k"),
    ("top_k zero", "POST", ASK, {"json": {"question": "reset password?", "top_k": 0}}, 422, "validation_error", "top_k"),
    ("top_k over limit", "POST", ASK, {"json": {"question": "reset password?", "top_k": 11}}, 422, "validation_error", "max_top_k"),
    ("bad policy", "POST", ASK, {"json": {"question": "reset password?", "policy": "yolo"}}, 422, "validation_error", "policy"),
    ("unknown field", "POST", ASK, {"json": {"question": "reset password?", "temperature": 2}}, 422, "validation_error", "temperature: unknown field"),
    ("missing question", "POST", ASK, {"json": {"top_k": 3}}, 422, "validation_error", "question"),
    ("bad conversation role", "POST", ASK, {"json": {"question": "and then?", "conversation": [{"role": "bot", "content": "hi"}]}}, 422, "validation_error", "conversation"),
    ("bad filter operator", "POST", ASK, {"json": {"question": "reset password?", "filters": {"topic": {"$regex": "a"}}}}, 400, "bad_request", "filter"),
    ("invalid JSON", "POST", ASK, {"content": b'{"question": "x",', "headers": {"Content-Type": "application/json"}}, 400, "invalid_json", "JSON"),
    ("JSON array body", "POST", ASK, {"json": ["reset password?"]}, 400, "invalid_json", "JSON object"),
    ("form body", "POST", ASK, {"data": {"question": "reset password?"}}, 400, "invalid_json", "JSON"),
    ("body too large", "POST", DOCS, {"json": {"documents": [{"text": "a " * 150_000}]}}, 413, "too_large", "max_body_bytes"),
    ("no documents", "POST", DOCS, {"json": {"documents": []}}, 422, "validation_error", "documents"),
    ("document without text", "POST", DOCS, {"json": {"documents": [{"id": "x"}]}}, 422, "validation_error", "text"),
    ("blank document", "POST", DOCS, {"json": {"documents": [{"id": "x", "text": "  "}]}}, 422, "validation_error", "whitespace"),
    ("nested metadata", "POST", DOCS, {"json": {"documents": [{"text": "hello there", "metadata": {"a": {"b": 1}}}]}}, 422, "validation_error", "metadata"),
    ("unknown document field", "POST", DOCS, {"json": {"documents": [{"text": "hello there", "lang": "en"}]}}, 422, "validation_error", "lang: unknown field"),
    ("documents invalid JSON", "POST", DOCS, {"content": b"{nope", "headers": {"Content-Type": "application/json"}}, 400, "invalid_json", "JSON"),
    ("documents wrong content type", "POST", DOCS, {"content": b"hello", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_media_type", "content-type"),
    ("upload without files", "POST", DOCS, {"files": [("other", ("a.txt", b"hello", "text/plain"))]}, 422, "validation_error", "files"),
    ("upload only binary", "POST", DOCS, {"files": [("files", ("a.bin", b"\x00\x01\x02", "application/octet-stream"))]}, 422, "bad_document", "no document"),
    ("unknown document id", "GET", "/v1/documents/nope/never", {}, 404, "not_found", "nope/never"),
    ("delete unknown document", "DELETE", "/v1/documents/never-was", {}, 404, "not_found", "never-was"),
    ("unknown route", "GET", "/v1/nothing", {}, 404, "not_found", "/v1/nothing"),
    ("wrong method", "PUT", ASK, {"json": {"question": "x"}}, 405, "method_not_allowed", "Method Not Allowed"),
    # issue 15: each of these answered 500 and dropped the connection
    ("$in with unhashable values", "POST", ASK, {"json": {"question": "reset password?", "filters": {"n": {"$in": [[1]]}}}}, 400, "bad_request", "$in values must be"),
    ("list filter with a dict", "POST", ASK, {"json": {"question": "reset password?", "filters": {"n": [{"a": 1}]}}}, 422, "validation_error", "filters.n"),
    ("$gt bound over float range", "POST", ASK, {"content": b'{"question": "reset password?", "filters": {"n": {"$gt": 1' + b"0" * 400 + b"}}}", "headers": {"Content-Type": "application/json"}}, 400, "bad_request", "too large"),
    ("metadata int of 5000 digits", "POST", DOCS, {"content": b'{"documents": [{"text": "hello there", "metadata": {"n": ' + b"9" * 5000 + b"}}]}", "headers": {"Content-Type": "application/json"}}, 400, "invalid_json", "digits"),
    ("ask with an int of 5000 digits", "POST", ASK, {"content": b'{"question": "x", "top_k": ' + b"9" * 5000 + b"}", "headers": {"Content-Type": "application/json"}}, 400, "invalid_json", "JSON"),
    ("documents nested 60k deep", "POST", DOCS, {"content": b"[" * 60_000 + b"]" * 60_000, "headers": {"Content-Type": "application/json"}}, 400, "invalid_json", "nested too deeply"),
    ("metadata nested 50k deep", "POST", DOCS, {"content": b'{"documents": [{"text": "hi there", "metadata": {"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}]}", "headers": {"Content-Type": "application/json"}}, 400, "invalid_json", "nested too deeply"),
    ("metadata nested 500 deep", "POST", DOCS, {"content": b'{"documents": [{"text": "hi there", "metadata": {"a": ' + b"[" * 500 + b"]" * 500 + b"}}]}", "headers": {"Content-Type": "application/json"}}, 422, "validation_error", "metadata"),
    ("ask body nested 60k deep", "POST", ASK, {"content": b'{"question": "x", "filters": {"a": ' + b"[" * 60_000 + b"]" * 60_000 + b"}}", "headers": {"Content-Type": "application/json"}}, 400, "invalid_json", "nested too deeply"),
    ("filters nested 500 deep", "POST", ASK, {"content": b'{"question": "reset password?", "filters": {"a": {"$eq": ' + b'{"b": ' * 500 + b"1" + b"}" * 500 + b"}}}", "headers": {"Content-Type": "application/json"}}, 200, "", ""),
    ("upload named ..", "POST", DOCS, {"files": [("files", ("..", b"hello there", "text/plain"))]}, 422, "bad_document", "cannot be used"),
    ("upload named dir/..", "POST", DOCS, {"files": [("files", ("a/..", b"hello there", "text/plain"))]}, 422, "bad_document", "cannot be used"),
    ("upload name of 300 characters", "POST", DOCS, {"files": [("files", ("n" * 296 + ".txt", b"hello there", "text/plain"))]}, 422, "bad_document", "at most 255 bytes"),
    ("upload hidden name", "POST", DOCS, {"files": [("files", (".env", b"SECRET=1", "text/plain"))]}, 422, "bad_document", "hidden"),
    ("upload jsonl nested 60k deep", "POST", DOCS, {"files": [("files", ("deep.jsonl", b"[" * 60_000 + b"]" * 60_000 + b"\n", "application/x-ndjson"))]}, 422, "bad_document", "no document"),
]


@pytest.mark.parametrize("name,method,path,kwargs,status,code,words", CASES, ids=[c[0] for c in CASES])
def test_bad_request(client: httpx.Client, name: str, method: str, path: str, kwargs: dict, status: int, code: str, words: str) -> None:
    headers = {**auth(ADMIN_KEY), **kwargs.pop("headers", {})}
    r = client.request(method, path, headers=headers, **kwargs)
    assert r.status_code == status, r.text
    assert r.elapsed.total_seconds() < 5, f"{name} took {r.elapsed.total_seconds():.1f} s"
    if status == 200:
        return
    body = r.json()
    assert body["error"] == code
    assert words in body["message"], body["message"]


def test_error_bodies_follow_the_schema(client: httpx.Client) -> None:
    from groundqa.serve.schemas import ErrorResponse

    r = client.post(ASK, json={"question": 1, "nope": True}, headers=auth(ADMIN_KEY))
    e = ErrorResponse.model_validate(r.json())
    assert {tuple(d["loc"]) for d in e.details} == {("body", "question"), ("body", "nope")}


def test_chunked_body_over_the_limit(client: httpx.Client) -> None:
    def gen():
        for _ in range(30):
            yield b"x" * 10_000

    r = client.post(DOCS, content=gen(), headers={**auth(ADMIN_KEY), "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_deep_jsonl_upload_is_reported_and_the_rest_ingested(client: httpx.Client) -> None:
    files = [("files", ("deep.jsonl", b"[" * 60_000 + b"]" * 60_000 + b'\n{"id": "deep-ok", "text": "A flat record is fine."}\n', "application/x-ndjson"))]
    r = client.post(DOCS, files=files, headers=auth(ADMIN_KEY))
    assert r.status_code == 201, r.text
    assert [d["id"] for d in r.json()["documents"]] == ["deep-ok"]
    assert r.json()["skipped"] == [{"source": "deep.jsonl#1", "reason": "invalid JSON: nested too deeply for the parser; flatten the record"}]


def test_slow_body_gets_408(tmp_path) -> None:
    """A client that stalls in the middle of its body is answered 408 after body_timeout_s, and
    the service keeps answering others meanwhile."""
    import socket
    import time

    from groundqa.serve.app import create_app

    from .conftest import fake_factory, keyed_settings, serving

    app = create_app(pipeline_factory=fake_factory, settings=keyed_settings(tmp_path, body_timeout_s=1.0))
    with serving(app) as url:
        host, port = url.rsplit(":", 1)[0].split("//")[1], int(url.rsplit(":", 1)[1])
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n" + f"Authorization: Bearer {ADMIN_KEY}\r\n\r\n".encode() + b'{"documents": [')
            t0 = time.time()
            assert httpx.get(f"{url}/v1/health", timeout=5).status_code == 200
            reply = b""
            while b"body_timeout_s" not in reply and time.time() - t0 < 10:
                part = s.recv(65536)
                if not part:
                    break
                reply += part
            assert time.time() - t0 < 5
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b"body_timeout_s" in reply


def test_slow_headers_are_cut_off(tmp_path) -> None:
    """A client that never finishes its request headers loses the connection after
    header_timeout_s (what `groundqa serve` runs with); other clients are served meanwhile."""
    import socket
    import threading
    import time

    import uvicorn

    from groundqa.serve.app import create_app
    from groundqa.serve.protocol import header_timeout_protocol

    from .conftest import fake_factory, free_port, keyed_settings

    app = create_app(pipeline_factory=fake_factory, settings=keyed_settings(tmp_path))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=header_timeout_protocol(1.0)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\n")  # ... and never the blank line
            t0 = time.time()
            assert httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=5).status_code == 200
            assert s.recv(1024) == b""  # closed by the server
            assert 0.5 < time.time() - t0 < 5
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:  # keep-alive requests still work
            assert c.get("/v1/health").status_code == 200
            time.sleep(1.5)
            assert c.get("/v1/health").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=30)
