"""The openai: generator pointed at groundqa's own /v1/chat/completions: one groundqa service can
generate for another through the protocol (the route reads the prompt as the question)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from .conftest import ASK_KEY, FAQ, INGEST_KEY, auth, fake_factory, keyed_settings, serving

httpx = pytest.importorskip("httpx")


def test_the_generator_speaks_to_groundqas_own_route(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from groundqa.errors import ConfigError, GeneratorServerError
    from groundqa.generate import OpenAIServerGenerator
    from groundqa.serve.app import create_app

    app = create_app(pipeline_factory=fake_factory, settings=keyed_settings(tmp_path_factory.mktemp("gen-route"), max_question_chars=1000))
    with serving(app) as url:
        httpx.post(f"{url}/v1/documents", json={"documents": FAQ}, headers=auth(INGEST_KEY), timeout=300).raise_for_status()
        base = f"openai:{url}/v1"
        with pytest.raises(ConfigError, match="lists 5 models .*name one with server_model"):
            OpenAIServerGenerator(base, api_key=ASK_KEY).warm_up()
        with pytest.raises(GeneratorServerError, match="HTTP 401: unknown API key; set the server's API key in \\$GROUNDQA_GENERATOR_API_KEY"):
            OpenAIServerGenerator(base, model="groundqa", api_key="wrong-key-0123456789abcdef").warm_up()
        monkeypatch.setenv("GROUNDQA_GENERATOR_API_KEY", ASK_KEY)
        gen = OpenAIServerGenerator(base, model="groundqa-return", retries=0)
        passages = ["A transfer between accounts usually takes one business day.", "A lost card can be frozen in the app."]
        with caplog.at_level(logging.WARNING, logger="groundqa.generate.openai_server"):
            g = gen.generate("How long does a transfer take?", passages)
        # groundqa answers the prompt from its own FAQ index: "... [1]" then "\n\nSources: ...", which the
        # prompt's stop string "\n\n" cuts off, as a model's trailing text would be
        # (the fake answers with a first sentence of its top FAQ passage)
        assert g.raw_text.endswith(". [1]") and any(d["text"].startswith(g.raw_text[: -len(" [1]")]) for d in FAQ)
        assert not g.declined and g.model == f"{base}#groundqa-return" and g.citations == ((g.grounding.passage,) if g.grounding.snapped else (1,))
        assert g.tokens > 0 and g.prompt_tokens > 0  # the route's usage
        assert set(g.confidence) == {"span_score"} and "returned no token logprobs" in caplog.text  # the route returns none
        rows = app.state.audit.list(status="all", flagged_only=False, limit=5)
        assert rows and "Question: How long does a transfer take?" in rows[0].question  # the prompt went through as the question
        assert "".join(gen.stream("How long does a transfer take?", passages)) == g.raw_text  # and its SSE stream
