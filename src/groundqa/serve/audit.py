"""The audit log: every answer the service gives, in SQLite, and the review loop over it.

One row per answer: question (as asked and as rewritten), the answer returned and the one
generated, the policy, verdict and reason, the weakest claim's support, every claim (text, span,
probability, verdict, citation), the passages (ids, document ids, scores, text), the model ids,
timings, the API key's name and the time.

Answers the guard did not fully pass (verdict ``flagged``, ``unsupported``, ``trimmed`` or
``withheld`` with unsupported claims) are *flagged*; ``groundqa review`` lists them (and, with
``--declined``, the answers the service did not give: declined, or withheld before any claim was
checked), and a reviewer marks each ``correct`` (as is) or ``corrected`` (with the right answer,
and optionally which claims were unsupported). Reviewed answers export as

* fine-tuning data for the generator: JSONL ``{question, answer, context, contexts, doc_id}``
  (``finetune_export``). The answer is the reviewed text without citation marks (``[1]``): what
  ``groundqa finetune`` puts before the citation it adds. ``context`` is the passage that holds the
  answer and ``doc_id`` its document. An answer that is in none of its passages word for word is
  replaced by the passage span that matches it best (token F1 >= 0.5; the reviewer's words stay
  in ``reviewed_answer``), or skipped and counted when no span matches; it never becomes a decline
  target unless the reviewer marked a decline correct;
* labelled pairs for the verifier: JSONL ``{claim, evidence, label}`` with label 1 (supported) or
  0 (unsupported): every claim of an answer marked correct is 1; for a corrected answer the claims
  the reviewer named (default: the ones the guard flagged) are 0, the others are left out (a
  correction does not say they were right), and the corrected answer's claims are 1 against the
  passage sentences that hold it, where a passage does.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import ConfigError

FLAGGED_VERDICTS = ("flagged", "unsupported", "trimmed", "withheld")
REVIEW_STATUSES = ("correct", "corrected")
# answers the service did not give: the generator declined, or nothing was checked and the answer
# was withheld (no relevant passage, or no checkable claim); none is "flagged", and a wrong decline
# is found only by listing these
DECLINED_SQL = "(verdict = 'declined' OR (verdict = 'withheld' AND flagged = 0))"
MIN_SPAN_F1 = 0.5  # a reviewed answer in no passage is replaced by a span matching it at least this well

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    question TEXT NOT NULL,
    rewritten TEXT,
    answer TEXT NOT NULL,
    generated TEXT NOT NULL,
    policy TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reason TEXT,
    support REAL NOT NULL,
    flagged INTEGER NOT NULL,
    claims TEXT NOT NULL,
    passages TEXT NOT NULL,
    passage_ids TEXT NOT NULL,
    models TEXT NOT NULL,
    timings TEXT NOT NULL,
    api_key TEXT,
    review_status TEXT,
    corrected_answer TEXT,
    unsupported_claims TEXT,
    reviewer TEXT,
    review_note TEXT,
    reviewed_at REAL
);
CREATE INDEX IF NOT EXISTS answers_flagged ON answers(flagged, review_status);
"""
_COLUMNS = [line.split()[0] for line in _SCHEMA.split("(", 1)[1].split(");", 1)[0].strip().splitlines()]


@dataclass(frozen=True)
class AuditRecord:
    id: int
    time: float
    question: str
    rewritten: str | None
    answer: str
    generated: str
    policy: str
    verdict: str
    reason: str | None
    support: float
    flagged: bool
    claims: list[dict[str, Any]]
    passages: list[dict[str, Any]]
    passage_ids: list[str]
    models: dict[str, str]
    timings: dict[str, float]
    api_key: str | None
    review_status: str | None
    corrected_answer: str | None
    unsupported_claims: list[int] | None
    reviewer: str | None
    review_note: str | None
    reviewed_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def is_flagged(answer: Mapping[str, Any]) -> bool:
    """An answer the guard did not fully pass (a plain decline or no-passage withhold is not)."""
    if any(c.get("verdict") != "supported" for c in answer.get("claims", [])):
        return True
    return answer.get("verdict") in FLAGGED_VERDICTS and bool(answer.get("claims"))


class AuditLog:
    """Thread-safe SQLite audit log (WAL mode; one connection behind a lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        try:  # read first: a file that is not groundqa's is left exactly as it was
            have = {r["name"] for r in self._db.execute("PRAGMA table_info(answers)")}
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise ConfigError(
                f"the audit log {self.path} cannot be opened as an SQLite database ({exc}); it is damaged or another kind of file. "
                f"Move it away (the service then starts a new, empty audit log there) or point audit_path in the [serve] table "
                "at another file; `sqlite3 FILE .recover` may save its rows"
            ) from None
        missing = [c for c in _COLUMNS if c not in have] if have else []
        if missing:
            self._db.close()
            raise ConfigError(
                f"the audit log {self.path} has a table 'answers' without the column(s) {', '.join(missing)}: it was not written by "
                "groundqa. Move it away (a new one is started there) or point audit_path in the [serve] table at another file"
            )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(self, answer: Mapping[str, Any], *, rewritten: str | None = None, api_key: str | None = None) -> int:
        """Store an ``Answer.to_dict()``; returns its audit id."""
        passages = [
            {k: p.get(k) for k in ("id", "doc_id", "rank", "score", "scores", "source", "start", "end", "text")}
            for p in answer.get("passages", [])
        ]
        row = (
            time.time(),
            answer["question"],
            rewritten,
            answer.get("answer", ""),
            answer.get("generated", ""),
            answer.get("policy", ""),
            answer.get("verdict", ""),
            answer.get("reason"),
            float(answer.get("support", 0.0)),
            int(is_flagged(answer)),
            json.dumps(answer.get("claims", []), ensure_ascii=False),
            json.dumps(passages, ensure_ascii=False),
            json.dumps([p["id"] for p in passages]),
            json.dumps(answer.get("models", {})),
            json.dumps(answer.get("timings_ms", {})),
            api_key,
        )
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO answers (time, question, rewritten, answer, generated, policy, verdict, reason, support, flagged, claims, passages, passage_ids, models, timings, api_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            return int(cur.lastrowid)

    # -- review -----------------------------------------------------------------------------------
    def list(self, *, status: str = "pending", flagged_only: bool = True, limit: int = 50, declined: bool = False) -> list[AuditRecord]:
        """``status``: pending (not reviewed), reviewed, or all. ``declined``: only the answers the
        service did not give (see ``DECLINED_SQL``), flagged or not."""
        if status not in ("pending", "reviewed", "all"):
            raise ConfigError(f"status={status!r} is not valid; choose one of: pending, reviewed, all")
        where = _status_where(status)
        if declined:
            where.append(DECLINED_SQL)
        elif flagged_only:
            where.append("flagged = 1")
        sql = "SELECT * FROM answers" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
        with self._lock:
            return [_record(r) for r in self._db.execute(sql, (int(limit),))]

    def count_declined(self, *, status: str = "pending") -> int:
        """How many answers ``list(declined=True)`` would show (without a limit)."""
        where = _status_where(status) + [DECLINED_SQL]
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers WHERE " + " AND ".join(where)).fetchone()[0])

    def get(self, answer_id: int) -> AuditRecord | None:
        with self._lock:
            r = self._db.execute("SELECT * FROM answers WHERE id = ?", (int(answer_id),)).fetchone()
        return None if r is None else _record(r)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def mark(self, answer_id: int, *, correct: bool = False, corrected_answer: str | None = None, unsupported_claims: Sequence[int] | None = None, reviewer: str | None = None, note: str | None = None) -> AuditRecord:
        """Mark an answer ``correct`` as is, or ``corrected`` with the right answer."""
        rec = self.get(answer_id)
        if rec is None:
            raise ConfigError(f"answer id {answer_id} is not in the audit log {self.path}; list ids with `groundqa review list`")
        if correct == (corrected_answer is not None):
            raise ConfigError("mark an answer either correct as is (--correct) or with a corrected answer (--answer TEXT), not both or neither")
        if corrected_answer is not None and not corrected_answer.strip():
            raise ConfigError("--answer is empty; give the corrected answer text")
        if unsupported_claims is not None:
            bad = [i for i in unsupported_claims if not 0 <= i < len(rec.claims)]
            if bad:
                raise ConfigError(f"claim indices {bad} are out of range: answer {answer_id} has {len(rec.claims)} claims (0..{len(rec.claims) - 1})")
            if correct:
                raise ConfigError("--unsupported-claims goes with --answer (a corrected answer), not with --correct")
        status = "correct" if correct else "corrected"
        with self._lock:
            self._db.execute(
                "UPDATE answers SET review_status=?, corrected_answer=?, unsupported_claims=?, reviewer=?, review_note=?, reviewed_at=? WHERE id=?",
                (status, corrected_answer, json.dumps(list(unsupported_claims)) if unsupported_claims is not None else None, reviewer, note, time.time(), int(answer_id)),
            )
        return self.get(answer_id)  # type: ignore[return-value]

    # -- export -----------------------------------------------------------------------------------
    def reviewed(self) -> Iterator[AuditRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM answers WHERE review_status IS NOT NULL ORDER BY id").fetchall()
        for r in rows:
            yield _record(r)

    def finetune_export(self, *, unmatched: str = "span") -> "FinetuneExport":
        """Fine-tuning rows for every reviewed answer (see the module docstring).

        ``unmatched``: what to do with an answer that is in none of its passages word for word:
        ``span`` trains on the passage span that matches it best (token F1 >= ``MIN_SPAN_F1``; rows
        with no such span are skipped), ``skip`` skips it. Skipped rows are listed with the reason.
        """
        if unmatched not in ("span", "skip"):
            raise ConfigError(f"unmatched={unmatched!r} is not valid; choose span (train on the nearest passage span) or skip")
        rows: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        for r in self.reviewed():
            t = training_target(r, self.path)
            if t.kind == "nearest_span" and unmatched == "skip":
                t = TrainingTarget("skip", "", t.reviewed, reason=f"the reviewed answer is in none of its passages word for word (skipped with --unmatched skip; the nearest span was {t.text!r})")
            if t.kind == "skip":
                skipped.append({"id": r.id, "question": r.question, "reason": t.reason})
                continue
            contexts = [str(p.get("text", "")) for p in r.passages]
            k = t.passage if t.passage is not None else 0
            row = {"id": r.id, "question": r.question, "answer": t.text, "context": contexts[k], "contexts": contexts,
                   "doc_id": str(r.passages[k].get("doc_id") or ""), "review": r.review_status, "target": t.kind,
                   "reviewed_answer": t.reviewed}
            if t.kind == "nearest_span":
                row["span_f1"] = t.score
            rows.append(row)
        return FinetuneExport(rows, skipped)

    def finetune_examples(self) -> list[dict[str, Any]]:
        """The rows of ``finetune_export()`` (skipped answers left out)."""
        return self.finetune_export().rows

    def verifier_pairs(self) -> list[dict[str, Any]]:
        """``{claim, evidence, label}``: label 1 supported, 0 unsupported (see the module docstring)."""
        out = []
        for r in self.reviewed():
            if r.review_status == "correct":
                labels = {i: 1 for i in range(len(r.claims))}
            else:
                bad = r.unsupported_claims if r.unsupported_claims is not None else [i for i, c in enumerate(r.claims) if c.get("verdict") != "supported"]
                labels = {i: 0 for i in bad}
            for i, label in sorted(labels.items()):
                c = r.claims[i]
                cit = c.get("citation") or {}
                evidence = cit.get("text") or "\n".join(p.get("text", "") for p in r.passages)
                out.append({"answer_id": r.id, "claim": c.get("text", ""), "evidence": evidence, "label": label, "source": "review",
                            "kind": "review-claim"})
            if r.review_status == "corrected":
                out += _correction_pairs(r)
        return out


@dataclass(frozen=True)
class FinetuneExport:
    """``rows`` to write; ``skipped``: ``{id, question, reason}`` of reviewed answers left out."""

    rows: list[dict[str, Any]]
    skipped: list[dict[str, Any]]

    def counts(self) -> dict[str, int]:
        out = {"rows": len(self.rows), "skipped": len(self.skipped)}
        for kind in ("reviewed", "nearest_span", "decline"):
            out[kind] = sum(r["target"] == kind for r in self.rows)
        return out


@dataclass(frozen=True)
class TrainingTarget:
    """What an answer trains the generator on once reviewed.

    ``kind``: ``reviewed`` (the reviewed text, citation marks removed, is in passage ``passage``
    word for word), ``nearest_span`` (it is not; ``text`` is the passage span that matches it best,
    token F1 ``score``), ``decline`` (the reviewer accepted a decline: the target is the decline
    sentence) or ``skip`` (nothing to train on; ``reason`` says why). ``reviewed`` is the reviewed
    text without citation marks; ``passage`` is 0-based; ``start``/``end`` index that passage.
    """

    kind: str
    text: str
    reviewed: str
    passage: int | None = None
    start: int = 0
    end: int = 0
    score: float = 0.0
    reason: str = ""


def reviewed_answer(rec: AuditRecord) -> str:
    """The text a review stands for: the corrected answer, or for ``correct`` the answer the
    service returned (the generated one when it was withheld); "" for a decline."""
    if rec.review_status == "corrected" and rec.corrected_answer is not None:
        return rec.corrected_answer
    if rec.verdict == "declined":
        return ""
    if rec.verdict == "withheld" or not rec.answer:
        return rec.generated
    return rec.answer


def locate_answer(answer: str, passages: Sequence[str], cited: Sequence[int] = (), *, min_score: float = MIN_SPAN_F1) -> TrainingTarget:
    """Where ``answer`` (citation marks removed) is in ``passages``: word for word (as
    ``groundqa finetune`` looks for it), else the best-matching span at token F1 >= ``min_score``
    (``generate.grounding.snap_answer``), else kind ``skip`` with the best score seen."""
    from ..datasets.squad import _find_words
    from ..generate.grounding import snap_answer
    from ..text import strip_citations

    clean = strip_citations(answer)[0]
    order = [n - 1 for n in cited if 1 <= n <= len(passages)]
    order += [i for i in range(len(passages)) if i not in order]
    for i in order:
        pos = _find_words(passages[i], clean)
        if pos >= 0:
            return TrainingTarget("reviewed", clean, clean, i, pos, pos + len(clean), 1.0)
    snap = snap_answer(clean, passages, [i + 1 for i in order], min_score=1e-9)
    if snap.snapped and snap.score >= min_score:
        return TrainingTarget("nearest_span", snap.text, clean, snap.passage - 1, snap.start, snap.end, snap.score)
    best = f"the nearest span, {snap.text!r} in passage [{snap.passage}], has token F1 {snap.score:.2f}" if snap.snapped else "no passage span resembles it"
    return TrainingTarget("skip", "", clean, snap.passage - 1 if snap.snapped else None, snap.start, snap.end, snap.score,
                          reason=f"the reviewed answer is in none of its passages and {best} (below {min_score})")


def training_target(rec: AuditRecord, audit: str | Path | None = None) -> TrainingTarget:
    """What ``rec`` trains the generator on, as reviewed (or, unreviewed, if marked correct).
    ``audit``: the log's path, for the command a skip reason suggests."""
    from ..generate.prompts import is_decline
    from ..text import strip_citations

    text = reviewed_answer(rec)
    if not rec.passages:
        return TrainingTarget("skip", "", text, reason="no passage was retrieved for this question, so there is nothing to answer from; add the document that answers it to the index")
    clean, cited = strip_citations(text)
    if not clean or is_decline(clean):
        return TrainingTarget("decline", "", "", 0)
    t = locate_answer(text, [str(p.get("text", "")) for p in rec.passages], cited)
    if t.kind == "skip":
        show = f"groundqa review show --audit {audit} {rec.id}" if audit is not None else f"groundqa review show {rec.id}"
        t = replace(t, reason=f"{t.reason}; mark it again with the passage text that answers the question (`{show}` prints the passages)")
    return t


def _correction_pairs(rec: AuditRecord) -> list[dict[str, Any]]:
    """Label-1 pairs for a corrected answer: its claims (as the guard splits them, short answers
    read with the question) against the sentences of the passage that hold the answer."""
    from ..text import sentence_spans
    from ..verify.claims import split_claims

    t = training_target(rec)
    if t.kind not in ("reviewed", "nearest_span") or t.passage is None:
        return []
    passage = str(rec.passages[t.passage].get("text", ""))
    spans = [(s, e) for s, e in sentence_spans(passage) if s < t.end and e > t.start] or [(t.start, t.end)]
    evidence = passage[spans[0][0] : spans[-1][1]].strip()
    return [{"answer_id": rec.id, "claim": c.text, "evidence": evidence, "label": 1, "source": "review", "kind": "review-correction"}
            for c in split_claims(t.text, rec.question)]


def _status_where(status: str) -> list[str]:
    if status == "pending":
        return ["review_status IS NULL"]
    if status == "reviewed":
        return ["review_status IS NOT NULL"]
    return []


def _record(r: sqlite3.Row) -> AuditRecord:
    return AuditRecord(
        id=r["id"],
        time=r["time"],
        question=r["question"],
        rewritten=r["rewritten"],
        answer=r["answer"],
        generated=r["generated"],
        policy=r["policy"],
        verdict=r["verdict"],
        reason=r["reason"],
        support=r["support"],
        flagged=bool(r["flagged"]),
        claims=json.loads(r["claims"]),
        passages=json.loads(r["passages"]),
        passage_ids=json.loads(r["passage_ids"]),
        models=json.loads(r["models"]),
        timings=json.loads(r["timings"]),
        api_key=r["api_key"],
        review_status=r["review_status"],
        corrected_answer=r["corrected_answer"],
        unsupported_claims=json.loads(r["unsupported_claims"]) if r["unsupported_claims"] else None,
        reviewer=r["reviewer"],
        review_note=r["review_note"],
        reviewed_at=r["reviewed_at"],
    )
