"""``BenchResult``: what an offline run (a benchmark, a calibration) returns and records: its config,
its scores, the library versions, the sha256 of every data file it read, the groundqa commit and the
date. Offline entry points take a dataclass config (never an argparse Namespace: the command line
converts its arguments) and return one of these."""

from __future__ import annotations

import dataclasses
import hashlib
import platform
import subprocess
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping


@dataclass(frozen=True)
class BenchResult:
    name: str  # what ran, e.g. "bench guard", "calibrate"
    config: Mapping[str, Any]
    scores: Mapping[str, Any]
    versions: Mapping[str, str] = field(default_factory=dict)
    data_sha256: Mapping[str, str] = field(default_factory=dict)  # data file -> sha256 of its bytes
    commit: str | None = None  # the groundqa git commit, when run from a checkout
    date: str = ""  # UTC, ISO 8601

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "config": dict(self.config), "scores": dict(self.scores), "versions": dict(self.versions),
                "data_sha256": dict(self.data_sha256), "commit": self.commit, "date": self.date}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def source_commit() -> str | None:
    """The git commit of the groundqa source this runs from, or None (an installed package, no git)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour the numbers depend on."""
    out = {"python": platform.python_version()}
    for dist in ("groundqa", "bm25s", "faiss-cpu", "faiss-gpu-cu12", "sentence-transformers", "torch", "transformers", "numpy", "onnxruntime", "PyStemmer"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def config_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) and not isinstance(config, type) else dict(config)


def bench_result(name: str, config: Any, scores: Mapping[str, Any], data: Iterable[str | Path | None] = ()) -> BenchResult:
    """A ``BenchResult`` for ``config`` (a dataclass or a mapping) and ``scores``, with the sha256 of
    each existing file in ``data``, the library versions, the commit and the date now."""
    sha = {str(p): file_sha256(p) for p in data if p is not None and Path(p).is_file()}
    return BenchResult(name=name, config=config_dict(config), scores=dict(scores), versions=library_versions(),
                       data_sha256=sha, commit=source_commit(), date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
