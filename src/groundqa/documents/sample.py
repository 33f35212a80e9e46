"""The sample corpus shipped with groundqa: ten short articles made of SQuAD v1.1 paragraphs.

``sample_corpus_dir()`` is the folder to index (``.md`` files); ``sample_questions()`` gives
questions the corpus answers, with gold answers, and questions it cannot answer. Licence and
sources: ``ATTRIBUTION.md`` next to the articles (CC BY-SA 4.0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

_SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


@dataclass(frozen=True)
class SampleQuestion:
    """A question over the sample corpus. ``answers`` is empty when ``answerable`` is False."""

    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    doc_id: str | None = None


def sample_corpus_dir() -> Path:
    """The folder of sample articles (pass it to ``load_documents`` or ``groundqa index build``)."""
    return _SAMPLE / "articles"


def sample_questions() -> list[SampleQuestion]:
    """The sample questions, answerable ones first."""
    data = json.loads((_SAMPLE / "questions.json").read_text(encoding="utf-8"))
    return [
        SampleQuestion(id=q["id"], question=q["question"], answers=tuple(q["answers"]), answerable=bool(q["answerable"]), doc_id=q.get("doc_id"))
        for q in data["questions"]
    ]
