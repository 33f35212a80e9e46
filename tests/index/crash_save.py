"""Crash injection for ``HybridIndex.save``: ``python -m tests.index.crash_save FOLDER``.

Builds index v1 in FOLDER/index, then for k = 1, 2, ...: forks a child that loads v1, adds more
chunks and saves, and SIGKILLs itself right before the k-th file-system step of the save
(mkdtemp, each file write, fsync, rename, unlink, rmdir, rmtree); the parent then loads the
index, which must be v1 or v2 in full, with no temporary folder left behind. Stops when a child
finishes its save without reaching step k. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path


def _chunks(prefix: str, n: int) -> list:
    from groundqa.documents import Chunker
    from groundqa.testing import HashEmbedder
    from groundqa.types import Document

    docs = [Document(f"{prefix}{i}", f"Document {prefix}{i} says the code word is {prefix}word{i}. It is short.") for i in range(n)]
    return [c for g in Chunker(HashEmbedder()).chunk_many(docs) for c in g]


def _kill_at(k: int) -> None:
    """Patch the file-system steps a save takes so that the k-th one SIGKILLs this process."""
    from groundqa.index import dense, hybrid, sparse

    count = {"n": 0}

    def step(fn):
        def wrapped(*a, **kw):
            count["n"] += 1
            if count["n"] == k:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*a, **kw)

        return wrapped

    for mod, name in ((os, "fsync"), (os, "rename"), (os, "replace"), (os, "unlink"), (os, "rmdir"), (shutil, "rmtree"), (tempfile, "mkdtemp"), (hybrid, "fsync_dir")):
        setattr(mod, name, step(getattr(mod, name)))
    Path.write_text = step(Path.write_text)  # type: ignore[method-assign]
    dense.DenseIndex.save = step(dense.DenseIndex.save)  # type: ignore[method-assign]
    sparse.BM25Index.save = step(sparse.BM25Index.save)  # type: ignore[method-assign]


def main(folder: str, max_steps: int = 500) -> dict:
    from groundqa.index import HybridIndex

    path = Path(folder) / "index"
    v1 = HybridIndex("hash")
    v1.add(_chunks("a", 6))
    v1.save(path)
    ids_v1 = {c.id for c in v1.chunks}
    extra = _chunks("b", 4)
    ids_v2 = ids_v1 | {c.id for c in extra}
    out = {"steps": 0, "kills": 0, "loaded_v1": 0, "loaded_v2": 0, "corrupt": 0, "leftovers": 0, "failures": []}
    for k in range(1, max_steps + 1):
        pid = os.fork()
        if pid == 0:  # the child: open v1, add, save (killed at step k)
            try:
                idx = HybridIndex.load(path)
                _kill_at(k)
                idx.add(extra)
                idx.save(path)
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        try:
            got = {c.id for c in HybridIndex.load(path).chunks}
        except Exception as exc:  # what the test counts as a corrupt index
            out["corrupt"] += 1
            out["failures"].append(f"step {k}: {type(exc).__name__}: {exc}")
            break
        if got == ids_v1:
            out["loaded_v1"] += 1
        elif got == ids_v2:
            out["loaded_v2"] += 1
        else:
            out["corrupt"] += 1
            out["failures"].append(f"step {k}: {len(got)} chunks, neither v1 nor v2")
        left = [p.name for p in path.parent.iterdir() if p.name != "index"]
        if left:
            out["leftovers"] += 1
            out["failures"].append(f"step {k}: left behind {left}")
        if not killed:
            out["steps"] = k - 1
            break
        out["kills"] += 1
        # back to v1 for the next kill point
        shutil.rmtree(path)
        v1.save(path)
    return out


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(json.dumps(main(sys.argv[1])))
