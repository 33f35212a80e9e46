"""Readers for labelled claim/evidence data: NLI training sets and the guard's benchmarks.

Training sources carry their licence, and ``TRAINING_SOURCES`` says which may train weights that
ship in the package (``shippable``). Benchmarks (WiCE, HaluEval) are read as ``GuardExample``s and
are never training data.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError
from .synth import Pair


@dataclass(frozen=True)
class TrainingSource:
    name: str
    licence: str
    shippable: bool
    note: str = ""


TRAINING_SOURCES: dict[str, TrainingSource] = {
    s.name: s
    for s in [
        TrainingSource("snli", "CC BY-SA 4.0", True, "SNLI 1.0 dev+test via e-SNLI (Bowman et al. 2015)"),
        TrainingSource("synth-squad", "CC BY-SA 4.0", True, "synthetic pairs from SQuAD v1.1 dev training articles (first 36 titles)"),
        TrainingSource("climate-fever", "not stated", False, "licence not stated upstream: compare only"),
        TrainingSource("healthver", "not stated", False, "licence not stated upstream: compare only"),
        TrainingSource("covidfact", "not stated", False, "licence not stated upstream: compare only"),
        TrainingSource("anli", "CC BY-NC 4.0", False, "non-commercial"),
        TrainingSource("sick", "CC BY-NC-SA 3.0", False, "non-commercial"),
    ]
}


def _detok(s: str) -> str:
    """Undo e-SNLI's space-before-punctuation tokenisation."""
    s = s.strip()
    for p in (" .", " ,", " !", " ?", " ;", " :", " 's", " n't", " '"):
        s = s.replace(p, p.strip() if p not in (" 's", " n't") else p[1:])
    return s


def load_snli(folder: str | Path, splits: Sequence[str] = ("dev", "test")) -> list[Pair]:
    """SNLI pairs from e-SNLI's line-aligned ``s1.*``/``s2.*``/``labels.*`` files; label 1 = entailment."""
    folder = Path(folder)
    out: list[Pair] = []
    for split in splits:
        files = [folder / f"{n}.{split}" for n in ("s1", "s2", "labels")]
        for f in files:
            if not f.exists():
                raise ConfigError(f"snli folder {str(folder)!r} lacks {f.name}; pass the e-SNLI folder (s1/s2/labels.{split})")
        s1, s2, lab = (f.read_text(encoding="utf-8").splitlines() for f in files)
        for a, b, l in zip(s1, s2, lab):
            l = l.strip()
            if l not in ("entailment", "neutral", "contradiction"):
                continue
            out.append(Pair(_detok(b), _detok(a), int(l == "entailment"), f"snli_{l}", f"snli:{split}"))
    return out


def load_rte_tsv(path: str | Path, source: str) -> list[Pair]:
    """RTE-format tsv (index, sentence1=evidence, sentence2=claim, label entailment|not_entailment)."""
    out = []
    with open(path, encoding="utf-8") as f:
        r = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(r, None)
        for row in r:
            if len(row) >= 4 and row[3] in ("entailment", "not_entailment"):
                out.append(Pair(row[2], row[1], int(row[3] == "entailment"), source, source))
    return out


@dataclass(frozen=True)
class GuardExample:
    """One benchmark item: a claim (or a question with an answer), its evidence, and a label.

    ``evidence`` is a list of texts the claim may be checked against (sentences of a page, or one
    context). ``label`` is 1 for supported, 0 for unsupported. ``group`` is the id used to split
    data for calibration (the claim id).
    """

    id: str
    claim: str
    evidence: tuple[str, ...]
    label: int
    question: str | None = None
    group: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)


_SUPPORTED = {"supported", "support", "supports", "entailment", "true", "1", "yes"}
_UNSUPPORTED = {"unsupported", "not_supported", "partially_supported", "hallucinated", "refutes", "not_entailment", "false", "0", "no", "contradiction", "neutral"}


def _label(value: object, where: str) -> int:
    v = str(value).strip().lower()
    if v in _SUPPORTED:
        return 1
    if v in _UNSUPPORTED:
        return 0
    raise ConfigError(f"{where}: label={value!r} is not valid; use supported|unsupported (or WiCE/HaluEval labels)")


def load_guard_file(path: str | Path, limit: int | None = None) -> tuple[str, list[GuardExample]]:
    """Read WiCE (claim, evidence/evidence_sentences, label), HaluEval (context, question, answer,
    label) or plain jsonl (claim, evidence string or list, label; or claim, question, passages,
    label for a pipeline's answers). Returns (format, examples)."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"--data {str(p)!r} does not exist; pass a WiCE, HaluEval or plain jsonl file")
    out: list[GuardExample] = []
    fmt = "plain"
    with open(p, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            d = json.loads(line)
            where = f"{p.name}:{n}"
            if "answer" in d and "context" in d:
                fmt = "halueval"
                out.append(GuardExample(str(d.get("id", n)), d["answer"], (d["context"],), _label(d["label"], where), d.get("question"), str(d.get("id", n)).split("_")[2] if str(d.get("id", "")).startswith("halueval_qa_") else str(n), {"answer_source": d.get("answer_source")}))
            elif "claim" in d and "passages" in d and "evidence" not in d:
                # a pipeline's answer with the passages it was given: each passage is windowed the
                # way the pipeline's guard windows it (benchmarks/calibrate_pipeline.py --save-claims)
                ps = d["passages"]
                ex_id = str(d.get("id") or n)
                out.append(GuardExample(ex_id, d["claim"], (ps,) if isinstance(ps, str) else tuple(str(x) for x in ps),
                                        _label(d.get("label"), where), d.get("question"), str(d.get("group") or ex_id), {"passages": True}))
            elif "claim" in d and ("evidence_sentences" in d or "evidence" in d):
                ev = d.get("evidence_sentences", d.get("evidence"))
                if "evidence_sentences" in d or "meta" in d:
                    fmt = "wice"
                ev_t = (ev,) if isinstance(ev, str) else tuple(str(e) for e in ev)
                lab = d.get("label")
                ex_id = str(d.get("id") or (d.get("meta") or {}).get("id") or n)
                out.append(GuardExample(ex_id, d["claim"], ev_t, _label(lab, where), d.get("question"), ex_id, {"label_3way": d.get("label_3way")}))
            else:
                raise ConfigError(f"{where}: a record needs claim+evidence(_sentences)+label, claim+passages+label or context+question+answer+label; got keys {sorted(d)}")
            if limit and len(out) >= limit:
                break
    if not out:
        raise ConfigError(f"--data {str(p)!r} holds no records")
    return fmt, out
