"""A support bot that talks to groundqa through the official ``openai`` client: the code a bot
written for OpenAI already has, with only ``base_url`` and the key changed.

    groundqa serve --index kb-index &
    python -m examples.support_bot.openai_bot [--url http://127.0.0.1:8000/v1] [--key KEY] [--model groundqa-strip]

The reply's ``content`` is what the guard let through (with a ``Sources:`` line) or the decline /
withheld sentence; a client that knows groundqa reads the ``groundqa`` extension to hand off to a
person when the answer was not given.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterator

from openai import OpenAI

FALLBACK = "Sorry, I can't answer that from our help articles. I'll pass your question to a person."


@dataclass
class BotReply:
    text: str
    answered: bool
    verdict: str
    sources: list[str] = field(default_factory=list)

    @property
    def handoff(self) -> bool:
        return not self.answered


def connect(url: str | None = None, key: str | None = None) -> OpenAI:
    """The openai client, pointed at groundqa (``$GROUNDQA_URL``, ``$GROUNDQA_KEY``)."""
    base = url or os.environ.get("GROUNDQA_URL", "http://127.0.0.1:8000/v1")
    # no keys configured (loopback): any string will do
    return OpenAI(base_url=base, api_key=key or os.environ.get("GROUNDQA_KEY", "none"), max_retries=2, timeout=120)


def _reply(content: str, ext: dict[str, Any] | None) -> BotReply:
    if not ext:  # a server without the extension: trust the content
        return BotReply(content, True, "unknown")
    sources = list(dict.fromkeys(c.get("source") or c["doc_id"] for c in ext.get("citations", [])))
    if not ext["answered"]:
        return BotReply(FALLBACK, False, ext["verdict"])
    return BotReply(content, True, ext["verdict"], sources)


def ask(client: OpenAI, history: list[dict[str, str]], question: str, model: str = "groundqa-strip") -> BotReply:
    """One turn: the conversation so far plus the new question; the history is extended."""
    r = client.chat.completions.create(model=model, messages=[*history, {"role": "user", "content": question}])
    content = r.choices[0].message.content or ""
    history += [{"role": "user", "content": question}, {"role": "assistant", "content": content}]
    return _reply(content, (r.model_extra or {}).get("groundqa"))


def ask_stream(client: OpenAI, history: list[dict[str, str]], question: str, model: str = "groundqa-strip") -> Iterator[str | BotReply]:
    """The same turn streamed: text pieces, then the BotReply (from the last chunk's extension)."""
    stream = client.chat.completions.create(model=model, messages=[*history, {"role": "user", "content": question}], stream=True)
    content, ext = "", None
    for chunk in stream:
        ext = (chunk.model_extra or {}).get("groundqa") or ext
        for choice in chunk.choices:
            if choice.delta.content:
                content += choice.delta.content
                yield choice.delta.content
    history += [{"role": "user", "content": question}, {"role": "assistant", "content": content}]
    yield _reply(content, ext)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=None, help="groundqa's OpenAI base URL (default: $GROUNDQA_URL or http://127.0.0.1:8000/v1)")
    ap.add_argument("--key", default=None, help="an API key with the ask scope (default: $GROUNDQA_KEY)")
    ap.add_argument("--model", default="groundqa-strip", help="a model id from GET /v1/models (groundqa-<policy>)")
    args = ap.parse_args()
    client = connect(args.url, args.key)
    print("models:", ", ".join(m.id for m in client.models.list()))
    history: list[dict[str, str]] = []
    print("Ask a question (empty line to quit).")
    while True:
        try:
            q = input("you> ").strip()
        except EOFError:
            return 0
        if not q:
            return 0
        print("bot> ", end="", flush=True)
        for piece in ask_stream(client, history, q, args.model):
            if isinstance(piece, BotReply):
                print(f"\n     [{piece.verdict}]" + (f" {FALLBACK}" if piece.handoff else ""))
            else:
                print(piece, end="", flush=True)


if __name__ == "__main__":
    sys.exit(main())
