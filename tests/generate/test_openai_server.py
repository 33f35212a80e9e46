"""The openai: generator against real servers on 127.0.0.1: the reference chat server over the tiny
model (the same weights as the local generator: same answers, same confidence signals), and small
servers that fail, stall or refuse, for the retries, timeouts and errors."""

from __future__ import annotations

import logging
import time
from typing import Any, Iterator

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from groundqa.errors import ConfigError, GeneratorServerError  # noqa: E402
from groundqa.generate import OpenAIServerGenerator, make_generator  # noqa: E402

PASSAGES = ["Denver Broncos defeated the Carolina Panthers in Santa Clara.", "Paris is the capital of France."]
QUESTIONS = ["Who won the game?", "What is the capital of France?", "When in the Course of human events?"]


def _serving(app: Any) -> Any:
    from tests.serve.conftest import serving

    return serving(app)


@pytest.fixture(scope="module")
def reference(tiny_gen: Any) -> Iterator[str]:
    from groundqa.generate.chat_server import chat_server_app

    with _serving(chat_server_app(tiny_gen, served_name="tiny")) as url:
        yield f"{url}/v1"


def test_same_weights_give_the_same_answers_and_confidence(tiny_gen: Any, reference: str) -> None:
    gen = OpenAIServerGenerator(f"openai:{reference}", max_new_tokens=tiny_gen.max_new_tokens)
    gen.warm_up()
    assert gen.model == "tiny" and gen.name == f"openai:{reference}#tiny"  # the only model listed
    for q in QUESTIONS:
        local, remote = tiny_gen.generate(q, PASSAGES), gen.generate(q, PASSAGES)
        assert remote.text == local.text and remote.raw_text == local.raw_text
        assert remote.citations == local.citations and remote.declined == local.declined
        # decline_lp needs the whole first-step distribution, which a server's top-2 logprobs do not give
        assert set(remote.confidence) == set(local.confidence) - {"decline_lp"} == {"lp_mean", "lp_min", "margin_min", "span_score"}
        for k in remote.confidence:
            assert remote.confidence[k] == pytest.approx(local.confidence[k], abs=1e-3), (q, k)
        assert remote.prompt_tokens > 0 and remote.tokens > 0 and remote.model == gen.name
    batch = gen.generate_batch(QUESTIONS, [PASSAGES] * len(QUESTIONS))  # concurrent requests, answers in order
    assert [g.text for g in batch] == [tiny_gen.generate(q, PASSAGES).text for q in QUESTIONS]
    assert all(g.batch_seconds >= g.seconds for g in batch)


def test_stream_yields_the_answer_text(tiny_gen: Any, reference: str) -> None:
    gen = OpenAIServerGenerator(reference, model="tiny", max_new_tokens=tiny_gen.max_new_tokens, ground="off")
    for q in QUESTIONS:
        pieces = list(gen.stream(q, PASSAGES))
        assert pieces and "".join(pieces) == gen.generate(q, PASSAGES).text == tiny_gen.generate(q, PASSAGES).raw_text


def test_unknown_model_and_ambiguous_servers_are_config_errors(reference: str) -> None:
    with pytest.raises(ConfigError, match=r"has no model 'nope'; it lists: tiny"):
        OpenAIServerGenerator(reference, model="nope").warm_up()


def _flaky_app(fail_first: int, status: int = 503, delay_s: float = 0.0, logprobs: bool = False) -> tuple[Any, dict[str, int]]:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app, seen = FastAPI(), {"chat": 0}

    @app.get("/v1/models")
    def models() -> Any:
        return {"object": "list", "data": [{"id": "a", "object": "model"}, {"id": "b", "object": "model"}]}

    @app.post("/v1/chat/completions")
    async def chat(body: dict) -> Any:
        import asyncio

        seen["chat"] += 1
        if delay_s:
            await asyncio.sleep(delay_s)
        if seen["chat"] <= fail_first:
            return JSONResponse({"error": {"message": f"overloaded ({seen['chat']})", "type": "server_error"}}, status_code=status)
        content = "Denver Broncos [1]\n\nQuestion: more"  # the stop string is cut here if the server leaves it
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop",
                             "logprobs": None}], "usage": {"prompt_tokens": 50, "completion_tokens": 6}}

    return app, seen


def test_retries_on_5xx_then_answers(caplog: pytest.LogCaptureFixture) -> None:
    app, seen = _flaky_app(fail_first=2)
    with _serving(app) as url:
        with pytest.raises(ConfigError, match="lists 2 models \\(a, b\\); name one with server_model"):
            OpenAIServerGenerator(f"{url}/v1").warm_up()
        gen = OpenAIServerGenerator(f"openai:{url}/v1", model="a", retries=2, backoff_s=0.0)
        with caplog.at_level(logging.WARNING, logger="groundqa.generate.openai_server"):
            g = gen.generate("Who won?", PASSAGES)
        assert seen["chat"] == 3 and g.text == "Denver Broncos [1]" and g.citations == (1,)
        assert g.grounding.snapped and g.confidence == {"span_score": 1.0}  # no logprobs: span signal only ...
        assert "returned no token logprobs" in caplog.text  # ... and it says so
        assert g.tokens == 6 and g.prompt_tokens == 50
        seen["chat"] = 0
        gen1 = OpenAIServerGenerator(f"{url}/v1", model="a", retries=1, backoff_s=0.0)
        with pytest.raises(GeneratorServerError, match=r"failed 2 times: HTTP 503: overloaded \(2\); check the server is up") as e:
            gen1.generate("Who won?", PASSAGES)
        assert e.value.status == 503


@pytest.mark.parametrize(("status", "fix"), [(400, "logprobs = false"), (401, "GROUNDQA_GENERATOR_API_KEY"), (404, "ends in /v1")])
def test_client_errors_are_not_retried_and_say_the_fix(status: int, fix: str) -> None:
    app, seen = _flaky_app(fail_first=10, status=status)
    with _serving(app) as url:
        gen = OpenAIServerGenerator(f"{url}/v1", model="a", retries=3, backoff_s=0.0)
        with pytest.raises(GeneratorServerError, match=fix):
            gen.generate("Who won?", PASSAGES)
        assert seen["chat"] == 1


def test_timeout_is_retried_then_a_clear_error() -> None:
    app, seen = _flaky_app(fail_first=0, delay_s=3.0)
    with _serving(app) as url:
        gen = OpenAIServerGenerator(f"{url}/v1", model="a", timeout_s=0.3, retries=1, backoff_s=0.0)
        t0 = time.perf_counter()
        with pytest.raises(GeneratorServerError, match=r"failed 2 times: no answer within timeout_s=0.3s"):
            gen.generate("Who won?", PASSAGES)
        assert time.perf_counter() - t0 < 2.5 and seen["chat"] == 2


def test_unreachable_server() -> None:
    from tests.serve.conftest import free_port

    gen = OpenAIServerGenerator(f"openai:http://127.0.0.1:{free_port()}/v1", model="a", retries=1, backoff_s=0.0, connect_timeout_s=1)
    with pytest.raises(GeneratorServerError, match=r"GET /models failed 2 times: cannot connect .*curl http://127.0.0.1:\d+/v1/models"):
        gen.warm_up()


def test_make_generator_and_config_choose_the_backend(tmp_path: Any) -> None:
    from groundqa.config import build_pipeline
    from groundqa.generate import TransformersGenerator
    from groundqa.testing import HashEmbedder

    g = make_generator("openai:http://10.0.0.1:8000/v1/", server_model="lora", timeout_s=5, retries=0)
    assert isinstance(g, OpenAIServerGenerator) and g.base_url == "http://10.0.0.1:8000/v1" and g.model == "lora" and g.retries == 0
    assert isinstance(make_generator("fast"), TransformersGenerator)
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['batch_size'\] .* valid: server_model"):
        make_generator("openai:http://h:1/v1", batch_size=4)
    with pytest.raises(ConfigError, match="server_model='x' is for a generator on a server"):
        make_generator("fast", server_model="x")
    with pytest.raises(ConfigError, match="use openai:http://HOST:PORT/v1"):
        OpenAIServerGenerator("openai:gpu-box:8000")
    with pytest.raises(ConfigError, match="retries=-1 is not valid"):
        OpenAIServerGenerator("http://h:1/v1", retries=-1)
    from groundqa.index import HybridIndex

    pipe = build_pipeline({"generator": {"model": "openai:http://127.0.0.1:9/v1", "server_model": "m", "concurrency": 2}, "guard": {"verifier": "none"}},
                          retriever=HybridIndex(HashEmbedder()))
    assert isinstance(pipe.generator, OpenAIServerGenerator) and pipe.generator.concurrency == 2
