"""The example support bot (examples/support_bot) against the real server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .conftest import ASK_KEY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def bot(server):
    sys.path.insert(0, str(ROOT))
    try:
        from examples.support_bot.client import GroundQAClient
        from examples.support_bot.webhook import create_webhook
    finally:
        sys.path.remove(str(ROOT))
    url, _ = server
    return GroundQAClient(url, ASK_KEY, policy="strip"), create_webhook


def test_webhook_answers_follows_up_and_hands_off(bot) -> None:
    from fastapi.testclient import TestClient

    client, create_webhook = bot
    hook = TestClient(create_webhook(client))
    r = hook.post("/webhook", json={"conversation_id": "c1", "text": "How do I transfer money to another account?"}).json()
    assert r["answered"] and r["sources"] == ["faq/transfer"] and "Payments" in r["reply"]
    follow = hook.post("/webhook", json={"conversation_id": "c1", "text": "and how long does that take?"}).json()
    assert follow["answered"] and follow["sources"] == ["faq/transfer"]
    off = hook.post("/webhook", json={"conversation_id": "c2", "text": "Quelle heure est-il?"}).json()
    assert not off["answered"] and off["handoff"] and "person" in off["reply"]
    assert hook.post("/webhook", json={"conversation_id": "c1", "text": ""}).status_code == 422


def test_client_streams(bot) -> None:
    client, _ = bot
    events = list(client.stream("Where can I freeze a lost card?"))
    assert [k for k, _ in events][-1] == "done" and events[0][0] == "sentence"
    assert events[-1][1].answered and events[-1][1].sources == ["faq/card"]
