"""A small client for the groundqa service, shared by the webhook handler and the terminal chat."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterator

import httpx

FALLBACK = "Sorry, I can't answer that from our help articles. I'll pass your question to a person."


@dataclass
class Reply:
    text: str
    answered: bool
    verdict: str
    sources: list[str] = field(default_factory=list)
    audit_id: int | None = None


class GroundQAClient:
    """Calls ``POST /v1/ask`` with the conversation so far; turns the answer into a bot reply."""

    def __init__(self, url: str | None = None, key: str | None = None, *, policy: str = "strip", timeout: float = 120.0) -> None:
        self.url = (url or os.environ.get("GROUNDQA_URL", "http://127.0.0.1:8000")).rstrip("/")
        key = key or os.environ.get("GROUNDQA_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self.policy = policy

    def ask(self, question: str, history: list[dict[str, str]] | None = None) -> Reply:
        body: dict[str, Any] = {"question": question, "policy": self.policy}
        if history:
            body["conversation"] = history[-6:]
        r = self.http.post("/v1/ask", json=body)
        if r.status_code != 200:
            err = r.json()
            raise RuntimeError(f"groundqa said {r.status_code} {err.get('error')}: {err.get('message')}")
        return to_reply(r.json())

    def stream(self, question: str, history: list[dict[str, str]] | None = None) -> Iterator[tuple[str, Any]]:
        """``("sentence", text)`` as each sentence is judged, then ``("done", Reply)``."""
        body: dict[str, Any] = {"question": question, "policy": self.policy}
        if history:
            body["conversation"] = history[-6:]
        with self.http.stream("POST", "/v1/ask", json=body, headers={"Accept": "text/event-stream"}) as r:
            if r.status_code != 200:
                r.read()
                raise RuntimeError(f"groundqa said {r.status_code}: {r.json().get('message')}")
            event = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if event == "sentence":
                        yield "sentence", data["text"]
                    elif event == "done":
                        yield "done", to_reply(data)
                    elif event == "error":
                        raise RuntimeError(data["message"])


def to_reply(a: dict[str, Any]) -> Reply:
    """A declined or withheld answer becomes the polite fallback; an answer lists its sources."""
    if not a["answered"]:
        return Reply(FALLBACK, False, a["verdict"], audit_id=a.get("audit_id"))
    sources = []
    for c in a.get("citations", []):
        if c["source"] not in sources:
            sources.append(c["source"])
    return Reply(a["answer"], True, a["verdict"], sources, a.get("audit_id"))
