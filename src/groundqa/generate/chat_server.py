"""A reference OpenAI-compatible chat server (FastAPI) over a :class:`TransformersGenerator`'s
model, for the tests and ``benchmarks/openai_generator.py`` (formerly in ``groundqa.testing``)."""

from __future__ import annotations

from typing import Any


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

    from .hf import _StopOnStrings

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
