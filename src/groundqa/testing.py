"""Public fakes for tests and examples: fast, deterministic stand-ins with the real protocols."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Sequence

import numpy as np

_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """A bag-of-hashed-words embedder: texts that share words get similar unit vectors.

    Deterministic across processes (no Python hash randomisation), loads nothing.
    """

    name = "hash"

    def __init__(self, dim: int = 64, max_tokens: int = 128) -> None:
        self._dim = dim
        self._max_tokens = max_tokens

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def identity(self) -> dict[str, Any]:
        return {"name": f"hash-{self._dim}", "dim": self._dim, "max_tokens": self._max_tokens, "kind": "hash"}

    def warm_up(self) -> None:
        return None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_TOKEN.findall(t)) + 2 for t in texts]

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in _TOKEN.findall(t.lower()):
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
                out[i, h % self._dim] += 1.0 if (h >> 32) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


class ExtractiveGenerator:
    """A generator fake: answers with the first sentence of passage 1 that shares a word with the
    question, citing it as [1]; declines when no passage does. Implements the Generator protocol."""

    name = "extractive-fake"

    def __init__(self, decline: str | None = None, extra: str = "") -> None:
        from .generate.prompts import DECLINE

        self.decline = decline or DECLINE
        self.extra = extra  # appended to every answer: a way to inject an unsupported claim

    def warm_up(self) -> None:
        return None

    def _answer(self, question: str, passages: Sequence[Any]) -> str:
        from .text import split_sentences

        qwords = {w for w in _TOKEN.findall(question.lower()) if len(w) > 3}
        for p in passages[:1]:
            text = getattr(p, "text", p)
            for sent in split_sentences(text):
                if qwords & set(_TOKEN.findall(sent.lower())):
                    return f"{sent} [1]" + (f" {self.extra}" if self.extra else "")
        return self.decline

    def generate(self, question: str, passages: Sequence[Any], **overrides: Any) -> Any:
        return self.generate_batch([question], [passages])[0]

    def generate_batch(self, questions: Sequence[str], passages: Sequence[Sequence[Any]], **overrides: Any) -> list[Any]:
        from .generate.base import Generation

        out = []
        for q, ps in zip(questions, passages):
            text = self._answer(q, ps)
            declined = text == self.decline
            prompt = len(q.split()) + sum(len(str(getattr(p, "text", p)).split()) for p in ps)  # words stand in for tokens
            out.append(Generation(text=text, citations=() if declined else (1,), declined=declined, tokens=len(text.split()),
                                  prompt_tokens=prompt, model=self.name))
        return out

    def stream(self, question: str, passages: Sequence[Any], **overrides: Any) -> Any:
        text = self._answer(question, passages)
        for i in range(0, len(text), 7):
            yield text[i : i + 7]


class KeywordGuard:
    """A guard fake: a claim is supported when every content word of it appears in the passages.
    Returns the real ``GuardResult``/``ClaimVerdict`` types."""

    verifier_name = "keyword-fake"

    def warm_up(self) -> None:
        return None

    def verify_batch(self, items: Sequence[tuple[str | None, str, Sequence[Any]]]) -> list[Any]:
        from .verify.claims import split_claims
        from .verify.guard import ClaimVerdict, GuardResult

        out = []
        for question, answer, passages in items:
            words = set(_TOKEN.findall(" ".join(getattr(p, "text", p) for p in passages).lower()))
            claims = []
            for c in split_claims(answer, question):
                content = [w for w in _TOKEN.findall(c.text.lower()) if len(w) > 3]
                p = sum(w in words for w in content) / max(1, len(content))
                claims.append(ClaimVerdict(c.text, c.start, c.end, p, "supported" if p >= 0.999 else "unsupported"))
            pmin = min((c.probability for c in claims), default=1.0)
            verdict = "no_claims" if not claims else ("supported" if all(c.supported for c in claims) else "unsupported")
            out.append(GuardResult(tuple(claims), pmin, verdict, 0.999, 0.0, self.verifier_name))  # type: ignore[arg-type]
        return out

    def verify(self, question: str | None, answer: str, passages: Sequence[Any]) -> Any:
        return self.verify_batch([(question, answer, passages)])[0]


def chat_server_app(generator: Any, *, served_name: str = "local") -> Any:
    """A reference OpenAI-compatible server (FastAPI) over a :class:`TransformersGenerator`'s model:
    ``POST /v1/chat/completions`` renders the messages with the model's chat template, decodes
    greedily up to ``max_tokens`` or a ``stop`` string, and returns each token's ``logprobs`` with
    ``top_logprobs`` alternatives; ``GET /v1/models`` lists ``served_name``. What vLLM and
    llama.cpp's server do, on the same weights as the local generator: the tests and
    ``benchmarks/openai_generator.py`` compare :class:`OpenAIServerGenerator` with it."""
    import threading

    from fastapi import Body, FastAPI
    from fastapi.responses import JSONResponse, StreamingResponse

    from .generate.hf import _StopOnStrings

    app = FastAPI(title="groundqa reference chat server")
    lock = threading.Lock()  # one generation at a time: the model is not shared across threads

    @app.get("/v1/models")
    def models() -> Any:
        return {"object": "list", "data": [{"id": served_name, "object": "model", "created": 0, "owned_by": "groundqa-testing"}]}

    @app.post("/v1/chat/completions")
    async def chat(body: dict[str, Any] = Body(...)) -> Any:  # noqa: B008 (FastAPI's idiom)
        import anyio

        if body.get("model") != served_name:
            return JSONResponse({"error": {"message": f"model {body.get('model')!r} not found", "type": "not_found_error", "param": "model", "code": None}}, status_code=404)
        def locked() -> dict[str, Any]:
            with lock:  # taken in the worker thread: the event loop never waits on it
                return _complete(generator, {**body, "logprobs": True}, served_name, _StopOnStrings)

        done = await anyio.to_thread.run_sync(locked)
        if not body.get("stream"):
            if not body.get("logprobs"):
                done["choices"][0]["logprobs"] = None
            return done

        def events() -> Any:  # the same completion, one SSE chunk per token, as servers stream
            import json

            base = {"id": done["id"], "object": "chat.completion.chunk", "created": done["created"], "model": served_name}
            yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {'role': 'assistant', 'content': ''}, 'finish_reason': None}]})}\n\n"
            for t in done["choices"][0]["logprobs"]["content"]:
                yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {'content': t['token']}, 'finish_reason': None}]})}\n\n"
            yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': done['choices'][0]['finish_reason']}]})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def _complete(generator: Any, body: dict[str, Any], served_name: str, stop_class: Any) -> dict[str, Any]:
    import time
    import uuid

    import torch
    from transformers import StoppingCriteriaList

    generator.warm_up()
    tok, model = generator.tokenizer, generator.model
    prompt = tok.apply_chat_template(body["messages"], tokenize=False, add_generation_prompt=True)
    enc = tok([prompt], return_tensors="pt", add_special_tokens=False).to(model.device)
    plen = enc["input_ids"].shape[1]
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else list(stop)
    eos = generator._eos_ids()
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=int(body.get("max_tokens") or 16), do_sample=False, temperature=None, top_p=None, top_k=None,
                             pad_token_id=tok.pad_token_id, stopping_criteria=StoppingCriteriaList([stop_class(tok, plen, stop, eos)]),
                             output_logits=True, return_dict_in_generate=True)
    ids = out.sequences[0, plen:].tolist()
    top_n = int(body.get("top_logprobs") or 0)
    tokens, text, finish = [], "", "length"
    for t, logits in zip(ids, out.logits or ()):
        if t in eos:
            finish = "stop"
            break
        logp = torch.log_softmax(logits[0].float(), dim=-1)
        piece = tok.decode(text_ids := [*(x["id"] for x in tokens), t], skip_special_tokens=True)[len(text):]
        top = logp.topk(max(top_n, 1))
        tokens.append({"id": t, "token": piece, "logprob": float(logp[t]),
                       "top_logprobs": [{"token": tok.decode([int(i)]), "logprob": float(v)} for v, i in zip(top.values.tolist(), top.indices.tolist())][:top_n]})
        text = tok.decode(text_ids, skip_special_tokens=True)
        hit = [text.find(s) for s in stop if s and s in text]
        if hit:
            text, finish = text[: min(hit)], "stop"
            break
    for x in tokens:
        x.pop("id")
    message: dict[str, Any] = {"role": "assistant", "content": text}
    choice = {"index": 0, "message": message, "finish_reason": finish,
              "logprobs": {"content": tokens} if body.get("logprobs") else None}
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()), "model": served_name,
            "choices": [choice], "usage": {"prompt_tokens": plen, "completion_tokens": len(tokens), "total_tokens": plen + len(tokens)}}
