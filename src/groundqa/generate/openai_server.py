"""A generator on an inference server: any server that speaks OpenAI's chat-completions protocol
(vLLM, llama.cpp's ``llama-server`` or llama-cpp-python's server, Ollama, LiteLLM, TGI).

    gen = OpenAIServerGenerator("openai:http://gpu-box:8000/v1", model="groundqa-lora")
    gen.generate("Who won?", ["[passage text]", ...]).text   # 'Denver Broncos [1]'

It sends the prompt :class:`TransformersGenerator` builds (the same :class:`PromptTemplate` messages;
the server applies the model's chat template), greedy (``temperature=0``), with the template's stop
strings, and asks for each token's log-probability and its runner-up (``logprobs``,
``top_logprobs=2``): ``Generation.confidence`` then holds the same ``lp_mean``, ``lp_min`` and
``margin_min`` the local generator gives the guard (not ``decline_lp``: that needs the whole
first-step distribution; the guard reads its calibration mean). The answer is span-grounded here, as locally.
A server that returns no log-probabilities still works: the guard then lacks those three signals
(``confidence`` holds ``span_score`` only) and a warning says so once.

Requests time out (``timeout_s``; ``connect_timeout_s`` to connect) and are retried ``retries``
times with exponential back-off on connection errors, timeouts, 429 and 5xx; other 4xx are not
retried. Every failure is a :class:`~groundqa.errors.GeneratorServerError` that names the server,
what it said and the fix. ``generate_batch`` sends up to ``concurrency`` requests at once: the
server batches them (continuous batching in vLLM; ``--n_parallel``/slots in llama.cpp).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Sequence

from ..errors import ConfigError, GeneratorServerError
from .base import Generation, passage_texts
from .context import DEFAULT_WINDOW_WORDS, Window, check_context, check_window_split, check_window_words, ground_in_windows, passage_windows
from .prompts import PromptTemplate, cut_at_stop, is_decline, parse_citations

log = logging.getLogger(__name__)

PREFIX = "openai:"
_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


def parse_server_ref(ref: str) -> str:
    """The base URL of ``openai:http://host:port/v1`` (the ``/v1`` is required, as in OpenAI's clients)."""
    url = ref[len(PREFIX):] if ref.startswith(PREFIX) else ref
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"generator {ref!r} is not a server reference; use openai:http://HOST:PORT/v1 (the OpenAI-compatible base URL)")
    return url


class OpenAIServerGenerator:
    """Answers from numbered passages with a model served behind an OpenAI-compatible API.

    Args:
        base_url: ``openai:http://host:port/v1`` or ``http://host:port/v1``.
        model: the server's model name (vLLM: ``--served-model-name`` or a ``--lora-modules`` name;
            llama.cpp: any); None takes the only model the server lists.
        template: the prompt template (default: :class:`PromptTemplate`, the one the shipped
            adapters were trained with).
        api_key: sent as ``Authorization: Bearer``; default ``$GROUNDQA_GENERATOR_API_KEY``.
        max_new_tokens, ground: as for :class:`TransformersGenerator`.
        timeout_s, connect_timeout_s, retries, backoff_s: per request; ``retries`` more tries after
            the first on a connection error, a timeout, 429 or 5xx.
        concurrency: requests in flight at once in ``generate_batch``.
        logprobs: ask for token log-probabilities (turn off for a server that refuses them).
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        template: PromptTemplate | None = None,
        api_key: str | None = None,
        max_new_tokens: int = 48,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        concurrency: int = 8,
        ground: str = "snap",
        logprobs: bool = True,
        context: str = "windows",
        window_words: int = DEFAULT_WINDOW_WORDS,
        window_split: str = "auto",
    ) -> None:
        self.base_url = parse_server_ref(base_url)
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise ConfigError(f"server_model={model!r} is not valid; give the server's model name (GET {self.base_url}/models lists them)")
        self.model = model
        self.template = template or PromptTemplate()
        for name, v in (("max_new_tokens", max_new_tokens), ("concurrency", concurrency)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ConfigError(f"{name}={v!r} is not valid; it must be a positive integer")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigError(f"retries={retries!r} is not valid; it must be an integer >= 0")
        for name, v in (("timeout_s", timeout_s), ("connect_timeout_s", connect_timeout_s)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise ConfigError(f"{name}={v!r} is not valid; it must be a number of seconds > 0")
        if isinstance(backoff_s, bool) or not isinstance(backoff_s, (int, float)) or backoff_s < 0:
            raise ConfigError(f"backoff_s={backoff_s!r} is not valid; it must be a number of seconds >= 0")
        if ground not in ("snap", "off"):
            raise ConfigError(f"ground={ground!r} is not valid; use 'snap' (answers become passage spans) or 'off'")
        self.context = check_context(context)
        self.window_words = check_window_words(window_words)
        # "auto" reads a generator folder's card; a server's model has none here, so it is "even"
        self.window_split = "even" if check_window_split(window_split, auto=True) == "auto" else window_split
        self.max_new_tokens, self.concurrency, self.ground, self.logprobs = max_new_tokens, concurrency, ground, bool(logprobs)
        self.timeout_s, self.connect_timeout_s, self.retries, self.backoff_s = float(timeout_s), float(connect_timeout_s), retries, float(backoff_s)
        self.api_key = api_key if api_key is not None else os.environ.get("GROUNDQA_GENERATOR_API_KEY")
        self.name = f"{PREFIX}{self.base_url}" + (f"#{model}" if model else "")
        self._client: Any = None
        self._lock = threading.Lock()
        self._warned_no_logprobs = False
        self.load_seconds = 0.0

    # ------------------------------------------------------------------ the connection

    def warm_up(self) -> None:
        """Open the connection and check the server lists the model (safe to call twice)."""
        with self._lock:
            if self._client is not None:
                return
            try:
                import httpx
            except ModuleNotFoundError as exc:  # pragma: no cover - httpx comes with the serve extra
                raise ConfigError("the openai: generator needs httpx: pip install 'groundqa[serve]' (or pip install httpx)") from exc
            t0 = time.perf_counter()
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            limits = httpx.Limits(max_connections=self.concurrency + 2, max_keepalive_connections=self.concurrency + 2)
            self._client = httpx.Client(base_url=self.base_url, headers=headers, limits=limits,
                                        timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s))
        try:
            listed = [m.get("id") for m in self._request("GET", "/models").get("data", []) if isinstance(m, dict)]
        except GeneratorServerError as exc:
            if exc.status != 404 or self.model is None:  # a server without /models is fine when the model is named
                self.close()
                raise
            listed = []
        if self.model is None:
            if len(listed) != 1:
                self.close()
                raise ConfigError(f"the generator server {self.base_url} lists {len(listed)} models ({', '.join(map(str, listed)) or 'none'}); "
                                  "name one with server_model = \"NAME\" in [generator] (CLI: --server-model NAME)")
            self.model = str(listed[0])
        elif listed and self.model not in listed:
            self.close()
            raise ConfigError(f"the generator server {self.base_url} has no model {self.model!r}; it lists: {', '.join(map(str, listed))}. "
                              "Fix server_model, or serve the model under that name (vLLM: --served-model-name / --lora-modules NAME=PATH)")
        self.name = f"{PREFIX}{self.base_url}#{self.model}"
        self.load_seconds = time.perf_counter() - t0

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def identity(self) -> dict[str, Any]:
        return {"backend": "openai", "url": self.base_url, "model": self.model, "max_new_tokens": self.max_new_tokens,
                "greedy": True, "ground": self.ground, "logprobs": self.logprobs, "context": self.context,
                "window_words": self.window_words if self.context == "windows" else None,
                "window_split": self.window_split if self.context == "windows" else None}

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One JSON request with retries; a GeneratorServerError once they are spent."""
        import httpx

        last = ""
        status = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                r = self._client.request(method, path, json=body)
            except httpx.TimeoutException as exc:
                last, status = f"no answer within timeout_s={self.timeout_s:g}s ({type(exc).__name__})", None
                continue
            except httpx.TransportError as exc:
                last, status = f"cannot connect ({type(exc).__name__}: {exc})", None
                continue
            if r.status_code < 400:
                try:
                    return r.json()
                except ValueError:
                    raise GeneratorServerError(self.base_url, r.status_code, f"{method} {path} answered with a body that is not JSON: {r.text[:200]!r}",
                                               "check that the URL is the server's OpenAI base URL (ending in /v1)") from None
            status, last = r.status_code, _server_message(r)
            if r.status_code not in _RETRY_STATUS:
                raise GeneratorServerError(self.base_url, status, f"{method} {path}: {last}", _fix_for(status, self))
        tries = self.retries + 1
        raise GeneratorServerError(self.base_url, status, f"{method} {path} failed {tries} time{'s' if tries > 1 else ''}: {last}",
                                   f"check the server is up (curl {self.base_url}/models), or raise timeout_s / retries in [generator]")

    # ------------------------------------------------------------------ generation

    def windows(self, question: str, passages: Sequence[Any]) -> list[Window]:
        """What the server's model reads of each passage: as :meth:`TransformersGenerator.windows`."""
        return passage_windows(question, passage_texts(passages), self.context, self.window_words, self.window_split)

    def _body(self, question: str, shown: Sequence[Window], stream: bool = False) -> dict[str, Any]:
        stop = [s for s in self.template.stop if s][:4]  # OpenAI takes at most 4; the rest are cut here
        body: dict[str, Any] = {"model": self.model, "messages": self.template.messages(question, [w.text for w in shown]),
                                "max_tokens": self.max_new_tokens, "temperature": 0.0, "stream": stream}
        if stop:
            body["stop"] = stop
        if self.logprobs and not stream:
            body["logprobs"], body["top_logprobs"] = True, 2
        return body

    def generate(self, question: str, passages: Sequence[Any], **overrides: Any) -> Generation:
        return self.generate_batch([question], [passages], **overrides)[0]

    def generate_batch(self, questions: Sequence[str], passages: Sequence[Sequence[Any]], **overrides: Any) -> list[Generation]:
        if len(questions) != len(passages):
            raise ConfigError(f"generate_batch got {len(questions)} questions but {len(passages)} passage lists; pass one list per question")
        if overrides:
            raise ConfigError(f"the openai: generator takes no generation overrides (got {sorted(overrides)}); set max_new_tokens in [generator]")
        self.warm_up()
        t0 = time.perf_counter()
        if len(questions) == 1:
            out = [self._one(questions[0], passages[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(questions)), thread_name_prefix="groundqa-openai-gen") as pool:
                out = list(pool.map(self._one, questions, passages))
        wall = time.perf_counter() - t0
        return [_replace(g, batch_seconds=wall) for g in out]

    def _one(self, question: str, passages: Sequence[Any]) -> Generation:
        t0 = time.perf_counter()
        shown = self.windows(question, passages)  # once: the prompt and the grounding read the same windows
        data = self._request("POST", "/chat/completions", self._body(question, shown))
        dt = time.perf_counter() - t0
        try:
            choice = data["choices"][0]
            raw = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise GeneratorServerError(self.base_url, 200, f"the reply has no choices[0].message.content: {json.dumps(data)[:300]}",
                                       "point the generator at an OpenAI-compatible chat-completions server") from None
        text, hit_stop = cut_at_stop(raw, self.template.stop)
        text = text.strip()
        declined = is_decline(text, self.template.decline)
        tokens = _token_logprobs(choice.get("logprobs"))
        usage = data.get("usage") or {}
        n_gen = int(usage.get("completion_tokens") or len(tokens))
        confidence: dict[str, float] = {}
        if tokens:
            answer = _answer_tokens(tokens, text)
            lps = [lp for _, lp, _ in answer]
            margins = [m for _, _, m in answer if m is not None]
            confidence = {"lp_mean": sum(lps) / len(lps) if lps else 0.0, "lp_min": min(lps, default=0.0), "margin_min": min(margins, default=0.0)}
        elif self.logprobs and not self._warned_no_logprobs:
            self._warned_no_logprobs = True
            log.warning("the generator server %s returned no token logprobs: the guard gets no lp_mean/lp_min/margin_min signals "
                        "(vLLM, llama.cpp and Ollama return them for logprobs=true; check the server's version)", self.base_url)
        raw_text, snap = text, None
        if not declined and self.ground == "snap":
            text, snap = ground_in_windows(text, shown)
            confidence["span_score"] = snap.score
        finish = choice.get("finish_reason")
        return Generation(
            text=text, citations=parse_citations(text, len(passages)), declined=declined, tokens=n_gen,
            prompt_tokens=int(usage.get("prompt_tokens") or 0), seconds=dt, batch_seconds=dt,
            finish_reason="length" if finish == "length" and not hit_stop else "stop", model=self.name,
            timings={"generate_s": dt}, raw_text=raw_text, grounding=snap, confidence={k: round(v, 5) for k, v in confidence.items()},
        )

    def stream(self, question: str, passages: Sequence[Any], **overrides: Any) -> Iterator[str]:
        """Yield the answer's text as the server streams it, stopping at a stop string."""
        import httpx

        if overrides:
            raise ConfigError(f"the openai: generator takes no generation overrides (got {sorted(overrides)})")
        self.warm_up()
        stop = tuple(s for s in self.template.stop if s)
        longest = max((len(s) for s in stop), default=0)
        buffer, emitted = "", 0
        try:
            with self._client.stream("POST", "/chat/completions", json=self._body(question, self.windows(question, passages), stream=True)) as r:
                if r.status_code >= 400:
                    r.read()
                    raise GeneratorServerError(self.base_url, r.status_code, f"POST /chat/completions (stream): {_server_message(r)}", _fix_for(r.status_code, self))
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    event = json.loads(data)
                    if event.get("error"):
                        raise GeneratorServerError(self.base_url, None, f"the stream failed: {event['error']}", "see the server's log")
                    for c in event.get("choices") or []:
                        buffer += (c.get("delta") or {}).get("content") or ""
                    kept, hit = cut_at_stop(buffer, stop)
                    if hit:
                        buffer = kept
                        break
                    safe = len(buffer) - max(0, longest - 1)  # hold back what could start a stop string
                    if safe > emitted:
                        piece = buffer[emitted:safe]
                        if not emitted:
                            piece = piece.lstrip()
                            if not piece:
                                continue
                        emitted = safe
                        yield piece
        except httpx.TimeoutException as exc:
            raise GeneratorServerError(self.base_url, None, f"the stream stalled for more than timeout_s={self.timeout_s:g}s", "raise timeout_s in [generator] or check the server's load") from exc
        except httpx.TransportError as exc:
            raise GeneratorServerError(self.base_url, None, f"the stream broke ({type(exc).__name__}: {exc})", f"check the server is up (curl {self.base_url}/models)") from exc
        rest = buffer[emitted:].rstrip()
        if not emitted:
            rest = rest.lstrip()
        if rest:
            yield rest


def _server_message(r: Any) -> str:
    """What an error reply says: OpenAI's error object, or the start of the body."""
    try:
        body = r.json()
    except ValueError:
        return f"HTTP {r.status_code}: {r.text[:200]!r}"
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and err.get("message"):
        return f"HTTP {r.status_code}: {err['message']}"
    if isinstance(err, str):
        return f"HTTP {r.status_code}: {err}" + (f" ({body.get('message')})" if body.get("message") else "")
    return f"HTTP {r.status_code}: {json.dumps(body)[:200]}"


def _fix_for(status: int | None, gen: OpenAIServerGenerator) -> str:
    if status in (401, 403):
        return "set the server's API key in $GROUNDQA_GENERATOR_API_KEY (or api_key in [generator])"
    if status == 404:
        return f"check the URL ends in /v1 and server_model={gen.model!r} is a model the server lists (curl {gen.base_url}/models)"
    if status == 400:
        return "if the server refuses logprobs/top_logprobs, set logprobs = false in [generator] (the guard then lacks the generator's confidence)"
    return "see the server's log"


def _token_logprobs(logprobs: Any) -> list[tuple[str, float, float | None]]:
    """(token text, log-probability, margin over the runner-up or None) per generated token."""
    out: list[tuple[str, float, float | None]] = []
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    for t in content or []:
        if not isinstance(t, dict) or not isinstance(t.get("logprob"), (int, float)):
            continue
        top = sorted((float(x["logprob"]) for x in t.get("top_logprobs") or [] if isinstance(x, dict) and isinstance(x.get("logprob"), (int, float))), reverse=True)
        margin = top[0] - top[1] if len(top) >= 2 else None
        out.append((str(t.get("token", "")), float(t["logprob"]), margin))
    return out


def _answer_tokens(tokens: list[tuple[str, float, float | None]], text: str) -> list[tuple[str, float, float | None]]:
    """The tokens that make the answer itself: those before its first citation mark (as
    ``TransformersGenerator._answer_tokens``)."""
    cut = text.find("[")
    if cut <= 0:
        return tokens
    want = len(text[:cut].strip())
    acc = ""
    for k, (tok, _, _) in enumerate(tokens, start=1):
        acc += tok
        if len(acc.strip()) >= want:
            return tokens[:k]
    return tokens


def _replace(g: Generation, **changes: Any) -> Generation:
    import dataclasses

    return dataclasses.replace(g, **changes)
