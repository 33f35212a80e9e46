"""A real uvicorn server on 127.0.0.1 (a free port, in a thread) serving the fakes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

ASK_KEY = "ask-key-0123456789abcdef"
INGEST_KEY = "ingest-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"

FAQ = [
    {"id": "faq/password", "text": "To reset your password, open Settings and choose Security. The password reset link expires after 24 hours.", "metadata": {"topic": "account"}},
    {"id": "faq/transfer", "text": "To transfer money to another account, open Payments and choose Transfer. A transfer between accounts usually takes one business day.", "metadata": {"topic": "payments"}},
    {"id": "faq/card", "text": "A lost card can be frozen in the app under Cards. A replacement card arrives within five working days.", "metadata": {"topic": "cards"}},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keyed_settings(tmp: Path, **kw: Any) -> Any:
    from groundqa.serve import ApiKey, ServeSettings, hash_key

    keys = (
        ApiKey("bot", hash_key(ASK_KEY), ("ask",)),
        ApiKey("loader", hash_key(INGEST_KEY), ("ingest",)),
        ApiKey("admin", hash_key(ADMIN_KEY), ("ask", "ingest")),
    )
    return ServeSettings(index_dir=tmp / "index", api_keys=keys, embedder="hash", **kw)


def fake_factory(index: Any) -> Any:
    from groundqa.pipeline import Pipeline
    from groundqa.testing import ExtractiveGenerator, KeywordGuard

    return Pipeline(index, ExtractiveGenerator(), KeywordGuard(), policy="flag", top_k=3)


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread; yields the base URL; stops it (lifespan shutdown)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 300  # the lifespan loads models; slow on a busy machine
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """A keyed server over the FAQ documents (ingested through the API); yields (url, app)."""
    from groundqa.serve.app import create_app

    tmp = tmp_path_factory.mktemp("serve")
    app = create_app(pipeline_factory=fake_factory, settings=keyed_settings(tmp, max_question_chars=500, max_top_k=10, max_body_bytes=200_000))
    with serving(app) as url:
        r = httpx.post(f"{url}/v1/documents", json={"documents": FAQ}, headers=auth(INGEST_KEY), timeout=300)  # the first ingest loads the sentence splitter: slow on a busy machine
        assert r.status_code == 201, r.text
        yield url, app


@pytest.fixture()
def client(server: tuple[str, Any]) -> Iterator[Any]:
    url, _ = server
    with httpx.Client(base_url=url, timeout=30) as c:
        yield c
