"""The verified-answer pipeline and the one place that names the concrete stages.

* ``core``: ``Pipeline`` (retrieve -> generate -> verify -> decide), typed against the stage
  protocols of ``groundqa.protocols``;
* ``policy``: what to do with a judged answer (pure functions);
* ``build``: the stages from a TOML file or from arguments (``build_stages``, ``make_guard``,
  ``make_judge``, ``open_retriever``).

Importing this package loads no model and no heavy library.
"""

from __future__ import annotations

from ..types import Answer, StreamEvent
from .build import build_stages, load_config, make_guard, make_judge, open_retriever
from .core import Pipeline, answer_sentences, build_pipeline
from .policy import POLICIES, WITHHELD_TEXT, Decision, apply_policy, relevance_gate

__all__ = [
    "Answer",
    "Decision",
    "POLICIES",
    "Pipeline",
    "StreamEvent",
    "WITHHELD_TEXT",
    "answer_sentences",
    "apply_policy",
    "build_pipeline",
    "build_stages",
    "load_config",
    "make_guard",
    "make_judge",
    "open_retriever",
    "relevance_gate",
]
