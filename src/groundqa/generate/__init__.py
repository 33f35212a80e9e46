"""The generator stage: prompts with numbered passages, a transformers generator, fine-tuning.

Importing this package loads no torch or transformers; models load in ``warm_up()`` or on first use.

    from groundqa.generate import TransformersGenerator
    gen = TransformersGenerator()               # Qwen2.5-Coder-0.5B + the shipped LoRA adapter
    gen.generate("Who won?", ["[passage text]", ...]).text   # 'Denver Broncos [1]'

    make_generator("openai:http://gpu-box:8000/v1", server_model="groundqa-lora")   # on an inference server
"""

from __future__ import annotations

from ..errors import ConfigError

from .base import Generation, Generator, passage_texts
from .hf import TransformersGenerator
from .openai_server import OpenAIServerGenerator
from .profiles import PROFILES, resolve_profile
from .prompts import DECLINE, PromptTemplate, cut_at_stop, is_decline, parse_citations, strip_citations

__all__ = [
    "DECLINE",
    "Generation",
    "Generator",
    "OpenAIServerGenerator",
    "PROFILES",
    "PromptTemplate",
    "TransformersGenerator",
    "cut_at_stop",
    "is_decline",
    "make_generator",
    "parse_citations",
    "passage_texts",
    "resolve_profile",
    "strip_citations",
]


def make_generator(ref: "str | Generator" = "default", **kwargs: object) -> Generator:
    """A generator from a profile, short name, folder or hub id (:class:`TransformersGenerator`), or
    from ``openai:http://HOST:PORT/v1`` (:class:`OpenAIServerGenerator`; ``server_model`` names the
    server's model); a Generator object passes through. Unknown options are a ConfigError."""
    import inspect

    if not isinstance(ref, str):
        return ref
    if ref.startswith("openai:"):
        kwargs = dict(kwargs)
        if "server_model" in kwargs:
            kwargs["model"] = kwargs.pop("server_model")
        cls: type = OpenAIServerGenerator
    else:
        if kwargs.get("server_model") is not None:
            raise ConfigError(f"server_model={kwargs['server_model']!r} is for a generator on a server; use model = \"openai:http://HOST:PORT/v1\" with it, or drop it")
        kwargs = {k: v for k, v in kwargs.items() if k != "server_model"}
        cls = TransformersGenerator
    valid = [n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "model", "base_url")]
    if cls is OpenAIServerGenerator:
        valid = ["server_model"] + valid
    unknown = sorted(set(kwargs) - set(valid) - {"model"})
    if unknown:
        raise ConfigError(f"[generator] has unknown option(s) {unknown} for {ref!r}; valid: {', '.join(valid)}")
    return cls(ref, **kwargs)  # type: ignore[no-any-return]
