"""A 2xx means durable: kill the server with SIGKILL right after acknowledged changes, restart it,
and every acknowledged document (and deletion) is there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _start(index_dir: Path, interval: float = 3600.0) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "tests.serve.fake_server", str(index_dir), str(port), str(interval)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read().decode(errors='replace')}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).json().get("status") == "ok":
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start in 60 s")


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if proc.stdout:
        proc.stdout.close()


def _doc(i: int) -> dict:
    return {"id": f"kb/{i}", "text": f"Article {i}: the code word for ticket {i} is zebra{i}. It was filed in batch {i % 7}."}


def test_sigkill_loses_nothing_acknowledged(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    proc, url = _start(index_dir)
    acked: set[str] = set()
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            for i in range(0, 40, 4):  # batches of 4
                r = c.post("/v1/documents", json={"documents": [_doc(j) for j in range(i, i + 4)]})
                assert r.status_code == 201
                acked.update(d["id"] for d in r.json()["documents"])
            assert c.delete("/v1/documents/kb/3").status_code == 200
            acked.discard("kb/3")
            r = c.post("/v1/documents", json={"documents": [{**_doc(5), "text": "Article 5 was rewritten: its code word is now yak5."}]})
            assert r.json()["documents"][0]["status"] == "updated"
    finally:
        _kill(proc)  # no snapshot was ever taken (interval 1 h): everything is in the journal only
    assert not (index_dir / "manifest.json").exists()

    proc, url = _start(index_dir)
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            for doc_id in sorted(acked):
                assert c.get(f"/v1/documents/{doc_id}").status_code == 200, doc_id
            assert c.get("/v1/documents/kb/3").status_code == 404
            assert "yak5" in c.get("/v1/documents/kb/5").json()["text"]
            assert c.get("/v1/health").json()["index"]["documents"] == len(acked)
            for i in (0, 17, 39):
                a = c.post("/v1/ask", json={"question": f"What is the code word for ticket {i}?"}).json()
                assert a["passages"][0]["doc_id"] == f"kb/{i}"
            # more changes after the replay snapshot, then another kill
            assert c.post("/v1/documents", json={"documents": [_doc(100)]}).status_code == 201
            assert c.delete("/v1/documents/kb/0").status_code == 200
    finally:
        _kill(proc)
    assert (index_dir / "manifest.json").exists()  # the replay saved a snapshot

    proc, url = _start(index_dir)
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.get("/v1/documents/kb/100").status_code == 200
            assert c.get("/v1/documents/kb/0").status_code == 404
            a = c.post("/v1/ask", json={"question": "What is the code word for ticket 0?", "top_k": 10}).json()
            assert "kb/0" not in {p["doc_id"] for p in a["passages"]}
    finally:
        _kill(proc)


def test_torn_last_journal_line_is_ignored(tmp_path: Path) -> None:
    from groundqa.index import HybridIndex
    from groundqa.serve.store import DocumentStore
    from groundqa.types import Document

    store = DocumentStore(HybridIndex("hash"), tmp_path / "index", tmp_path / "state")
    store.replay()
    store.ingest([Document("a", "Alpha text here."), Document("b", "Beta text here.")])
    store.close()
    with open(tmp_path / "state" / "journal.jsonl", "ab") as f:
        f.write(b'{"op":"put","id":"c","te')  # a crash mid-append: never acknowledged
    again = DocumentStore(HybridIndex("hash"), tmp_path / "index", tmp_path / "state")
    rep = again.replay()
    assert rep.torn_lines == 1 and sorted(again.doc_ids()) == ["a", "b"]
    assert {c.doc_id for c in again.index.chunks} == {"a", "b"}


def test_damaged_middle_line_is_an_error(tmp_path: Path) -> None:
    from groundqa.errors import ConfigError
    from groundqa.index import HybridIndex
    from groundqa.serve.store import DocumentStore

    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "journal.jsonl").write_bytes(b'{"op":"put",\n{"op":"delete","id":"a"}\n')
    with pytest.raises(ConfigError, match="line 1 is damaged"):
        DocumentStore(HybridIndex("hash"), None, tmp_path / "state").replay()


def test_group_commit_statuses_and_last_version_wins(tmp_path: Path) -> None:
    import threading

    from groundqa.index import HybridIndex
    from groundqa.serve.store import DocumentStore
    from groundqa.types import Document

    store = DocumentStore(HybridIndex("hash"), None, tmp_path / "state")
    store.replay()
    out = store.ingest([Document("a", "First version of a."), Document("a", "Second version of a."), Document("a", "Second version of a.")])
    assert [o.status for o in out] == ["created", "updated", "unchanged"]
    assert [c.text for c in store.index.chunks_of("a")] == ["Second version of a."]
    results: dict[int, list] = {}

    def worker(i: int) -> None:
        results[i] = store.ingest([Document(f"d{i}", f"Document number {i} text."), Document("shared", "Shared text.")])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r[1].status for r in results.values())
    assert statuses == ["created"] + ["unchanged"] * 15
    assert all(r[0].status == "created" and r[0].chunks == 1 for r in results.values())
    assert len(store.index.chunks_of("shared")) == 1 and len(store) == 18
    store.close()
    again = DocumentStore(HybridIndex("hash"), None, tmp_path / "state")
    again.replay()
    assert sorted(again.doc_ids()) == sorted(store.doc_ids())
    assert [c.text for c in again.index.chunks_of("a")] == ["Second version of a."]


def test_documents_of_a_prebuilt_index(tmp_path: Path) -> None:
    """An index built offline (`groundqa index build`) is served as is: its documents can be read
    (text joined from the chunks) and deleted, and a deletion survives a restart."""
    from groundqa.documents import Chunker
    from groundqa.index import HybridIndex
    from groundqa.serve import ServeSettings
    from groundqa.serve.app import create_app
    from groundqa.types import Document

    from .conftest import fake_factory, serving

    idx = HybridIndex("hash")
    docs = [Document("guide.md", "Open the app. Tap Cards. Choose Freeze to stop payments.", "guide.md"), Document("other.md", "Unrelated text about opening hours.", "other.md")]
    idx.add([c for g in Chunker(idx.embedder, max_tokens=8, overlap_sentences=1).chunk_many(docs) for c in g])
    idx.save(tmp_path / "index")
    settings = ServeSettings(index_dir=tmp_path / "index", embedder="hash")
    with serving(create_app(pipeline_factory=fake_factory, settings=settings)) as url, httpx.Client(base_url=url) as c:
        got = c.get("/v1/documents/guide.md").json()
        assert got["text"] == docs[0].text and got["chunks"] >= 2
        assert c.delete("/v1/documents/guide.md").status_code == 200
        assert c.get("/v1/documents/guide.md").status_code == 404
    with serving(create_app(pipeline_factory=fake_factory, settings=settings)) as url, httpx.Client(base_url=url) as c:
        assert c.get("/v1/documents/guide.md").status_code == 404
        assert c.get("/v1/documents/other.md").status_code == 200
        assert c.get("/v1/health").json()["index"]["documents"] == 1


def _prebuilt(tmp_path: Path) -> Path:
    from groundqa.documents import Chunker
    from groundqa.index import HybridIndex
    from groundqa.types import Document

    idx = HybridIndex("hash")
    docs = [Document("policy.md", "Refunds are possible within 30 days of purchase. Keep the receipt.", "policy.md"), Document("other.md", "Our shop opens at nine in the morning.", "other.md")]
    idx.add([c for g in Chunker(idx.embedder).chunk_many(docs) for c in g])
    idx.save(tmp_path / "index")
    return tmp_path / "index"


@pytest.mark.parametrize("snapshot_before_restart", [False, True])
def test_update_of_a_prebuilt_document_replaces_it(tmp_path: Path, snapshot_before_restart: bool) -> None:
    """Issue 15: updating a document of a pre-built index answered `created` and the old chunks
    ("30 days") stayed searchable and cited, also after a restart."""
    from groundqa.serve import ServeSettings
    from groundqa.serve.app import create_app

    from .conftest import fake_factory, serving

    settings = ServeSettings(index_dir=_prebuilt(tmp_path), embedder="hash")
    new = {"id": "policy.md", "text": "Refunds are possible within 14 days of purchase. Keep the receipt."}

    def texts(c: httpx.Client) -> list[str]:
        a = c.post("/v1/ask", json={"question": "Within how many days are refunds possible?", "top_k": 10}).json()
        return [p["text"] for p in a["passages"] if p["doc_id"] == "policy.md"]

    with serving(create_app(pipeline_factory=fake_factory, settings=settings)) as url, httpx.Client(base_url=url) as c:
        r = c.post("/v1/documents", json={"documents": [new]})
        assert r.status_code == 201 and r.json()["documents"][0]["status"] == "updated"
        assert texts(c) and all("14 days" in t and "30 days" not in t for t in texts(c))
        assert c.post("/v1/documents", json={"documents": [new]}).json()["documents"][0]["status"] == "unchanged"
    # the lifespan's shutdown saved a snapshot with the new version only
    if not snapshot_before_restart:
        # as if killed before any snapshot: the index on disk still holds the old version
        (tmp_path / "index").rename(tmp_path / "saved")
        _prebuilt(tmp_path)
        import shutil

        shutil.rmtree(tmp_path / "saved")
    with serving(create_app(pipeline_factory=fake_factory, settings=settings)) as url, httpx.Client(base_url=url) as c:
        assert texts(c) and all("14 days" in t and "30 days" not in t for t in texts(c))
        assert c.get("/v1/documents/policy.md").json()["text"] == new["text"]
        assert c.get("/v1/health").json()["index"]["documents"] == 2


def test_stale_chunks_of_a_snapshotted_old_version_are_removed_on_replay(tmp_path: Path) -> None:
    """A snapshot holding both versions' chunks (written while an update was half-applied in
    memory) loses the old ones at replay: the journal says which chunks are live."""
    from groundqa.documents import Chunker
    from groundqa.index import HybridIndex
    from groundqa.serve.store import DocumentStore
    from groundqa.types import Document

    store = DocumentStore(HybridIndex("hash"), tmp_path / "index", tmp_path / "state")
    store.replay()
    store.ingest([Document("a", "Version one of the document.")])
    store.ingest([Document("a", "Version two of the document.")])
    store.close()
    idx = HybridIndex("hash")
    idx.add([c for g in Chunker(idx.embedder).chunk_many([Document("a", "Version one of the document."), Document("a", "Version two of the document.")]) for c in g])
    idx.save(tmp_path / "index")
    again = DocumentStore(HybridIndex.load(tmp_path / "index"), tmp_path / "index", tmp_path / "state")
    assert again.replay().reindexed == 1
    assert [c.text for c in again.index.chunks_of("a")] == ["Version two of the document."]
