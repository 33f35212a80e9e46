"""Build a pipeline from one TOML file (or its parsed dict).

```toml
[retriever]
index = "my-index"          # a folder written by `groundqa index build`
top_k = 4
mode = "hybrid"             # hybrid | bm25 | dense

[generator]
model = "default"           # a profile (default, fast, quality), a short name, a folder or a hub id,
                            # or "openai:http://HOST:PORT/v1": a model on an OpenAI-compatible server
# server_model = "groundqa-lora"   # with openai:, the server's model name (default: the only one it lists)
# timeout_s = 60, retries = 2, concurrency = 8   # with openai: (see groundqa.generate.openai_server)
max_new_tokens = 64
context = "windows"         # what it reads of each passage: windows (sentences around the best match) or chunks
window_words = 40           # words shown per passage with context = "windows"
threads = "auto"            # torch threads: auto (the free cores) or a number

[guard]
verifier = "default"        # the shipped cross-encoder, a folder/hub id, or "none"
calibration = "default"     # or a file written by `groundqa calibrate`
# judge = "qwen2.5-coder-0.5b"  # optional: an LLM judge as one more signal (slower; see benchmarks/README.md)
threshold = "balanced"      # or "precision", or a probability

[pipeline]
policy = "abstain"          # return | flag | strip | abstain (default: abstain, withhold)
min_relevance = 0.25        # optional: withhold when the best passage's cosine is lower
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError

_SECTIONS = {"retriever", "generator", "guard", "pipeline"}


def load_config(config: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(config, Mapping):
        data = dict(config)
    else:
        import tomllib

        path = Path(config)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist; pass the path of a TOML file (see groundqa.config)")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        raise ConfigError(f"unknown config section(s) {unknown}; valid sections: {sorted(_SECTIONS)}")
    return data


def open_retriever(spec: Mapping[str, Any]) -> Any:
    spec = dict(spec)
    backend = spec.pop("backend", "embedded")
    spec.pop("top_k", None)
    spec.pop("mode", None)
    if backend == "embedded":
        if "index" not in spec:
            raise ConfigError("[retriever] needs index = 'FOLDER' (an index built with `groundqa index build`)")
        from .index.hybrid import HybridIndex

        return HybridIndex.load(spec.pop("index"), **spec)
    if backend == "milvus":
        from .index.milvus import MilvusRetriever  # type: ignore[import-not-found]

        return MilvusRetriever(**spec)
    raise ConfigError(f"[retriever] backend={backend!r} is not valid; choose one of: embedded, milvus")


def build_pipeline(config: str | Path | Mapping[str, Any], *, retriever: Any = None) -> Any:
    from .generate import make_generator
    from .pipeline import Pipeline
    from .verify.guard import Guard

    data = load_config(config)
    r = dict(data.get("retriever", {}))
    retriever = retriever if retriever is not None else open_retriever(r)
    g = dict(data.get("generator", {}))
    generator = make_generator(g.pop("model", "default"), **g)
    v = dict(data.get("guard", {}))
    guard = Guard(v.pop("verifier", "default"), embedder=getattr(retriever, "embedder", "minilm-l6"), **v)
    p = dict(data.get("pipeline", {}))
    for key in ("top_k", "mode"):
        if key in r and key not in p:
            p[key] = r[key]
    try:
        return Pipeline(retriever, generator, guard, **p)
    except TypeError as exc:
        raise ConfigError(f"[pipeline] has an unknown key: {exc}; valid keys: policy, top_k, mode, min_relevance") from exc
