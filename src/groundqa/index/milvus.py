"""The Milvus backend: the same ``Retriever`` protocol as ``HybridIndex``, run by a Milvus engine.

One collection holds the chunks. Its schema::

    id        VARCHAR primary key      the chunk id (a content hash): adding a chunk twice is a no-op
    doc_id    VARCHAR                  delete by document id; filterable
    text      VARCHAR + analyzer       input of the engine's BM25 function
    start/end INT64                    character offsets into the document
    source    VARCHAR                  filterable
    metadata  JSON                     filterable (equality, membership, ranges, $ne)
    meta_keys ARRAY<VARCHAR>           the metadata keys present ($ne needs "the key exists")
    sparse    SPARSE_FLOAT_VECTOR      BM25 function output, SPARSE_INVERTED_INDEX, metric BM25
    dense     FLOAT_VECTOR             the embedder's unit vectors, AUTOINDEX by default, metric IP

Where it runs is set by a URI: a local file path (``./rag.db``) starts the embedded engine
(milvus-lite, which bundles Milvus's C++ core); ``http://host:19530`` with an optional ``token``
reaches a standalone server or a distributed cluster. Persistence is Milvus's.

How BM25 matches the embedded index (bm25s, method "lucene", ``sparse.Tokenizer``):

* formula: both use idf = ln(1 + (N - n + 0.5) / (n + 0.5)) and document-length normalisation
  with the same k1 and b. Milvus multiplies every score by (k1 + 1) (the classic Robertson form);
  Lucene dropped that constant factor. Scores here are divided by (k1 + 1), so they equal bm25s's
  (to float32 precision) and rank identically. Repeated query words count once per repetition in
  both.
* analyzer: ``standard`` tokenizer (splits on every character that is not a Unicode letter or
  digit), ``lowercase``, ``stop`` with bm25s's English list (the 33 Lucene stop words, passed
  explicitly) and the Snowball ``english`` stemmer. Where they still differ: (1) the stemmer
  versions: PyStemmer 3 implements Snowball 3's English, which no longer undoubles after "-ing"/
  "-ed" in short words ("adding" -> "add"), while Milvus's rust-stemmers has the older Porter2
  ("adding" -> "ad"); (2) ``\\w+`` keeps the underscore inside a word (``snake_case`` is one token
  for bm25s, two for Milvus); (3) Unicode combining marks that Python counts as word characters
  but Rust does not may split a word in Milvus; (4) without PyStemmer the embedded index does not
  stem at all. On SQuAD dev, 97.6% of queries get the identical BM25 top-10 and nDCG@10 differs by
  0.0001 (benchmarks/results/milvus/milvus_retrieval.json).
* statistics: N and average document length are the collection's; after deletes milvus-lite
  scores exactly like an index built from scratch (tested). On a server, deleted rows may count
  in the statistics until compaction (not verified here: no server was available).

Fusion follows ``HybridIndex``: ``weighted`` (bm25 0.6, dense 0.4) by default, or ``rrf``.
Weighted fusion (and RRF with unequal weights) is computed in the client. With ``fusion="rrf"``
and equal weights, ``fuse="engine"`` (default) runs ``hybrid_search`` with the engine's ``RRFRanker(rrf_k)``
(one request per query: with several queries in one request milvus-lite 2.5.1 returned other
top-10s than one at a time, overlap down to 0.6); each passage's ``scores`` holds its exact dense score
(computed from the stored vector) but no BM25 score, which the engine does not report.
``fuse="client"`` runs the two searches and fuses them with ``groundqa.index.fusion`` exactly as
``HybridIndex`` does, with both per-retriever scores, per-retriever weights and ``weighted`` fusion.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..errors import ConfigError, EmbedderMismatchError, GroundQAError, IndexFormatError, check_choice
from ..ids import ALLOWED_ID_CHARACTERS, id_problem
from ..types import Chunk, Passage
from . import fusion as fusion_fns
from .hybrid import DEFAULT_FUSION, DEFAULT_NORM, NORMS, HybridIndex, check_queries
from ..embed import DEFAULT_EMBEDDER, Embedder, encode_queries, make_embedder
from .filters import Filters, compile_filters

FORMAT_VERSION = 1
MODES: tuple[str, ...] = ("hybrid", "bm25", "dense")
FUSIONS: tuple[str, ...] = ("rrf", "weighted")
FUSE_AT: tuple[str, ...] = ("engine", "client")
RETRIEVERS: tuple[str, ...] = ("bm25", "dense")
DENSE_INDEXES: tuple[str, ...] = ("AUTOINDEX", "FLAT", "IVF_FLAT", "HNSW")
METRICS: tuple[str, ...] = ("IP", "COSINE")
CONSISTENCY: tuple[str, ...] = ("Strong", "Bounded", "Session", "Eventually")
DEFAULT_COLLECTION = "groundqa"
MAX_TOPK = 16384  # Milvus's limit on one search's results
MAX_ID_BYTES = 512
MAX_TEXT_BYTES = 65535
MAX_META_KEYS = 256
TIE_SLACK = 16  # extra results fetched so equal scores can be ordered by chunk id, as HybridIndex does
_CHUNK_FIELDS = ["id", "doc_id", "text", "start", "end", "source", "metadata"]
_REMOTE = ("http://", "https://", "tcp://", "grpc://", "unix:")
# milvus-lite starts one engine process per file and keeps it until the Python process exits;
# retrievers count their users per file so the last ``close()`` stops it.
_LITE_USERS: dict[str, int] = {}
_LITE_LOCK = threading.Lock()


class MilvusError(GroundQAError):
    """The Milvus engine refused or failed a request."""


class _Never:
    """A filter that no chunk can satisfy (an empty membership list, a range over a text field)."""

    def __repr__(self) -> str:
        return "NEVER"


NEVER = _Never()


# -- pure helpers -----------------------------------------------------------------------------------


def analyzer_params(stopwords: str | None = "en", stemmer: str | None = "english") -> dict[str, Any]:
    """Milvus analyzer settings that tokenise like ``sparse.Tokenizer(stopwords, stemmer)``."""
    filters: list[Any] = ["lowercase"]
    if stopwords == "en":
        from bm25s.stopwords import STOPWORDS_EN

        filters.append({"type": "stop", "stop_words": sorted(STOPWORDS_EN)})
    elif stopwords is not None:
        raise ConfigError(f"stopwords={stopwords!r} is not valid; use 'en' or None")
    if stemmer:
        filters.append({"type": "stemmer", "language": stemmer})
    return {"tokenizer": "standard", "filter": filters}


def is_local_uri(uri: str) -> bool:
    """True for a file path (milvus-lite), False for a server URI (``http://``, ``https://``, ...)."""
    return not uri.lower().startswith(_REMOTE)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"filter value {value!r} is not a finite number")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise ConfigError(f"filter value {value!r} ({type(value).__name__}) cannot be sent to Milvus; use a string, number or boolean")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    raise ConfigError(f"filter value {value!r} ({type(value).__name__}) cannot be sent to Milvus; use a string, number or boolean")


def _membership(ref: str, values: Iterable[Any], column: bool) -> str | _Never:
    # Milvus cannot mix types in one `in [...]` list: one list per type, joined with `or`.
    groups: dict[str, list[Any]] = {}
    for v in values:
        k = _kind(v)
        if column and k != "str":
            continue  # doc_id and source are text: a number or boolean never equals them
        if k == "number" and isinstance(v, float) and v.is_integer():
            groups.setdefault("int", []).append(int(v))
        elif k == "number":
            groups.setdefault("int" if isinstance(v, int) else "float", []).append(v)
        else:
            groups.setdefault(k, []).append(v)
    parts = [f"{ref} in [{', '.join(_literal(v) for v in dict.fromkeys(vals))}]" for vals in groups.values()]
    if not parts:
        return NEVER
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def _field_condition(name: str, cond: Any) -> str | _Never:
    column = name in ("doc_id", "source")
    ref = name if column else f"metadata[{json.dumps(name, ensure_ascii=False)}]"
    has_key = None if column else f"array_contains(meta_keys, {json.dumps(name, ensure_ascii=False)})"
    if isinstance(cond, Mapping):
        parts: list[str] = []
        for op, v in cond.items():
            if op == "$eq":
                if v is None or (column and not isinstance(v, str)):
                    return NEVER
                parts.append(f"{ref} == {_literal(v)}")
            elif op == "$ne":
                if v is None:
                    raise ConfigError(f"filter {name!r}: $ne null cannot be expressed in Milvus; filter on a value instead")
                if column and not isinstance(v, str):
                    continue  # a text column always differs from a number
                parts.append(f"{ref} != {_literal(v)}" if column else f"({has_key} and {ref} != {_literal(v)})")
            elif op == "$in":
                m = _membership(ref, v, column)
                if m is NEVER:
                    return NEVER
                parts.append(m)  # type: ignore[arg-type]
            else:
                if column:
                    return NEVER  # ranges hold for numbers only; doc_id and source are text
                sym = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
                parts.append(f"{ref} {sym} {_literal(v)}")
        return " and ".join(parts) if parts else ("" if column else has_key)  # type: ignore[return-value]
    if isinstance(cond, (list, tuple, set, frozenset)):
        return _membership(ref, cond, column)
    if cond is None or (column and not isinstance(cond, str)):
        return NEVER
    return f"{ref} == {_literal(cond)}"


def filter_expression(filters: Filters | None) -> str | None | _Never:
    """A Milvus boolean expression for a groundqa filter mapping (see ``filters.py``).

    Returns None for no filter and ``NEVER`` when no chunk can match (the search is then skipped).
    Fields are metadata keys (``metadata["key"]``) plus the ``doc_id`` and ``source`` columns.
    """
    compile_filters(filters)  # the same validation, and the same messages, as the embedded index
    if not filters:
        return None
    parts = []
    for name, cond in filters.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"filter field {name!r} is not valid; use a metadata key, doc_id or source")
        expr = _field_condition(name, cond)
        if expr is NEVER:
            return NEVER
        if expr:
            parts.append(f"({expr})")
    return " and ".join(parts) if parts else None


def _quote_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- the retriever ----------------------------------------------------------------------------------


class MilvusRetriever:
    """BM25, dense and hybrid retrieval over one Milvus collection.

    ``uri``: a local file path (milvus-lite, started in-process) or ``http(s)://host:port``
    (a Milvus server or cluster; ``token`` is ``"user:password"`` or an API key).
    An existing collection is opened with its stored settings; ``embedder=None`` then uses the
    one it was built with, and another embedder fails with ``EmbedderMismatchError``.
    """

    def __init__(
        self,
        uri: str | Path,
        embedder: str | Embedder | None = None,
        *,
        collection: str = DEFAULT_COLLECTION,
        token: str | None = None,
        db_name: str | None = None,
        k1: float = 1.5,
        b: float = 0.75,
        stopwords: str | None = "en",
        stemmer: str | None = "english",
        dense_index: str = "AUTOINDEX",
        dense_params: Mapping[str, Any] | None = None,
        metric: str = "IP",
        fusion: str = DEFAULT_FUSION,
        fuse: str = "engine",
        rrf_k: float = 60.0,
        weights: Mapping[str, float] | None = None,
        norm: str = DEFAULT_NORM,
        candidates: int | Mapping[str, int] = 100,
        top_k: int = 10,
        mode: str = "hybrid",
        batch_size: int = 256,
        flush_every: int = 20,
        consistency: str = "Strong",
        timeout: float | None = None,
        workers: int = 4,
    ) -> None:
        if isinstance(uri, Path):
            uri = str(uri)
        if not isinstance(uri, str) or not uri.strip():
            raise ConfigError(f"uri={uri!r} is not valid; pass a local file such as './groundqa.db' (embedded Milvus) or 'http://host:19530'")
        self.uri = uri.strip()
        self.local = is_local_uri(self.uri)
        if not isinstance(collection, str) or not collection or not collection.replace("_", "a").isalnum() or collection[0].isdigit():
            raise ConfigError(f"collection={collection!r} is not valid; use letters, digits and underscores, starting with a letter")
        self.collection = collection
        self.token = token
        self.db_name = db_name
        if isinstance(k1, bool) or not isinstance(k1, (int, float)) or k1 < 0:
            raise ConfigError(f"k1={k1!r} is not valid; BM25's k1 must be a number >= 0 (1.2 to 2.0 is usual)")
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not 0 <= b <= 1:
            raise ConfigError(f"b={b!r} is not valid; BM25's b must be between 0 and 1 (0.75 is usual)")
        self.k1, self.b = float(k1), float(b)
        self.analyzer = analyzer_params(stopwords, stemmer)
        self.stopwords, self.stemmer = stopwords, stemmer
        self.dense_index = check_choice("dense_index", dense_index, DENSE_INDEXES)
        self.dense_params = dict(dense_params or {})
        self.metric = check_choice("metric", metric, METRICS)
        self.fusion = check_choice("fusion", fusion, FUSIONS)
        self.fuse = check_choice("fuse", fuse, FUSE_AT)
        if isinstance(rrf_k, bool) or not isinstance(rrf_k, (int, float)) or rrf_k < 0:
            raise ConfigError(f"rrf_k={rrf_k!r} is not valid; it must be a number >= 0 (60 is usual)")
        self.rrf_k = float(rrf_k)
        self.weights = HybridIndex._check_weights(weights, self.fusion)
        self.norm = check_choice("norm", norm, NORMS)
        self.candidates = self._check_candidates(candidates)
        self.top_k = self._check_top_k(top_k)
        self.mode = check_choice("mode", mode, MODES)
        self.batch_size = self._check_top_k(batch_size, "batch_size")
        self.flush_every = self._check_top_k(flush_every, "flush_every")
        self.consistency = check_choice("consistency", consistency, CONSISTENCY)
        self.workers = self._check_top_k(workers, "workers")
        self.timeout = timeout
        self.extra: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._client: Any = None
        self._exists: bool | None = None
        self._embedder_ref = embedder
        self._embedder: Embedder | None = None
        self._embedder_checked = False
        self._stored: dict[str, Any] | None = None
        self._lite_path: str | None = None
        self._open()

    # -- validation -------------------------------------------------------------------------------
    @staticmethod
    def _check_top_k(value: Any, name: str = "top_k") -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{name}={value!r} is not valid; it must be a positive integer")
        if name in ("top_k", "candidates") and value > MAX_TOPK - TIE_SLACK:
            raise ConfigError(f"{name}={value} is too large; Milvus returns at most {MAX_TOPK - TIE_SLACK} results per query here")
        return value

    _check_candidates = classmethod(HybridIndex._check_candidates.__func__)  # one rule, with this class's _check_top_k

    # -- connection -------------------------------------------------------------------------------
    def _open(self) -> None:
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise ConfigError("the Milvus backend needs pymilvus (and milvus-lite for a local file): pip install 'groundqa[milvus]'") from exc
        kwargs: dict[str, Any] = {"uri": self.uri}
        if self.local:
            path = Path(self.uri).expanduser()
            if path.exists() and path.is_dir():
                raise ConfigError(f"uri={self.uri!r} is a directory; a local Milvus URI is a file path such as {str(path / 'milvus.db')!r}")
            if not path.name.endswith(".db"):
                raise ConfigError(f"uri={self.uri!r}: a local Milvus file must end in '.db' (milvus-lite's rule), e.g. {self.uri + '.db'!r}")
            try:
                import milvus_lite  # noqa: F401
            except ImportError as exc:
                raise ConfigError(f"uri={self.uri!r} is a local file, which needs the embedded engine: pip install 'milvus-lite==2.5.1' (or use an http:// URI)") from exc
            path.parent.mkdir(parents=True, exist_ok=True)
            kwargs["uri"] = str(path.resolve())
        if self.token:
            kwargs["token"] = self.token
        if self.db_name:
            kwargs["db_name"] = self.db_name
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        try:
            self._client = MilvusClient(**kwargs)
        except Exception as exc:
            raise MilvusError(f"cannot connect to Milvus at {self.uri!r}: {exc}; check the URI (and token), or start the server") from exc
        self._lite_path = kwargs["uri"] if self.local else None
        if self._lite_path:
            with _LITE_LOCK:
                _LITE_USERS[self._lite_path] = _LITE_USERS.get(self._lite_path, 0) + 1
        self._exists = bool(self._call("has_collection", self.collection))
        if self._exists:
            self._read_stored()

    def _present(self) -> bool:
        """Whether the collection exists; re-checked while it does not (another client may create it)."""
        if not self._exists and self._client is not None:
            with self._lock:
                if not self._exists and self._call("has_collection", self.collection):
                    self._exists = True
                    self._read_stored()
        return bool(self._exists)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, method)(*args, **kwargs)
        except GroundQAError:
            raise
        except Exception as exc:
            raise MilvusError(f"Milvus {method} on collection {self.collection!r} at {self.uri!r} failed: {exc}") from exc

    def _read_stored(self) -> None:
        desc = self._call("describe_collection", self.collection)
        try:
            stored = json.loads(desc.get("description") or "")
        except json.JSONDecodeError:
            stored = None
        if not isinstance(stored, dict) or stored.get("format") != "groundqa-milvus":
            raise IndexFormatError(f"collection {self.collection!r} at {self.uri!r} was not created by groundqa; choose another collection name")
        if stored.get("format_version") != FORMAT_VERSION:
            raise IndexFormatError(f"collection {self.collection!r} has groundqa format version {stored.get('format_version')!r}; this groundqa reads {FORMAT_VERSION}: rebuild it")
        self._stored = stored
        # The collection's BM25 and dense settings are fixed at creation: take them from it.
        self.k1, self.b = float(stored["k1"]), float(stored["b"])
        self.stopwords, self.stemmer = stored.get("stopwords"), stored.get("stemmer")
        self.analyzer = stored.get("analyzer", self.analyzer)
        self.dense_index, self.metric = stored["dense_index"], stored["metric"]
        self.dense_params = dict(stored.get("dense_params") or {})
        self.extra = dict(stored.get("extra") or {})
        if not self.local:
            state = self._call("get_load_state", self.collection)
            if "Loaded" not in str(state.get("state", "")):
                self._call("load_collection", self.collection)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            ref = self._embedder_ref
            if ref is None:
                ref = self._stored["embedder"]["name"] if self._stored else DEFAULT_EMBEDDER
            self._embedder = make_embedder(ref)
        return self._embedder

    def _check_embedder(self) -> Embedder:
        emb = self.embedder
        if not self._embedder_checked and self._stored is not None:
            built = self._stored["embedder"]
            ident = emb.identity()
            if ident.get("name") != built.get("name") or ident.get("dim") != built.get("dim"):
                raise EmbedderMismatchError(
                    f"collection {self.collection!r} was built with embedder {built.get('name')!r} (dim {built.get('dim')}), "
                    f"not {ident.get('name')!r} (dim {ident.get('dim')}); open it with embedder={built.get('name')!r} "
                    "or build a new collection with the new embedder"
                )
        self._embedder_checked = True
        return emb

    def warm_up(self) -> None:
        warm = getattr(self.embedder, "warm_up", None)
        if warm:
            warm()

    def close(self) -> None:
        """Flush and close the connection; the last retriever on a milvus-lite file stops its engine."""
        with self._lock:
            if self._client is None:
                return
            try:
                if self._exists:
                    self._client.flush(self.collection)
            finally:
                self._client.close()
                self._client = None
                if self._lite_path:
                    with _LITE_LOCK:
                        left = _LITE_USERS.get(self._lite_path, 1) - 1
                        if left > 0:
                            _LITE_USERS[self._lite_path] = left
                        else:
                            _LITE_USERS.pop(self._lite_path, None)
                            from milvus_lite.server_manager import server_manager_instance

                            server_manager_instance.release_server(self._lite_path)

    def __enter__(self) -> "MilvusRetriever":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        with self._lock:
            if self._call("has_collection", self.collection):
                self._call("drop_collection", self.collection)
            self._exists, self._stored = False, None

    # -- schema -----------------------------------------------------------------------------------
    def _manifest(self) -> dict[str, Any]:
        return {
            "format": "groundqa-milvus",
            "format_version": FORMAT_VERSION,
            "embedder": {k: v for k, v in self.embedder.identity().items() if k in ("name", "dim")},
            "k1": self.k1,
            "b": self.b,
            "stopwords": self.stopwords,
            "stemmer": self.stemmer,
            "analyzer": self.analyzer,
            "dense_index": self.dense_index,
            "dense_params": self.dense_params,
            "metric": self.metric,
            "extra": self.extra,
        }

    def _create(self) -> None:
        from pymilvus import DataType, Function, FunctionType

        manifest = self._manifest()
        dim = int(manifest["embedder"]["dim"])
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False, description=json.dumps(manifest, sort_keys=True))
        schema.add_field("id", DataType.VARCHAR, max_length=MAX_ID_BYTES, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=4096)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES, enable_analyzer=True, analyzer_params=self.analyzer)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("source", DataType.VARCHAR, max_length=4096)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("meta_keys", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_META_KEYS, max_length=512)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_function(Function(name="text_bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"]))
        index_params = self._client.prepare_index_params()
        index_params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": self.k1, "bm25_b": self.b})
        dense_params = dict(self.dense_params)
        if self.dense_index == "HNSW":
            dense_params = {"M": 32, "efConstruction": 40, **dense_params}  # as the embedded HNSW
        elif self.dense_index == "IVF_FLAT":
            dense_params = {"nlist": 128, **dense_params}
        index_params.add_index(field_name="dense", index_type=self.dense_index, metric_type=self.metric, params=dense_params)
        if not self.local:  # a scalar index makes delete-by-document fast on a server
            index_params.add_index(field_name="doc_id", index_type="INVERTED")
        self._call("create_collection", self.collection, schema=schema, index_params=index_params, consistency_level=self.consistency)
        self._exists = True
        self._stored = manifest
        self._embedder_checked = True

    # -- contents ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        if not self._present():
            return 0
        res = self._call("query", self.collection, filter="", output_fields=["count(*)"], consistency_level=self.consistency)
        return int(res[0]["count(*)"]) if res else 0

    def _iterate(self, output_fields: list[str], expr: str = "") -> Iterator[dict[str, Any]]:
        if not self._present():
            return
        # milvus-lite cannot hand out a snapshot timestamp; pymilvus warns on each iterator and
        # falls back to a client-side one, which is right here: keep the warning out of the output.
        log = logging.getLogger("pymilvus.client.iterator.query_iterator")
        level = log.level
        log.setLevel(logging.ERROR)
        try:
            it = self._call("query_iterator", self.collection, batch_size=1000, filter=expr, output_fields=output_fields)
        finally:
            log.setLevel(level)
        try:
            while True:
                rows = it.next()
                if not rows:
                    break
                yield from rows
        finally:
            it.close()

    @property
    def chunks(self) -> list[Chunk]:
        """Every chunk, ordered by chunk id (reads the whole collection: for small ones)."""
        return sorted((self._to_chunk(r) for r in self._iterate(_CHUNK_FIELDS)), key=lambda c: c.id)

    def get(self, chunk_id: str) -> Chunk | None:
        if not self._present():
            return None
        rows = self._call("get", self.collection, ids=[chunk_id], output_fields=_CHUNK_FIELDS)
        return self._to_chunk(rows[0]) if rows else None

    def doc_ids(self) -> list[str]:
        return sorted({r["doc_id"] for r in self._iterate(["doc_id"])})

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        rows = self._iterate(_CHUNK_FIELDS, f"doc_id == {json.dumps(doc_id, ensure_ascii=False)}")
        return sorted((self._to_chunk(r) for r in rows), key=lambda c: (c.start, c.id))

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these chunk ids the collection already holds."""
        if not ids or not self._present():
            return set()
        found: set[str] = set()
        for batch in _batched(list(dict.fromkeys(ids)), 1000):
            rows = self._call("query", self.collection, filter=f"id in {_quote_list(batch)}", output_fields=["id"], consistency_level=self.consistency)
            found.update(r["id"] for r in rows)
        return found

    @staticmethod
    def _to_chunk(row: Mapping[str, Any]) -> Chunk:
        return Chunk(id=row["id"], doc_id=row["doc_id"], text=row["text"], start=int(row["start"]), end=int(row["end"]), source=row.get("source") or "", metadata=dict(row.get("metadata") or {}))

    # -- changes ----------------------------------------------------------------------------------
    @staticmethod
    def _row(c: Chunk, vector: np.ndarray) -> dict[str, Any]:
        if len(c.id.encode("utf-8")) > MAX_ID_BYTES:
            raise ConfigError(f"chunk id {c.id[:40]!r}... is longer than {MAX_ID_BYTES} bytes, Milvus's primary-key limit here; use shorter ids")
        if len(c.text.encode("utf-8")) > MAX_TEXT_BYTES:
            raise ConfigError(f"chunk {c.id!r} has {len(c.text.encode('utf-8'))} bytes of text; Milvus holds at most {MAX_TEXT_BYTES}: chunk the document smaller")
        keys = [str(k) for k in c.metadata]
        if len(keys) > MAX_META_KEYS:
            raise ConfigError(f"chunk {c.id!r} has {len(keys)} metadata keys; the Milvus backend keeps at most {MAX_META_KEYS}")
        try:
            meta = json.loads(json.dumps(dict(c.metadata), ensure_ascii=False))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"chunk {c.id!r}: metadata {dict(c.metadata)!r} is not JSON-serialisable ({exc}); keep metadata to strings, numbers, booleans, lists and objects") from exc
        return {"id": c.id, "doc_id": c.doc_id, "text": c.text, "start": int(c.start), "end": int(c.end), "source": c.source or "", "metadata": meta, "meta_keys": keys, "dense": vector.tolist()}

    def add(self, chunks: Iterable[Chunk], *, show_progress: bool = False, batch_size: int | None = None) -> int:
        """Store chunks whose ids are new; returns how many were added (re-adding is a no-op).

        The input is consumed in batches of ``batch_size`` chunks (memory stays bounded for any
        corpus size): each batch's ids are looked up, only new chunks are embedded and inserted.
        Data is flushed every ``flush_every`` batches, so after a crash the same call resumes where
        it stopped (stored chunks are skipped by id, not embedded again).
        """
        size = self._check_top_k(batch_size, "batch_size") if batch_size is not None else self.batch_size
        total = len(chunks) if hasattr(chunks, "__len__") else None  # type: ignore[arg-type]
        bar = None
        if show_progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc="indexing", unit="chunk")
        added = 0
        seen: set[str] = set()
        try:
            for n, batch in enumerate(_batched(chunks, size), start=1):
                for c in batch:
                    if not isinstance(c, Chunk):
                        raise ConfigError(f"add() takes Chunk objects, got {type(c).__name__}; chunk documents with groundqa.documents.Chunker first")
                    problem = id_problem(c.doc_id)
                    if problem is not None:  # it would land in filter expressions and be unreachable by id
                        raise ConfigError(f"chunk {c.id!r}: document id {c.doc_id!r} {problem}; {ALLOWED_ID_CHARACTERS}")
                fresh = []
                for c in batch:
                    if c.id not in seen:
                        seen.add(c.id)
                        fresh.append(c)
                added += self._add_batch(fresh, size)
                if bar is not None:
                    bar.update(len(batch))
                if n % self.flush_every == 0:
                    self._call("flush", self.collection)
        finally:
            if bar is not None:
                bar.close()
        return added

    def _add_batch(self, batch: list[Chunk], size: int) -> int:
        if not batch:
            return 0
        present = self._present()  # first: a collection made by another client brings its embedder
        emb = self._check_embedder()
        with self._lock:
            if not present and not self._present():
                self._create()
        have = self.existing_ids([c.id for c in batch])
        new = [c for c in batch if c.id not in have]
        if not new:
            return 0
        vectors = emb.encode([c.text for c in new], batch_size=min(size, 256))
        rows = [self._row(c, v) for c, v in zip(new, vectors)]
        self._call("insert", self.collection, data=rows)
        return len(rows)

    def delete(self, doc_ids: Iterable[str]) -> int:
        """Remove every chunk of these documents; returns how many chunks were removed."""
        ids = [d for d in dict.fromkeys(doc_ids)]
        for d in ids:
            if not isinstance(d, str):
                raise ConfigError(f"delete() takes document ids (strings), got {d!r}")
        if not ids or not self._present():
            return 0
        removed = 0
        with self._lock:
            for batch in _batched(ids, 500):
                expr = f"doc_id in {_quote_list(batch)}"
                rows = self._call("query", self.collection, filter=expr, output_fields=["id"], consistency_level=self.consistency)
                pks = [r["id"] for r in rows]
                for pk_batch in _batched(pks, 1000):
                    self._call("delete", self.collection, ids=pk_batch)
                removed += len(pks)
            if removed:
                self._call("flush", self.collection)
        return removed

    def flush(self) -> None:
        if self._exists:
            self._call("flush", self.collection)

    def save(self, path: Any = None) -> str:
        """Milvus persists every change itself: flush, and return the URI (``path`` is ignored).

        ``extra`` (the caller's settings, e.g. chunking) is stored with the collection when it is
        created, so set it before the first ``add``."""
        self.flush()
        return self.uri

    # -- search -----------------------------------------------------------------------------------
    def search(self, query: str, *, top_k: int | None = None, mode: str | None = None, filters: Filters | None = None) -> list[Passage]:
        """The ``top_k`` best chunks for ``query``."""
        return self.search_batch([query], top_k=top_k, mode=mode, filters=filters)[0]

    def search_batch(self, queries: Sequence[str], *, top_k: int | None = None, mode: str | None = None, filters: Filters | None = None) -> list[list[Passage]]:
        k = self.top_k if top_k is None else self._check_top_k(top_k)
        mode = self.mode if mode is None else check_choice("mode", mode, MODES)
        check_queries(queries)
        expr = filter_expression(filters)
        queries = list(queries)
        if not queries or expr is NEVER or not self._present():
            return [[] for _ in queries]
        flt = expr or ""
        qvecs = encode_queries(self._check_embedder(), queries) if mode != "bm25" else None
        if mode in ("bm25", "dense"):
            per = self._ranked("sparse" if mode == "bm25" else "dense", queries if mode == "bm25" else qvecs, k, flt)
            rows = self._fetch({cid for hits in per for cid, _ in hits})
            return [
                [Passage(chunk=rows[cid][0], score=sc, rank=i, scores={mode: sc}) for i, (cid, sc) in enumerate((h for h in hits if h[0] in rows), start=1)]
                for hits in per
            ]
        if self.fuse == "engine" and self.fusion == "rrf" and self.weights["bm25"] == self.weights["dense"]:
            return self._engine_rrf(queries, qvecs, k, flt)  # type: ignore[arg-type]
        return self._client_fusion(queries, qvecs, k, flt)  # type: ignore[arg-type]

    def _search_params(self, field: str) -> dict[str, Any]:
        if field == "sparse":
            return {"metric_type": "BM25", "params": {}}
        params: dict[str, Any] = {}
        if self.dense_index == "HNSW":
            params["ef"] = 64
        elif self.dense_index == "IVF_FLAT":
            params["nprobe"] = 16
        return {"metric_type": self.metric, "params": params}

    def _ranked(self, field: str, data: Any, k: int, flt: str) -> list[list[tuple[str, float]]]:
        """Per query: (chunk id, score) best first; equal scores ordered by chunk id.

        Only ids travel back; rows are fetched once per batch by ``_fetch`` (returning every
        field of every candidate is what makes a search slow)."""
        limit = min(k + TIE_SLACK, MAX_TOPK)
        payload = data if field == "sparse" else np.asarray(data, dtype=np.float32).tolist()
        res = self._call(
            "search",
            self.collection,
            data=payload,
            anns_field=field,
            limit=limit,
            filter=flt,
            output_fields=["id"],
            search_params=self._search_params(field),
            consistency_level=self.consistency,
        )
        scale = 1.0 / (1.0 + self.k1) if field == "sparse" else 1.0
        out = []
        for hits in res:
            rows = [(h["id"], float(h["distance"]) * scale) for h in hits]
            rows.sort(key=lambda r: (-np.float32(r[1]), r[0]))
            out.append(rows[:k])
        return out

    def _fetch(self, ids: Iterable[str], with_vectors: bool = False) -> dict[str, tuple[Chunk, np.ndarray | None]]:
        """Chunks (and dense vectors) by id; ids deleted in the meantime are simply absent."""
        fields = _CHUNK_FIELDS + (["dense"] if with_vectors else [])
        out: dict[str, tuple[Chunk, np.ndarray | None]] = {}
        for batch in _batched(sorted(ids), 1000):
            for r in self._call("get", self.collection, ids=batch, output_fields=fields):
                out[r["id"]] = (self._to_chunk(r), np.asarray(r["dense"], dtype=np.float32) if with_vectors else None)
        return out

    def _engine_rrf(self, queries: list[str], qvecs: np.ndarray, k: int, flt: str) -> list[list[Passage]]:
        from pymilvus import AnnSearchRequest, RRFRanker

        ranker = RRFRanker(int(self.rrf_k) if float(self.rrf_k).is_integer() else self.rrf_k)

        # One request per query: milvus-lite 2.5.1 returns other fusions for several queries in
        # one hybrid_search (nq > 1; seen in the contract test), so queries are not batched here;
        # the requests run on a few threads instead (the gRPC client is thread-safe).
        def one(item: tuple[str, np.ndarray]) -> list[Any]:
            q, qv = item
            reqs = [
                AnnSearchRequest(data=[q], anns_field="sparse", param=self._search_params("sparse"), limit=self.candidates["bm25"], expr=flt or None),
                AnnSearchRequest(data=[qv.tolist()], anns_field="dense", param=self._search_params("dense"), limit=self.candidates["dense"], expr=flt or None),
            ]
            return list(self._call("hybrid_search", self.collection, reqs, ranker, limit=k, output_fields=["id"], consistency_level=self.consistency)[0])

        items = list(zip(queries, qvecs))
        if len(items) > 1 and self.workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
                res = list(pool.map(one, items))
        else:
            res = [one(it) for it in items]
        rows = self._fetch({h["id"] for hits in res for h in hits}, with_vectors=True)
        weight = self.weights["bm25"]  # equal weights: the engine's RRF scaled by that weight
        out = []
        for qv, hits in zip(qvecs, res):
            passages = []
            for h in hits:
                if h["id"] not in rows:
                    continue
                chunk, vec = rows[h["id"]]
                dense = float(np.dot(vec, qv))  # type: ignore[arg-type]
                if self.metric == "COSINE":
                    dense /= float(np.linalg.norm(vec) * np.linalg.norm(qv)) or 1.0
                passages.append(Passage(chunk=chunk, score=float(h["distance"]) * weight, rank=len(passages) + 1, scores={"dense": dense}))
            out.append(passages)
        return out

    def _client_fusion(self, queries: list[str], qvecs: np.ndarray, k: int, flt: str) -> list[list[Passage]]:
        sparse = self._ranked("sparse", queries, self.candidates["bm25"], flt)
        dense = self._ranked("dense", qvecs, self.candidates["dense"], flt)
        fused_all = []
        wanted: set[str] = set()
        for s_hits, d_hits in zip(sparse, dense):
            per = {"bm25": dict(s_hits), "dense": dict(d_hits)}
            w = [self.weights["bm25"], self.weights["dense"]]
            if self.fusion == "rrf":
                ranked = fusion_fns.rrf([list(per["bm25"]), list(per["dense"])], k=self.rrf_k, weights=w)
            else:
                ranked = fusion_fns.weighted([per["bm25"], per["dense"]], weights=w, norm=self.norm)
            top = ranked[:k]
            wanted.update(cid for cid, _ in top)
            fused_all.append((top, per))
        rows = self._fetch(wanted)
        out = []
        for top, per in fused_all:
            out.append(
                [
                    Passage(chunk=rows[cid][0], score=float(score), rank=rank, scores={n: per[n][cid] for n in per if cid in per[n]})
                    for rank, (cid, score) in enumerate((t for t in top if t[0] in rows), start=1)  # a chunk deleted meanwhile is dropped
                ]
            )
        return out

    # -- description ------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "backend": "milvus",
            "uri": self.uri,
            "collection": self.collection,
            "engine": "milvus-lite" if self.local else "milvus-server",
            "sparse": {"backend": "milvus-bm25", "k1": self.k1, "b": self.b, "method": "lucene", "analyzer": self.analyzer, "tokenizer": {"stopwords": self.stopwords, "stemmer": self.stemmer}},
            "dense": {"index": self.dense_index, "params": self.dense_params, "metric": self.metric},
            "fusion": {"method": self.fusion, "at": self.fuse, "rrf_k": self.rrf_k, "weights": self.weights, "norm": self.norm, "candidates": self.candidates},
            "top_k": self.top_k,
            "mode": self.mode,
            "consistency": self.consistency,
        }

    def info(self) -> dict[str, Any]:
        n = len(self)
        stored_emb = (self._stored or {}).get("embedder")
        return {
            "format_version": FORMAT_VERSION,
            "chunks": n,
            "documents": len(self.doc_ids()) if n <= 1_000_000 else None,
            "embedder": stored_emb if stored_emb else (self.embedder.identity() if self._embedder is not None else {"name": self._embedder_ref or DEFAULT_EMBEDDER}),
            "gpu": False,
            **self.config(),
        }

    def __repr__(self) -> str:
        return f"MilvusRetriever(uri={self.uri!r}, collection={self.collection!r})"


def wait_for_count(retriever: MilvusRetriever, n: int, timeout: float = 30.0) -> int:
    """Wait until a server with weaker consistency shows ``n`` rows (tests against a cluster)."""
    t0 = time.perf_counter()
    while True:
        c = len(retriever)
        if c == n or time.perf_counter() - t0 > timeout:
            return c
        time.sleep(0.2)
