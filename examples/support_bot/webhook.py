"""A webhook handler a bot framework can call: ``POST /webhook`` {conversation_id, text} ->
{reply, answered, sources, handoff}. It keeps the last turns per conversation and sends them to
groundqa so follow-ups ("and how long does that take?") are understood.

    GROUNDQA_URL=http://127.0.0.1:8000 GROUNDQA_KEY=... uvicorn examples.support_bot.webhook:app --port 9000
"""

from __future__ import annotations

from collections import defaultdict, deque

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from .client import GroundQAClient


class Incoming(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversation_id: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=1000)


class Outgoing(BaseModel):
    reply: str
    answered: bool
    sources: list[str]
    handoff: bool = Field(description="true when a person should take over (the answer was declined)")


def create_webhook(client: GroundQAClient | None = None, turns: int = 6) -> FastAPI:
    app = FastAPI(title="support bot webhook")
    app.state.client = client or GroundQAClient()
    app.state.history = defaultdict(lambda: deque(maxlen=turns))

    @app.post("/webhook", response_model=Outgoing)
    def webhook(msg: Incoming) -> Outgoing:  # sync: FastAPI runs it in a thread
        history = app.state.history[msg.conversation_id]
        reply = app.state.client.ask(msg.text, list(history))
        history.append({"role": "user", "content": msg.text})
        history.append({"role": "assistant", "content": reply.text})
        return Outgoing(reply=reply.text, answered=reply.answered, sources=reply.sources, handoff=not reply.answered)

    return app


app = create_webhook()
