"""Documents: load files and records (``load_documents``) and cut them into chunks (``Chunker``).

    result = load_documents(["docs/", "faq.jsonl"], pattern="*.md")
    for s in result.skipped:
        print(s.source, s.reason)
    chunks = chunk_documents(result.documents, embedder)

The package also ships a small sample corpus (``sample_corpus_dir()``) made of SQuAD v1.1
paragraphs, with questions it can and cannot answer (``sample_questions()``).
"""

from __future__ import annotations

from .chunking import Chunker, TokenCounter, chunk_documents, chunk_id
from .loaders import (
    SUPPORTED_EXTENSIONS,
    IngestResult,
    Skipped,
    documents_from_records,
    html_to_text,
    load_documents,
)
from .sample import SampleQuestion, sample_corpus_dir, sample_questions

__all__ = [
    "Chunker",
    "IngestResult",
    "SUPPORTED_EXTENSIONS",
    "SampleQuestion",
    "Skipped",
    "TokenCounter",
    "chunk_documents",
    "chunk_id",
    "documents_from_records",
    "html_to_text",
    "load_documents",
    "sample_corpus_dir",
    "sample_questions",
]
