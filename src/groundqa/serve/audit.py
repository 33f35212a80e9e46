"""The audit log: every answer the service gives, in SQLite, and the review loop over it.

One row per answer: question (as asked and as rewritten), the answer returned and the one
generated, the policy, verdict and reason, the weakest claim's support, every claim (text, span,
probability, verdict, citation), the passages (ids, document ids, scores, text), the model ids,
timings, the API key's name and the time.

Answers the guard did not fully pass (verdict ``flagged``, ``unsupported``, ``trimmed`` or
``withheld`` with unsupported claims) are *flagged*; ``groundqa review`` lists them, and a reviewer
marks each ``correct`` (as is) or ``corrected`` (with the right answer, and optionally which claims
were unsupported). Reviewed answers export as

* fine-tuning data for the generator: JSONL ``{question, answer, contexts}``;
* labelled pairs for the verifier: JSONL ``{claim, evidence, label}`` with label 1 (supported) or
  0 (unsupported): every claim of an answer marked correct is 1; for a corrected answer the claims
  the reviewer named (default: the ones the guard flagged) are 0 and the others are left out, since
  a correction does not say they were right.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import ConfigError

FLAGGED_VERDICTS = ("flagged", "unsupported", "trimmed", "withheld")
REVIEW_STATUSES = ("correct", "corrected")

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
    def list(self, *, status: str = "pending", flagged_only: bool = True, limit: int = 50) -> list[AuditRecord]:
        """``status``: pending (not reviewed), reviewed, or all."""
        if status not in ("pending", "reviewed", "all"):
            raise ConfigError(f"status={status!r} is not valid; choose one of: pending, reviewed, all")
        where = []
        if flagged_only:
            where.append("flagged = 1")
        if status == "pending":
            where.append("review_status IS NULL")
        elif status == "reviewed":
            where.append("review_status IS NOT NULL")
        sql = "SELECT * FROM answers" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
        with self._lock:
            return [_record(r) for r in self._db.execute(sql, (int(limit),))]

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

    def finetune_examples(self) -> list[dict[str, Any]]:
        """``{question, answer, contexts}`` for every reviewed answer (the corrected text if any)."""
        out = []
        for r in self.reviewed():
            answer = r.corrected_answer if r.review_status == "corrected" else r.generated or r.answer
            out.append({"id": r.id, "question": r.question, "answer": answer, "contexts": [p.get("text", "") for p in r.passages]})
        return out

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
                out.append({"answer_id": r.id, "claim": c.get("text", ""), "evidence": evidence, "label": label, "source": "review"})
        return out


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
