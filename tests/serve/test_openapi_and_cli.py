"""The committed OpenAPI schema is current; `groundqa serve` checks its arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_is_current() -> None:
    from groundqa.serve.app import openapi_schema

    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(openapi_schema())), "docs/openapi.json is stale: run `groundqa serve --openapi docs/openapi.json`"


def test_openapi_documents_the_api() -> None:
    from groundqa.serve.app import openapi_schema

    s = openapi_schema()
    assert {"/v1/ask", "/v1/documents", "/v1/documents/{doc_id}", "/v1/health", "/metrics"} <= set(s["paths"])
    assert s["components"]["schemas"]["AskRequest"]["additionalProperties"] is False
    assert "HTTPBearer" in s["components"]["securitySchemes"]
    ask = s["paths"]["/v1/ask"]["post"]
    assert "text/event-stream" in ask["responses"]["200"]["content"]
    assert {"401", "403", "422"} <= set(ask["responses"])
    body = s["paths"]["/v1/documents"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} == set(body)


def test_serve_refuses_open_non_loopback_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from groundqa.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["serve", "--index", str(tmp_path / "i"), "--host", "0.0.0.0"])
    assert exc.value.code == 2
    assert "no API keys are configured" in capsys.readouterr().err


def test_serve_config_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from groundqa.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text('[serve]\nmax_top_k = 0\n')
    with pytest.raises(SystemExit):
        main(["serve", "--index", str(tmp_path / "i"), "--config", str(cfg)])
    assert "max_top_k=0 is not valid" in capsys.readouterr().err
    cfg.write_text('[serve]\n[[serve.api_keys]]\nname = "bot"\nsha256 = "plaintext-key"\n')
    with pytest.raises(SystemExit):
        main(["serve", "--index", str(tmp_path / "i"), "--config", str(cfg)])
    assert "not a sha256 hex digest" in capsys.readouterr().err


def test_hash_key(capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib

    from groundqa.cli import main

    assert main(["serve", "--hash-key", "k" * 20]) == 0
    assert capsys.readouterr().out.strip() == hashlib.sha256(b"k" * 20).hexdigest()
    with pytest.raises(SystemExit):
        main(["serve", "--hash-key", "short"])


def test_settings_from_config_table() -> None:
    from groundqa.errors import ConfigError
    from groundqa.serve import ServeSettings, hash_key

    s = ServeSettings.from_mapping({"max_top_k": 5, "api_keys": [{"name": "bot", "sha256": hash_key("x" * 16), "scopes": ["ask", "ingest"]}]}, index_dir="idx")
    assert s.max_top_k == 5 and s.api_keys[0].scopes == ("ask", "ingest", "read")  # ingest implies read
    assert s.resolved_state_dir() == Path("idx.serve") and s.resolved_audit_path() == Path("idx.serve/audit.sqlite")
    with pytest.raises(ConfigError, match="unknown key"):
        ServeSettings.from_mapping({"max_topk": 5})
    with pytest.raises(ConfigError, match="scopes"):
        ServeSettings.from_mapping({"api_keys": [{"name": "bot", "sha256": hash_key("x" * 16), "scopes": ["admin"]}]})
