"""The stages' protocols: what the pipeline and the service need of each stage (typing only).

* ``Retriever``: an index (``groundqa.index.HybridIndex``, ``groundqa.index.milvus.MilvusRetriever``);
* ``Generator``: answers from numbered passages (``groundqa.generate``);
* ``Verifier``: judges every claim of an answer (``groundqa.verify.Guard``).

The pipeline (``groundqa.pipeline.core``) is typed against these, never against a concrete stage.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

from .types import Chunk, Generation, GuardResult, Passage


@runtime_checkable
class Retriever(Protocol):
    """What the pipeline and the service need from a retrieval backend."""

    def search(self, query: str, *, top_k: int | None = None, mode: str | None = None, filters: Mapping[str, Any] | None = None) -> "list[Passage]": ...

    def search_batch(self, queries: Sequence[str], *, top_k: int | None = None, mode: str | None = None, filters: Mapping[str, Any] | None = None) -> "list[list[Passage]]": ...

    def add(self, chunks: "Iterable[Chunk]", *, show_progress: bool = False) -> int: ...

    def delete(self, doc_ids: Iterable[str]) -> int: ...

    def __len__(self) -> int: ...


@runtime_checkable
class Generator(Protocol):
    """Answers a question from numbered passages (str or :class:`~groundqa.types.Passage`)."""

    name: str

    def warm_up(self) -> None: ...

    def generate(self, question: str, passages: Sequence[Any], **overrides: Any) -> Generation: ...

    def generate_batch(self, questions: Sequence[str], passages: Sequence[Sequence[Any]], **overrides: Any) -> list[Generation]: ...

    def stream(self, question: str, passages: Sequence[Any], **overrides: Any) -> Iterator[str]: ...


@runtime_checkable
class Verifier(Protocol):
    """Judges every claim of an answer against the passages it was generated from."""

    def warm_up(self) -> None: ...

    def verify_batch(self, items: Sequence[tuple[str | None, str, Sequence[Passage]]]) -> list[GuardResult]: ...
