"""Issue 17, item 9: what the service documents is what it does: the OpenAPI schema states the
configured question and top_k limits, and `groundqa serve` says that it records every question
in an audit log, and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundqa.serve.settings import ServeSettings


def test_openapi_states_the_services_own_limits() -> None:
    from groundqa.serve.app import create_app, openapi_schema

    props = openapi_schema()["components"]["schemas"]["AskRequest"]["properties"]
    assert props["question"]["maxLength"] == ServeSettings().max_question_chars == 1000
    assert [o["maximum"] for o in props["top_k"]["anyOf"] if "maximum" in o] == [ServeSettings().max_top_k]
    small = create_app(settings=ServeSettings(max_question_chars=300, max_top_k=5)).openapi()
    sp = small["components"]["schemas"]
    assert sp["AskRequest"]["properties"]["question"]["maxLength"] == 300
    assert sp["Turn"]["properties"]["content"]["maxLength"] == 300
    assert [o["maximum"] for o in sp["AskRequest"]["properties"]["top_k"]["anyOf"] if "maximum" in o] == [5]
    assert "threshold" in sp["AskResponse"]["properties"]


def test_serve_says_it_keeps_an_audit_log(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    from groundqa.cli import main

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(kw))
    assert main(["serve", "--index", str(tmp_path / "idx"), "--port", "8765"]) == 0
    err = capsys.readouterr().err
    audit = tmp_path / "idx.serve" / "audit.sqlite"
    assert started["port"] == 8765
    assert f"recorded in the audit log {audit}" in err and "groundqa review list --audit" in err and "audit_path" in err


def test_every_serve_key_is_documented() -> None:
    """Issue 26: every [serve] key is in the README's table (and in the settings docstring)."""
    import dataclasses
    import re

    from groundqa.serve import settings as settings_mod

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| `[serve]` key |") :]
    table = table[: table.index("\n\n")]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, flags=re.M))
    keys = {f.name for f in dataclasses.fields(ServeSettings)}
    assert documented == keys, f"undocumented: {sorted(keys - documented)}; not keys: {sorted(documented - keys)}"
    doc = settings_mod.__doc__ or ""
    assert all(re.search(rf"^{k} = |\[\[serve\.{k}\]\]", doc, flags=re.M) for k in keys), [k for k in keys if k not in doc]
