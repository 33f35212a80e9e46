"""The service over HTTP with the fakes: ask (JSON and SSE), conversation, documents, auth,
health, metrics, audit log."""

from __future__ import annotations

import json

import httpx
import pytest

from .conftest import ADMIN_KEY, ASK_KEY, FAQ, INGEST_KEY, auth


def test_ask_returns_verified_answer_with_citations(client: httpx.Client) -> None:
    r = client.post("/v1/ask", json={"question": "How do I reset my password?"}, headers=auth(ASK_KEY))
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["verdict"] == "supported" and a["answered"]
    assert a["answer"].startswith("To reset your password")
    assert a["claims"] and all(c["verdict"] == "supported" and 0 <= c["probability"] <= 1 for c in a["claims"])
    cit = a["citations"][0]
    assert cit["doc_id"] == "faq/password" and cit["passage_rank"] == 1
    doc = next(d for d in FAQ if d["id"] == "faq/password")
    assert doc["text"][cit["start"] : cit["end"]] == cit["text"]
    assert set(a["timings_ms"]) >= {"retrieve", "generate", "verify", "total"}
    assert a["models"]["generator"] == "extractive-fake"
    assert isinstance(a["audit_id"], int)


def test_ask_flags_unsupported_claims(tmp_path) -> None:
    from groundqa.pipeline import Pipeline
    from groundqa.serve import ServeSettings
    from groundqa.serve.app import create_app
    from groundqa.testing import ExtractiveGenerator, KeywordGuard

    from .conftest import serving

    def factory(index):
        return Pipeline(index, ExtractiveGenerator(extra="Refunds are paid in gold bullion."), KeywordGuard(), policy="flag")

    app = create_app(pipeline_factory=factory, settings=ServeSettings(index_dir=tmp_path / "i", embedder="hash"))
    with serving(app) as url, httpx.Client(base_url=url) as c:
        assert c.post("/v1/documents", json={"documents": FAQ}).status_code == 201
        a = c.post("/v1/ask", json={"question": "How do I reset my password?"}).json()
        assert a["verdict"] == "flagged" and any(cl["verdict"] == "unsupported" for cl in a["claims"])
        w = c.post("/v1/ask", json={"question": "How do I reset my password?", "policy": "abstain"}).json()
        assert w["verdict"] == "withheld" and not w["answered"]
        flagged = app.state.audit.list(status="pending")
        assert {r.verdict for r in flagged} == {"flagged", "withheld"}
        m = c.get("/metrics").text
        assert 'groundqa_claims_total{verdict="unsupported"} 2.0' in m
        assert "groundqa_unsupported_claim_rate 0.5" in m


def _sse(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_ask_streams_sentences_then_the_answer(client: httpx.Client) -> None:
    body = {"question": "How do I transfer money to another account?"}
    with client.stream("POST", "/v1/ask", json=body, headers={**auth(ASK_KEY), "Accept": "text/event-stream"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _sse(r.read().decode())
    kinds = [k for k, _ in events]
    assert kinds[-1] == "done" and kinds[:-1] and set(kinds[:-1]) == {"sentence"}
    done = events[-1][1]
    plain = client.post("/v1/ask", json=body, headers=auth(ASK_KEY)).json()
    assert done["answer"] == plain["answer"] and done["verdict"] == plain["verdict"]
    assert "".join(d["text"] for k, d in events[:-1]).replace(" ", "") == done["generated"].replace(" ", "")
    assert all(c["verdict"] == "supported" for _, d in events[:-1] for c in d["claims"])


def test_conversation_rewrites_a_follow_up(client: httpx.Client) -> None:
    conv = [
        {"role": "user", "content": "How do I transfer money to another account?"},
        {"role": "assistant", "content": "Open Payments and choose Transfer."},
    ]
    a = client.post("/v1/ask", json={"question": "and how long does that take?", "conversation": conv}, headers=auth(ASK_KEY)).json()
    assert a["question"] == "and how long does that take?"
    assert a["rewritten_question"] == "how long does that take (transfer money another account)?"
    assert a["passages"][0]["doc_id"] == "faq/transfer"
    alone = client.post("/v1/ask", json={"question": "What does a replacement card cost?", "conversation": conv}, headers=auth(ASK_KEY)).json()
    assert alone["rewritten_question"] is None


def test_filters_restrict_retrieval(client: httpx.Client) -> None:
    a = client.post("/v1/ask", json={"question": "How long does it take?", "filters": {"topic": "cards"}}, headers=auth(ASK_KEY)).json()
    assert {p["doc_id"] for p in a["passages"]} == {"faq/card"}


def test_documents_are_idempotent_by_content(client: httpx.Client) -> None:
    doc = {"id": "faq/hours", "text": "Support is open from 8am to 8pm every day.", "source": "kb/hours.md"}
    h = auth(INGEST_KEY)
    r1 = client.post("/v1/documents", json={"documents": [doc]}, headers=h)
    assert r1.status_code == 201 and r1.json()["documents"][0]["status"] == "created"
    r2 = client.post("/v1/documents", json={"documents": [doc]}, headers=h)
    assert r2.status_code == 200 and r2.json()["documents"][0]["status"] == "unchanged"
    r3 = client.post("/v1/documents", json={"documents": [{**doc, "text": "Support is open from 9am to 5pm on weekdays."}]}, headers=h)
    assert r3.status_code == 201 and r3.json()["documents"][0]["status"] == "updated"
    got = client.get("/v1/documents/faq/hours", headers=auth(INGEST_KEY)).json()
    assert got["text"].startswith("Support is open from 9am") and got["source"] == "kb/hours.md" and got["chunks"] == 1
    # no id: the id is the content hash, so the same text twice is one document
    a = client.post("/v1/documents", json={"documents": [{"text": "Our office is in Lisbon."}]}, headers=h).json()["documents"][0]
    b = client.post("/v1/documents", json={"documents": [{"text": "Our office is in Lisbon."}]}, headers=h).json()["documents"][0]
    assert a["id"] == b["id"] and a["id"].startswith("sha256:") and b["status"] == "unchanged"
    d = client.delete("/v1/documents/faq/hours", headers=h)
    assert d.status_code == 200 and d.json() == {"id": "faq/hours", "deleted": True, "chunks": 1}
    assert client.get("/v1/documents/faq/hours", headers=auth(INGEST_KEY)).status_code == 404
    ans = client.post("/v1/ask", json={"question": "When is support open?", "top_k": 10}, headers=auth(ASK_KEY)).json()
    assert "faq/hours" not in {p["doc_id"] for p in ans["passages"]}


def test_one_request_with_two_texts_under_one_id_is_refused_whole(client: httpx.Client) -> None:
    """Issue 16: the later text would replace the earlier one inside the request; 422, nothing stored."""
    h = auth(INGEST_KEY)
    docs = [{"id": "kb/x", "text": "First text of x."}, {"id": "kb/y", "text": "Y."}, {"id": "kb/x", "text": "Second text of x."}]
    r = client.post("/v1/documents", json={"documents": docs}, headers=h)
    assert r.status_code == 422, r.text
    msg = r.json()["message"]
    assert "1 document(s) reuse the id of an earlier document in the same request with a different text" in msg
    assert "'kb/x' at positions 0 and 2" in msg and "nothing was stored" in msg
    assert client.get("/v1/documents/kb/x", headers=auth(INGEST_KEY)).status_code == 404
    assert client.get("/v1/documents/kb/y", headers=auth(INGEST_KEY)).status_code == 404
    # an exact repeat is one document; across requests other text under the same id is an update
    r = client.post("/v1/documents", json={"documents": [docs[0], dict(docs[0])]}, headers=h)
    assert r.status_code == 201 and [d["status"] for d in r.json()["documents"]] == ["created", "unchanged"]
    r = client.post("/v1/documents", json={"documents": [docs[2]]}, headers=h)
    assert r.status_code == 201 and r.json()["documents"][0]["status"] == "updated"


def test_upload_files(client: httpx.Client) -> None:
    files = [
        ("files", ("refunds.md", b"# Refunds\n\nRefunds are paid to the original card within ten days.\n", "text/markdown")),
        ("files", ("fees.jsonl", b'{"id": "fee-1", "text": "International card payments cost 2 percent."}\n', "application/jsonl")),
        ("files", ("logo.png", b"\x89PNG\x00\x00binary", "image/png")),
    ]
    r = client.post("/v1/documents", files=files, headers=auth(ADMIN_KEY))
    assert r.status_code == 201, r.text
    body = r.json()
    assert {d["id"] for d in body["documents"]} == {"refunds.md", "fee-1"}
    assert [s["source"] for s in body["skipped"]] == ["logo.png"]
    got = client.get("/v1/documents/refunds.md", headers=auth(ADMIN_KEY)).json()
    assert got["metadata"]["title"] == "Refunds" and got["source"] == "refunds.md"
    a = client.post("/v1/ask", json={"question": "How are refunds paid?"}, headers=auth(ADMIN_KEY)).json()
    assert a["passages"][0]["doc_id"] == "refunds.md"


@pytest.mark.parametrize(
    "method,path,key,status",
    [
        ("POST", "/v1/ask", None, 401),
        ("POST", "/v1/ask", "wrong-key-0123456789abcdef", 401),
        ("POST", "/v1/ask", INGEST_KEY, 403),
        ("POST", "/v1/documents", ASK_KEY, 403),
        ("DELETE", "/v1/documents/faq/card", ASK_KEY, 403),
        ("GET", "/v1/documents/faq/card", None, 401),
        ("GET", "/v1/documents/faq/card", ASK_KEY, 403),  # issue 25: reading documents needs the read scope
        ("GET", "/metrics", None, 401),  # issue 25: keyed by default once keys are set
        ("GET", "/openapi.json", None, 401),
        ("GET", "/docs", None, 401),
    ],
)
def test_auth(client: httpx.Client, method: str, path: str, key: str | None, status: int) -> None:
    body = {"question": "How do I reset my password?"} if path == "/v1/ask" else {"documents": [{"text": "x y z"}]}
    r = client.request(method, path, json=body if method == "POST" else None, headers=auth(key) if key else {})
    assert r.status_code == status
    e = r.json()
    assert e["error"] == ("unauthorized" if status == 401 else "forbidden") and e["message"]
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"
    if status == 403:
        assert "lacks the" in e["message"]


def test_health_and_metrics(client: httpx.Client) -> None:
    h = client.get("/v1/health").json()
    assert h["status"] == "ok" and h["models_loaded"] and h["index"]["chunks"] >= 3
    client.post("/v1/ask", json={"question": "How do I reset my password?"}, headers=auth(ASK_KEY))
    m = client.get("/metrics", headers=auth(ASK_KEY)).text  # any key, no particular scope
    assert 'groundqa_http_requests_total{method="POST",route="/v1/ask",status="200"}' in m
    assert 'groundqa_http_request_duration_seconds_bucket{le="0.5",method="POST",route="/v1/ask"}' in m
    assert 'groundqa_answers_total{verdict="supported"}' in m
    assert 'groundqa_index_size{unit="chunks"}' in m


def test_every_answer_is_audited(server) -> None:
    url, app = server
    n = app.state.audit.count()
    r = httpx.post(f"{url}/v1/ask", json={"question": "Where can I freeze a lost card?"}, headers=auth(ASK_KEY)).json()
    assert app.state.audit.count() == n + 1
    rec = app.state.audit.get(r["audit_id"])
    assert rec.question == "Where can I freeze a lost card?" and rec.answer == r["answer"] and rec.api_key == "bot"
    assert rec.passage_ids == [p["id"] for p in r["passages"]] and rec.models["verifier"] == "keyword-fake"
    assert rec.claims == r["claims"] and rec.verdict == r["verdict"]


def test_timeout_is_a_json_504_and_shutdown_saves_the_index(tmp_path) -> None:
    import time as _time

    from groundqa.pipeline import Pipeline
    from groundqa.serve import ServeSettings
    from groundqa.serve.app import create_app
    from groundqa.testing import ExtractiveGenerator, KeywordGuard

    from .conftest import serving

    class SlowGenerator(ExtractiveGenerator):
        def generate_batch(self, questions, passages, **kw):
            _time.sleep(1.5)
            return super().generate_batch(questions, passages, **kw)

    def factory(index):
        return Pipeline(index, SlowGenerator(), KeywordGuard())

    app = create_app(pipeline_factory=factory, settings=ServeSettings(index_dir=tmp_path / "i", embedder="hash", request_timeout_s=0.5))
    with serving(app) as url, httpx.Client(base_url=url) as c:
        assert c.post("/v1/documents", json={"documents": FAQ}).status_code == 201
        r = c.post("/v1/ask", json={"question": "How do I reset my password?"})
        assert r.status_code == 504 and r.json()["error"] == "timeout" and "request_timeout_s" in r.json()["message"]
        assert not (tmp_path / "i" / "manifest.json").exists()
    # a graceful shutdown saves the index snapshot
    from groundqa.index import HybridIndex

    assert sorted(HybridIndex.load(tmp_path / "i").doc_ids()) == sorted(d["id"] for d in FAQ)


def test_concurrent_asks_are_batched(server) -> None:
    import asyncio

    url, app = server
    before = app.state.batcher.batches
    questions = ["How do I reset my password?", "Where can I freeze a lost card?", "How do I transfer money to another account?"] * 4

    async def go():
        async with httpx.AsyncClient(base_url=url, headers=auth(ASK_KEY), timeout=30) as c:
            return await asyncio.gather(*(c.post("/v1/ask", json={"question": q}) for q in questions))

    rs = asyncio.run(go())
    assert all(r.status_code == 200 for r in rs)
    assert [r.json()["question"] for r in rs] == questions  # each caller gets its own answer
    assert {r.json()["passages"][0]["doc_id"] for r in rs[:3]} == {"faq/password", "faq/card", "faq/transfer"}
    assert app.state.batcher.batches - before < len(questions)  # some were answered together


def test_a_full_queue_answers_503_with_retry_after_and_no_request_hangs(tmp_path) -> None:
    import asyncio
    import time as _time

    from groundqa.pipeline import Pipeline
    from groundqa.serve import ServeSettings
    from groundqa.serve.app import create_app
    from groundqa.testing import ExtractiveGenerator, KeywordGuard

    from .conftest import serving

    class SlowGenerator(ExtractiveGenerator):
        def generate_batch(self, questions, passages, **kw):
            _time.sleep(0.6)
            return super().generate_batch(questions, passages, **kw)

    def factory(index):
        return Pipeline(index, SlowGenerator(), KeywordGuard())

    settings = ServeSettings(index_dir=tmp_path / "i", embedder="hash", max_pending=3, batch_max=1, workers=1)
    app = create_app(pipeline_factory=factory, settings=settings)
    with serving(app) as url:
        assert httpx.post(f"{url}/v1/documents", json={"documents": FAQ}, timeout=60).status_code == 201

        async def go():
            async with httpx.AsyncClient(base_url=url, timeout=30) as c:
                return await asyncio.gather(*(c.post("/v1/ask", json={"question": "How do I reset my password?"}) for _ in range(8)))

        t0 = _time.perf_counter()
        rs = asyncio.run(go())
        elapsed = _time.perf_counter() - t0
        codes = sorted(r.status_code for r in rs)
        assert codes.count(200) >= 3 and set(codes) <= {200, 503}, codes
        busy = [r for r in rs if r.status_code == 503]
        assert busy, codes
        for r in busy:
            assert int(r.headers["Retry-After"]) >= 1
            assert r.json()["error"] == "unavailable" and "max_pending=3" in r.json()["message"]
        assert elapsed < 10  # refused at once, not queued until a timeout
        # once the queue drains, asks are answered again
        assert httpx.post(f"{url}/v1/ask", json={"question": "How do I reset my password?"}, timeout=30).status_code == 200
        assert app.state.batcher.pending == 0


def test_serve_settings_check_threads_and_max_pending(tmp_path) -> None:
    from groundqa.errors import ConfigError
    from groundqa.serve import ServeSettings

    assert ServeSettings(index_dir=tmp_path, threads="2").threads == 2
    with pytest.raises(ConfigError, match="threads"):
        ServeSettings(index_dir=tmp_path, threads="lots")
    with pytest.raises(ConfigError, match="max_pending"):
        ServeSettings(index_dir=tmp_path, max_pending=0)
