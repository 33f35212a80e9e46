"""The one pipeline builder: the stages from one TOML file (or its parsed dict), or from arguments.

The only module that names the concrete stages (``HybridIndex``/Milvus through
``groundqa.index.backends.open_retriever``, ``make_generator``, ``Guard``, the LLM judge).

```toml
[retriever]
index = "my-index"          # a folder written by `groundqa index build`
top_k = 4
mode = "hybrid"             # hybrid | bm25 | dense

[generator]
model = "default"           # a profile (default, fast, accurate, quality), a short name, a folder or a hub id,
                            # or "openai:http://HOST:PORT/v1": a model on an OpenAI-compatible server
# server_model = "groundqa-lora"   # with openai:, the server's model name (default: the only one it lists)
# timeout_s = 60, retries = 2, concurrency = 8   # with openai: (see groundqa.generate.openai_server)
max_new_tokens = 64
context = "windows"         # what it reads of each passage: windows (sentences around the best match) or chunks
window_words = 40           # words shown per passage with context = "windows" (on average, with window_split = "rank")
window_split = "auto"       # even: window_words each; rank: the same total, shared as 1/rank; auto: the adapter card's, else even
threads = "auto"            # torch threads: auto (the free cores) or a number
fast_decode = true          # CPU: a packed copy of each weight for decoding steps (about 2x faster steps, 2 GB more memory)
prompt_cache_mb = 256       # keys and values of recent prompts: a prompt that starts like one read lately reads only the rest
decline_margin = "auto"     # decline when the decline sentence is within this many nats/token of the answer: auto (the adapter card's; the shipped one's 0.35), "none", or a number

[guard]
verifier = "default"        # the shipped cross-encoder, a folder/hub id, or "none"
calibration = "default"     # or a file written by `groundqa calibrate`
# judge = "qwen2.5-coder-0.5b"  # optional: an LLM judge as one more signal (slower; see docs/benchmark-history.md)
threshold = "balanced"      # or "precision", or a probability

[pipeline]
policy = "abstain"          # return | flag | strip | abstain (default: abstain, withhold)
min_relevance = 0.25        # optional: withhold when the best passage's cosine is lower
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError, check_choice

_SECTIONS = {"retriever", "generator", "guard", "pipeline"}


def read_toml(path: str | Path, *, see: str = " (see groundqa.config)") -> dict[str, Any]:
    """The parsed TOML file at ``path``; a missing or invalid file is a ConfigError."""
    import tomllib

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist; pass the path of a TOML file{see}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def load_config(config: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    data = dict(config) if isinstance(config, Mapping) else read_toml(config)
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        raise ConfigError(f"unknown config section(s) {unknown}; valid sections: {sorted(_SECTIONS)}")
    return data


def open_retriever(spec: Mapping[str, Any]) -> Any:
    """The retriever of a ``[retriever]`` table (``groundqa.index.backends.open_retriever``)."""
    from ..index.backends import open_retriever as open_backend

    spec = dict(spec)
    backend = spec.pop("backend", "embedded")
    spec.pop("top_k", None)
    spec.pop("mode", None)
    if backend == "embedded":
        if "index" not in spec:
            raise ConfigError("[retriever] needs index = 'FOLDER' (an index built with `groundqa index build`)")
        return open_backend(spec.pop("index"), backend="embedded", **spec)
    if backend == "milvus":
        return open_backend(None, backend="milvus", **spec)
    raise ConfigError(f"[retriever] backend={backend!r} is not valid; choose one of: embedded, milvus")


def make_judge(model: str = "qwen2.5-coder-0.5b", *, int8: bool = False, top_k: int = 3, max_words: int = 220,
               device: str | None = None, dtype: str = "auto", batch_size: int = 8, threads: int | None = None) -> Any:
    """The guard's LLM-judge signal (``verify.LLMJudgeScorer``) reading with the causal LM ``model``
    (``generate.judge.judge_model``): the scorer receives its model, it builds none."""
    from ..generate.judge import judge_model
    from ..verify.scorers import LLMJudgeScorer

    if top_k < 1:
        raise ConfigError(f"LLMJudgeScorer top_k={top_k!r} must be >= 1")
    if batch_size < 1:
        raise ConfigError(f"LLMJudgeScorer batch_size={batch_size!r} must be >= 1")
    return LLMJudgeScorer(judge_model(model, int8=int8, device=device, dtype=dtype, threads=threads), top_k=top_k,
                          max_words=max_words, batch_size=batch_size, threads=threads)


def judge_scorer(judge: Any) -> Any:
    """A judge reference (a model name, "none" or None) as the guard takes it: a scorer or None."""
    if isinstance(judge, str):
        return None if judge.lower() == "none" else make_judge(judge)
    return judge


def make_guard(verifier: str, embedder: Any = "minilm-l6", *, judge: str | None = None, judge_dtype: str = "fp32",
               **kw: Any) -> Any:
    """A guard whose combiner is fitted later (placeholder calibration with the right features).
    ``judge``: a causal LM reference for the LLM-judge signal (``judge_dtype`` fp32, bf16 or int8)."""
    from ..verify.guard import Guard

    emb = None if embedder is None or str(embedder).lower() == "none" else embedder
    extra = []
    if judge and judge.lower() != "none":
        check_choice("judge dtype", judge_dtype, ("int8", "bf16", "fp32"))
        extra.append(make_judge(judge, int8=judge_dtype == "int8",
                                dtype={"int8": "float32", "bf16": "bfloat16", "fp32": "float32"}[judge_dtype]))
    g = Guard(verifier=None if verifier.lower() == "none" else verifier, embedder=emb, extra_scorers=extra,
              calibration={"format": 1, "features": [], "mean": [], "scale": [], "coef": [], "intercept": 0.0}, **kw)
    return g


@dataclass
class Stages:
    """The three stages of a pipeline and its own options (policy, top_k, mode, min_relevance)."""

    retriever: Any
    generator: Any
    guard: Any
    options: dict[str, Any] = field(default_factory=dict)


def build_stages(config: str | Path | Mapping[str, Any], *, retriever: Any = None) -> Stages:
    """The stages of a TOML file (or its parsed dict); ``retriever`` replaces ``[retriever]``'s."""
    from ..generate import make_generator
    from ..verify.guard import Guard

    data = load_config(config)
    r = dict(data.get("retriever", {}))
    retriever = retriever if retriever is not None else open_retriever(r)
    g = dict(data.get("generator", {}))
    generator = make_generator(g.pop("model", "default"), **g)
    v = dict(data.get("guard", {}))
    if "judge" in v:
        v["judge"] = judge_scorer(v["judge"])
    guard = Guard(v.pop("verifier", "default"), embedder=getattr(retriever, "embedder", "minilm-l6"), **v)
    p = dict(data.get("pipeline", {}))
    for key in ("top_k", "mode"):
        if key in r and key not in p:
            p[key] = r[key]
    return Stages(retriever, generator, guard, p)


def stages_config(generator: str = "default", verifier: str = "default", *, policy: str | None = None, top_k: int = 4,
                  judge: str | None = None, server_model: str | None = None, context: str = "windows",
                  threads: str | int | None = "auto", reader: str | None = None) -> dict[str, Any]:
    """The config (as ``build_stages`` reads it) of the CLI's arguments: ``groundqa ask`` and
    ``groundqa chat`` without ``--config``."""
    gen: dict[str, Any] = {"model": generator, "context": context}
    if server_model is not None:
        gen["server_model"] = server_model
    if not str(generator).startswith("openai:"):  # a server's threads are its own
        gen["threads"] = threads
    guard: dict[str, Any] = {"verifier": verifier}
    if judge is not None:
        guard["judge"] = judge
    if reader is not None:
        guard["reader"] = reader
    return {"generator": gen, "guard": guard, "pipeline": {"policy": policy or "abstain", "top_k": top_k}}
