"""The service with real stages, built from a config the way `groundqa serve --config` builds them:
MiniLM embedder, the SmolLM2-135M generator and the guard's lexical + embedding scorers (the
cross-encoder profile and the `fast` adapter are not used here: they are the generator's and
verifier's own tests). One ask with generation, one out-of-scope question declined by the gate."""

from __future__ import annotations

import httpx
import pytest

from .conftest import FAQ, serving

CONFIG = {
    "generator": {"model": "smollm2-135m", "max_new_tokens": 16},
    "guard": {"verifier": "none"},
    "pipeline": {"policy": "flag", "top_k": 1, "min_relevance": 0.3},
}


@pytest.mark.slow
def test_real_stages_over_http(tmp_path) -> None:
    from groundqa.serve import ServeSettings
    from groundqa.serve.app import create_app

    app = create_app(config=CONFIG, settings=ServeSettings(index_dir=tmp_path / "index", embedder="minilm-l6", workers=1))
    with serving(app) as url, httpx.Client(base_url=url, timeout=120) as c:
        h = c.get("/v1/health").json()
        assert h["models_loaded"] and h["models"]["generator"] == "smollm2-135m"
        assert c.post("/v1/documents", json={"documents": FAQ}).status_code == 201
        a = c.post("/v1/ask", json={"question": "How long does a transfer between accounts take?"}).json()
        assert a["passages"][0]["doc_id"] == "faq/transfer"
        assert a["verdict"] in ("supported", "flagged", "declined") and a["generated"]
        assert a["timings_ms"]["generate"] > 0 and a["models"]["embedder"]
        for cl in a["claims"]:
            assert 0.0 <= cl["probability"] <= 1.0 and cl["verdict"] in ("supported", "unsupported")
            if cl["citation"]:
                doc = next(d for d in FAQ if d["id"] == cl["citation"]["doc_id"])
                assert doc["text"][cl["citation"]["start"] : cl["citation"]["end"]] == cl["citation"]["text"]
        oos = c.post("/v1/ask", json={"question": "Who won the football world cup in 1998?"}).json()
        assert oos["verdict"] == "withheld" and oos["reason"].startswith("no relevant passage")
        assert oos["timings_ms"]["generate"] == 0.0
