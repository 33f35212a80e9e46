"""Build a pipeline from one TOML file: now ``groundqa.pipeline.build`` (the TOML's keys are
documented there). The names stay importable from here."""

from __future__ import annotations

from .pipeline.build import load_config, open_retriever, read_toml
from .pipeline.core import build_pipeline

__all__ = ["build_pipeline", "load_config", "open_retriever", "read_toml"]
