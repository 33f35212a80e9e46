"""groundqa: question answering that can prove what it says.

Importing this package loads no model and no heavy library (torch, faiss, transformers); names
below are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import _moved

__version__ = "0.1.0"

_moved.install()  # old import paths of moved modules (groundqa._moved)

_EXPORTS = {
    # types
    "Document": "groundqa.types",
    "Chunk": "groundqa.types",
    "Passage": "groundqa.types",
    # errors
    "GroundQAError": "groundqa.errors",
    "ConfigError": "groundqa.errors",
    "ModelNotFoundError": "groundqa.errors",
    "DocumentError": "groundqa.errors",
    "IndexFormatError": "groundqa.errors",
    "EmbedderMismatchError": "groundqa.errors",
    "GeneratorServerError": "groundqa.errors",
    # models and text
    "resolve_model": "groundqa.models",
    "split_sentences": "groundqa.text",
    # documents
    "load_documents": "groundqa.documents",
    "Chunker": "groundqa.documents",
    # index
    "HybridIndex": "groundqa.index",
    "make_embedder": "groundqa.embed",
    # generator, guard, pipeline
    "TransformersGenerator": "groundqa.generate.hf",
    "OpenAIServerGenerator": "groundqa.generate.openai_server",
    "Guard": "groundqa.verify.guard",
    "Pipeline": "groundqa.pipeline",
    "Answer": "groundqa.pipeline",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'groundqa' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
