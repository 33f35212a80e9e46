"""The OpenAI-compatible routes through the official ``openai`` client, against a real uvicorn
server on 127.0.0.1 (conftest's ``server``: the fakes over the FAQ documents, keys configured)."""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator

import pytest

from .conftest import ASK_KEY, FAQ, INGEST_KEY, auth, keyed_settings, serving

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")

DECLINE = "The documents do not contain the answer."


@pytest.fixture()
def oa(server: tuple[str, Any]) -> Iterator[Any]:
    url, _ = server
    with openai.OpenAI(base_url=f"{url}/v1", api_key=ASK_KEY, max_retries=0, timeout=60) as c:
        yield c


def ext(obj: Any) -> dict[str, Any]:
    """The ``groundqa`` extension the client keeps as an extra field."""
    return (obj.model_extra or {})["groundqa"]


def test_models_list_the_served_pipeline_under_each_policy(oa: Any) -> None:
    ids = [m.id for m in oa.models.list()]
    assert ids == ["groundqa", "groundqa-abstain", "groundqa-strip", "groundqa-flag", "groundqa-return"]
    m = oa.models.retrieve("groundqa-abstain")
    assert m.owned_by == "groundqa" and m.model_extra["groundqa"]["policy"] == "abstain"
    assert oa.models.retrieve("groundqa").model_extra["groundqa"]["policy"] == "flag"  # the served pipeline's own
    with pytest.raises(openai.NotFoundError, match="does not exist; choose one of"):
        oa.models.retrieve("gpt-4o")


def test_plain_request_cites_and_carries_the_verdict(oa: Any) -> None:
    r = oa.chat.completions.create(model="groundqa", messages=[{"role": "user", "content": "How long does a transfer between accounts take?"}])
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-") and r.model == "groundqa"
    msg = r.choices[0].message
    assert msg.role == "assistant" and r.choices[0].finish_reason == "stop"
    # the fake answers with the first sentence of passage 1 that shares a word with the question
    assert msg.content == "To transfer money to another account, open Payments and choose Transfer. [1]\n\nSources: [1] faq/transfer"
    g = ext(r)
    assert g["verdict"] == "supported" and g["answered"] is True and g["policy"] == "flag"
    assert g["support"] > 0 and g["claims"] and all(c["verdict"] == "supported" for c in g["claims"])
    cite = g["citations"][0]
    doc = next(d for d in FAQ if d["id"] == cite["doc_id"])
    assert doc["text"][cite["start"] : cite["end"]] == cite["text"]  # evidence spans index the document
    assert g["passages"] and g["passages"][0]["doc_id"] == "faq/transfer"
    assert {"retrieve", "generate", "verify", "total"} <= set(g["timings_ms"])
    assert isinstance(g["audit_id"], int) and g["ignored"] == []
    u = r.usage
    assert u.completion_tokens > 0 and u.prompt_tokens > u.completion_tokens and u.total_tokens == u.prompt_tokens + u.completion_tokens


def test_streaming_gives_openai_chunks_and_the_same_content(oa: Any, server: tuple[str, Any]) -> None:
    q = [{"role": "user", "content": "How long does a transfer between accounts take?"}]
    whole = oa.chat.completions.create(model="groundqa", messages=q).choices[0].message.content
    chunks = list(oa.chat.completions.create(model="groundqa", messages=q, stream=True, stream_options={"include_usage": True}))
    assert all(c.object == "chat.completion.chunk" for c in chunks) and len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole
    last = [c for c in chunks if c.choices][-1]
    assert last.choices[0].finish_reason == "stop" and ext(last)["verdict"] == "supported"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0  # include_usage: a last chunk with usage only
    url, _ = server  # the raw stream ends as OpenAI's does
    with httpx.stream("POST", f"{url}/v1/chat/completions", json={"model": "groundqa", "messages": q, "stream": True}, headers=auth(ASK_KEY), timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        body = r.read().decode()
    assert body.rstrip().endswith("data: [DONE]") and body.count("data: ") == 5  # role, content, sources, finish, [DONE]


def test_follow_up_turn_is_rewritten_with_the_conversation(oa: Any) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful bank assistant."},
        {"role": "user", "content": "How do I transfer money to another account?"},
        {"role": "assistant", "content": "Open Payments and choose Transfer. [1]"},
        {"role": "user", "content": "and how long does that take?"},
    ]
    r = oa.chat.completions.create(model="groundqa", messages=messages)
    g = ext(r)
    assert g["rewrite"]["rewritten"] is True and "transfer" in g["rewrite"]["standalone"]
    assert g["rewrite"]["question"] == "and how long does that take?"
    assert g["passages"][0]["doc_id"] == "faq/transfer" and r.choices[0].message.content.endswith("Sources: [1] faq/transfer")
    assert {"param": "messages", "reason": "system messages are not used: the pipeline's prompt is fixed"} in g["ignored"]


def test_follow_up_without_a_topic_says_why_it_was_not_rewritten(oa: Any) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "and that?"}]
    g = ext(oa.chat.completions.create(model="groundqa", messages=messages))
    assert g["rewrite"]["rewritten"] is False and "no earlier user turn has topic words" in g["rewrite"]["note"]


def test_unanswerable_question_declines_as_content(oa: Any) -> None:
    r = oa.chat.completions.create(model="groundqa-abstain", messages=[{"role": "user", "content": "Which planet has the most moons?"}])
    assert r.choices[0].message.content == DECLINE  # no Sources line: nothing is cited
    g = ext(r)
    assert g["verdict"] == "declined" and g["answered"] is False and g["policy"] == "abstain"
    chunks = list(oa.chat.completions.create(model="groundqa-abstain", messages=[{"role": "user", "content": "Which planet has the most moons?"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == DECLINE
    assert ext(chunks[-1])["verdict"] == "declined"


def test_unsupported_claim_is_withheld_under_abstain(tmp_path_factory: pytest.TempPathFactory) -> None:
    from groundqa.pipeline import Pipeline
    from groundqa.policy import WITHHELD_TEXT
    from groundqa.serve.app import create_app
    from groundqa.testing import ExtractiveGenerator, KeywordGuard

    tmp = tmp_path_factory.mktemp("withheld")
    app = create_app(pipeline_factory=lambda index: Pipeline(index, ExtractiveGenerator(extra="Transfers are free on Sundays."), KeywordGuard(), top_k=3),
                     settings=keyed_settings(tmp))
    with serving(app) as url:
        httpx.post(f"{url}/v1/documents", json={"documents": FAQ}, headers=auth(INGEST_KEY), timeout=300).raise_for_status()
        with openai.OpenAI(base_url=f"{url}/v1", api_key=ASK_KEY, max_retries=0) as oa:
            q = [{"role": "user", "content": "How long does a transfer between accounts take?"}]
            r = oa.chat.completions.create(model="groundqa", messages=q)
            assert r.choices[0].message.content == WITHHELD_TEXT
            g = ext(r)
            assert g["verdict"] == "withheld" and any(c["verdict"] == "unsupported" for c in g["claims"])
            assert "Sundays" in g["generated"]
            flagged = oa.chat.completions.create(model="groundqa-flag", messages=q)
            assert ext(flagged)["verdict"] == "flagged" and "Sundays" in flagged.choices[0].message.content


def test_ignored_parameters_are_listed_with_why(oa: Any) -> None:
    r = oa.chat.completions.create(model="groundqa", messages=[{"role": "user", "content": "How do I reset my password?"}],
                                   temperature=0.7, max_tokens=20, seed=3, user="u-1", extra_body={"vendor_flag": True})
    ignored = {i["param"]: i["reason"] for i in ext(r)["ignored"]}
    assert len(ext(r)["ignored"]) == len(ignored) == 5 and set(ignored) == {"temperature", "max_tokens", "seed", "user", "vendor_flag"}
    assert "deterministic" in ignored["seed"] and "audit log" in ignored["user"]
    assert "greedy" in ignored["temperature"] and ignored["vendor_flag"] == "not a parameter groundqa uses"
    assert "Settings" in r.choices[0].message.content


def test_groundqa_options_pass_top_k_and_filters(oa: Any) -> None:
    r = oa.chat.completions.create(model="groundqa", messages=[{"role": "user", "content": "How long does a transfer take?"}],
                                   extra_body={"groundqa": {"top_k": 1, "filters": {"topic": "cards"}}})
    g = ext(r)
    assert len(g["passages"]) == 1 and g["passages"][0]["doc_id"] == "faq/card"


def test_wrong_key_and_missing_scope(server: tuple[str, Any]) -> None:
    url, _ = server
    msgs = [{"role": "user", "content": "How do I reset my password?"}]
    with openai.OpenAI(base_url=f"{url}/v1", api_key="wrong-key-0123456789abcdef", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as e:
            bad.chat.completions.create(model="groundqa", messages=msgs)
        assert e.value.status_code == 401 and e.value.body["type"] == "authentication_error" and e.value.body["code"] == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
    with openai.OpenAI(base_url=f"{url}/v1", api_key=INGEST_KEY, max_retries=0) as loader:
        with pytest.raises(openai.PermissionDeniedError, match="lacks the 'ask' scope"):
            loader.chat.completions.create(model="groundqa", messages=msgs)
    r = httpx.post(f"{url}/v1/chat/completions", json={"model": "groundqa", "messages": msgs}, timeout=30)  # no header at all
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    # a bad body with a bad key: the key is checked first
    r = httpx.post(f"{url}/v1/chat/completions", json={"model": 5}, headers=auth("wrong-key-0123456789abcdef"), timeout=30)
    assert r.status_code == 401


@pytest.mark.parametrize(("kwargs", "status", "param", "match"), [
    ({"n": 2}, 400, "n", "one verified answer per request"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}, 400, "tools", "calls no tools"),
    ({"response_format": {"type": "json_object"}}, 400, "response_format", "not supported"),
    ({"model": "gpt-4o"}, 404, "model", "does not exist; choose one of: groundqa"),
    ({"messages": []}, 400, "messages", "at least 1 item"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello"}]}, 400, "messages", "must be the user's question"),
    ({"messages": [{"role": "user", "content": "   "}]}, 400, "messages", "is empty"),
    ({"messages": [{"role": "user", "content": "x" * 501}]}, 400, "messages", "over the limit of 500"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]}, 400, "messages.0.content", "reads text only"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, 400, "messages.0.role", "Input should be"),
    ({"temperature": 5}, 400, "temperature", "less than or equal to 2"),
    ({"extra_body": {"groundqa": {"top_k": 11}}}, 400, "groundqa.top_k", "over the limit of 10"),
    ({"extra_body": {"groundqa": {"rerank": True}}}, 400, "groundqa.rerank", "unknown field"),
    ({"extra_body": {"groundqa": {"filters": {"topic": {"$regex": "x"}}}}}, 400, None, "regex"),
])
def test_bad_bodies_are_refused_in_openais_error_shape(oa: Any, kwargs: dict[str, Any], status: int, param: str | None, match: str) -> None:
    args = {"model": "groundqa", "messages": [{"role": "user", "content": "How do I reset my password?"}], **kwargs}
    with pytest.raises(openai.APIStatusError) as e:
        oa.chat.completions.create(**args)
    err = e.value
    assert err.status_code == status, err.body
    assert set(err.body) == {"message", "type", "param", "code"} and err.body["type"] in ("invalid_request_error", "not_found_error")
    if param is not None:
        assert err.body["param"] == param
    assert match.lower() in err.body["message"].lower()


@pytest.mark.parametrize(("body", "ctype"), [
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b'{"model": "groundqa"}', "application/json"),
    (b'{"model": "groundqa", "messages": "hi"}', "application/json"),
    (b'{"model": "groundqa", "messages": [{"content": "hi"}]}', "application/json"),
    (b"model=groundqa", "application/x-www-form-urlencoded"),
    (b"", "application/json"),
])
def test_malformed_bodies_are_4xx_openai_errors(server: tuple[str, Any], body: bytes, ctype: str) -> None:
    url, _ = server
    r = httpx.post(f"{url}/v1/chat/completions", content=body, headers={**auth(ASK_KEY), "content-type": ctype}, timeout=30)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["message"]


class _SlowGenerator:
    """The extractive fake, slowed down, so a client can leave while its answer is being made."""

    def __init__(self, seconds: float) -> None:
        from groundqa.testing import ExtractiveGenerator

        self.inner, self.seconds, self.name = ExtractiveGenerator(), seconds, "slow-fake"
        self.started, self.finished = threading.Event(), threading.Event()

    def warm_up(self) -> None:
        return None

    def generate_batch(self, questions: Any, passages: Any, **kw: Any) -> Any:
        self.started.set()
        time.sleep(self.seconds)
        out = self.inner.generate_batch(questions, passages)
        self.finished.set()
        return out

    def generate(self, question: str, passages: Any, **kw: Any) -> Any:
        return self.generate_batch([question], [passages])[0]

    def stream(self, question: str, passages: Any, **kw: Any) -> Any:
        return self.inner.stream(question, passages)


def test_client_disconnect_mid_stream(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    from groundqa.pipeline import Pipeline
    from groundqa.serve import openai_routes
    from groundqa.serve.app import create_app
    from groundqa.testing import KeywordGuard

    monkeypatch.setattr(openai_routes, "KEEPALIVE_S", 0.2)
    gen = _SlowGenerator(2.0)
    tmp = tmp_path_factory.mktemp("disconnect")
    app = create_app(pipeline_factory=lambda index: Pipeline(index, gen, KeywordGuard(), top_k=3), settings=keyed_settings(tmp))
    with serving(app) as url:
        httpx.post(f"{url}/v1/documents", json={"documents": FAQ}, headers=auth(INGEST_KEY), timeout=300).raise_for_status()
        audited = app.state.audit.count()
        with openai.OpenAI(base_url=f"{url}/v1", api_key=ASK_KEY, max_retries=0, timeout=30) as oa:
            q = [{"role": "user", "content": "How long does a transfer between accounts take?"}]
            stream = oa.chat.completions.create(model="groundqa", messages=q, stream=True)
            first = next(iter(stream))
            assert first.choices[0].delta.role == "assistant"
            assert gen.started.wait(10)
            stream.close()  # the client leaves while the answer is being generated
            assert gen.finished.wait(10)
            time.sleep(0.5)
            assert app.state.audit.count() == audited  # an answer nobody received is not recorded
            # the service goes on: a stream that waits through keep-alive comments, then a plain request
            gen.started.clear()
            chunks = list(oa.chat.completions.create(model="groundqa", messages=q, stream=True))
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).endswith("Sources: [1] faq/transfer")
            assert oa.chat.completions.create(model="groundqa", messages=q).choices[0].finish_reason == "stop"
            assert app.state.audit.count() == audited + 2
        with httpx.stream("POST", f"{url}/v1/chat/completions", json={"model": "groundqa", "messages": q, "stream": True}, headers=auth(ASK_KEY), timeout=30) as r:
            body = r.read().decode()
        assert ": keep-alive" in body and body.rstrip().endswith("data: [DONE]")


def test_the_example_openai_bot(server: tuple[str, Any]) -> None:
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    sys.path.insert(0, root)
    try:
        from examples.support_bot.openai_bot import FALLBACK, BotReply, ask, ask_stream, connect
    finally:
        sys.path.remove(root)
    url, _ = server
    client = connect(f"{url}/v1", ASK_KEY)
    history: list[dict[str, str]] = []
    r = ask(client, history, "How do I transfer money to another account?")
    assert r.answered and r.sources == ["faq/transfer"] and "Payments" in r.text and len(history) == 2
    *pieces, last = list(ask_stream(client, history, "and how long does that take?"))  # a follow-up, streamed
    assert isinstance(last, BotReply) and last.answered and last.sources == ["faq/transfer"] and "".join(pieces) == history[-1]["content"]
    off = ask(client, [], "Which planet has the most moons?", model="groundqa-abstain")
    assert off.handoff and off.text == FALLBACK and off.verdict == "declined"


def test_a_failing_generator_server_is_a_503_and_an_error_event(tmp_path_factory: pytest.TempPathFactory) -> None:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from groundqa.generate import OpenAIServerGenerator
    from groundqa.pipeline import Pipeline
    from groundqa.serve.app import create_app
    from groundqa.testing import KeywordGuard

    broken = FastAPI()  # an inference server that is up but failing
    broken.get("/v1/models")(lambda: {"object": "list", "data": [{"id": "m", "object": "model"}]})
    broken.post("/v1/chat/completions")(lambda: JSONResponse({"error": {"message": "CUDA out of memory"}}, status_code=500))
    with serving(broken) as gen_url:
        gen = OpenAIServerGenerator(f"openai:{gen_url}/v1", retries=0)
        app = create_app(pipeline_factory=lambda index: Pipeline(index, gen, KeywordGuard(), top_k=3), settings=keyed_settings(tmp_path_factory.mktemp("down")))
        with serving(app) as url:
            httpx.post(f"{url}/v1/documents", json={"documents": FAQ}, headers=auth(INGEST_KEY), timeout=300).raise_for_status()
            with openai.OpenAI(base_url=f"{url}/v1", api_key=ASK_KEY, max_retries=0) as oa:
                q = [{"role": "user", "content": "How long does a transfer between accounts take?"}]
                with pytest.raises(openai.InternalServerError) as e:
                    oa.chat.completions.create(model="groundqa", messages=q)
                assert e.value.status_code == 503 and e.value.body["code"] == "generator_unavailable"
                assert "HTTP 500: CUDA out of memory" in e.value.body["message"]
                with pytest.raises(openai.APIError, match="CUDA out of memory"):  # mid-stream: an error event, as OpenAI sends
                    list(oa.chat.completions.create(model="groundqa", messages=q, stream=True))
