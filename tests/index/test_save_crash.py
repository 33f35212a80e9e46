"""Issue 15: a save killed at any step leaves the previous index loadable (and no temporary
folders), and damaged index files raise IndexFormatError, never a raw traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from groundqa.errors import IndexFormatError
from groundqa.index import HybridIndex
from groundqa.index.hybrid import recover_interrupted_save

ROOT = Path(__file__).resolve().parents[2]


def _index(n: int = 5) -> HybridIndex:
    from .crash_save import _chunks

    idx = HybridIndex("hash")
    idx.add(_chunks("a", n))
    return idx


def test_kill_at_every_step_of_save(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-m", "tests.index.crash_save", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["failures"] == [] and res["corrupt"] == 0 and res["leftovers"] == 0
    assert res["steps"] >= 20 and res["kills"] == res["steps"]  # every step was a kill point
    assert res["loaded_v1"] > 0 and res["loaded_v2"] > 0


def test_between_the_renames_the_previous_index_is_put_back(tmp_path: Path) -> None:
    path = tmp_path / "index"
    _index().save(path)
    # the state a kill between `target -> .old` and `tmp -> target` leaves (pid 999999: not running)
    path.rename(tmp_path / f".index.old-999999-{time.time_ns()}")
    (tmp_path / ".index.tmp-999999-abcd").mkdir()
    (tmp_path / ".index.tmp-999999-abcd" / "chunks.jsonl").write_text("{}")
    assert len(HybridIndex.load(path)) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_serve_opens_the_restored_index_not_an_empty_one(tmp_path: Path) -> None:
    from groundqa.serve.app import open_index

    path = tmp_path / "index"
    _index(7).save(path)
    path.rename(tmp_path / f".index.old-999999-{time.time_ns()}")
    assert len(open_index(path, "hash")) == 7


def test_a_live_save_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "index"
    _index().save(path)
    mine = tmp_path / f".index.tmp-{os.getpid()}-xyz"
    mine.mkdir()
    assert recover_interrupted_save(path) is False
    assert mine.exists()


def _damage(path: Path, how: str) -> None:
    if how == "manifest not an object":
        (path / "manifest.json").write_text("[1, 2]")
    elif how == "manifest without embedder":
        m = json.loads((path / "manifest.json").read_text())
        del m["embedder"]
        (path / "manifest.json").write_text(json.dumps(m))
    elif how == "manifest with bad settings":
        m = json.loads((path / "manifest.json").read_text())
        m["fusion"]["weights"] = {"bm25": -1}
        (path / "manifest.json").write_text(json.dumps(m))
    elif how == "manifest binary":
        (path / "manifest.json").write_bytes(b"\xff\xfe\x00garbage")
    elif how == "chunks truncated":
        data = (path / "chunks.jsonl").read_bytes()
        (path / "chunks.jsonl").write_bytes(data[: len(data) // 2])
    elif how == "chunk without text":
        lines = (path / "chunks.jsonl").read_text().splitlines()
        first = json.loads(lines[0])
        del first["text"]
        (path / "chunks.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    elif how == "chunks missing":
        (path / "chunks.jsonl").unlink()
    elif how == "vectors garbage":
        (path / "dense" / "vectors.npy").write_bytes(b"not numpy at all")
    elif how == "vectors of another dim":
        np.save(path / "dense" / "vectors.npy", np.zeros((5, 3), dtype=np.float32))
        (path / "dense" / "dense.faiss").unlink(missing_ok=True)
    elif how == "faiss garbage":
        (path / "dense" / "dense.faiss").write_bytes(b"\x00" * 64)
    elif how == "sparse garbage":
        for f in (path / "sparse").iterdir():
            f.write_bytes(b"{broken")
    else:
        raise AssertionError(how)


DAMAGE = ["manifest not an object", "manifest without embedder", "manifest with bad settings", "manifest binary", "chunks truncated", "chunk without text", "chunks missing", "vectors garbage", "vectors of another dim", "faiss garbage", "sparse garbage"]


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_index_files_raise_index_format_error(tmp_path: Path, how: str) -> None:
    path = tmp_path / "index"
    _index().save(path)
    _damage(path, how)
    with pytest.raises(IndexFormatError, match="rebuild"):
        HybridIndex.load(path).search("code word", top_k=2)


def test_a_hub_id_in_the_manifest_is_not_downloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "index"
    _index().save(path)
    m = json.loads((path / "manifest.json").read_text())
    m["embedder"] = {"name": "someone/never-downloaded-model", "dim": m["embedder"]["dim"]}
    (path / "manifest.json").write_text(json.dumps(m))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    import groundqa.models as models

    def no_download(hub_id: str) -> None:
        raise AssertionError(f"tried to download {hub_id}")

    monkeypatch.setattr(models, "_from_hub", no_download)
    with pytest.raises(IndexFormatError, match="does not download"):
        HybridIndex.load(path)


def test_a_damaged_chunk_line_is_named(tmp_path: Path) -> None:
    """Issue 25: a start-up refusal names the file and the line where there is one."""
    path = tmp_path / "index"
    _index().save(path)
    lines = (path / "chunks.jsonl").read_text().splitlines()
    (path / "chunks.jsonl").write_text("\n".join([lines[0], "[]", *lines[1:]]) + "\n")
    with pytest.raises(IndexFormatError, match=r"chunks.jsonl: line 2 is damaged .*rebuild the index"):
        HybridIndex.load(path)
