"""Random SIGKILLs while the service's store adds, updates, deletes and snapshots; after each
kill the index folder must load (0 corrupt) and a restart (journal replay over the snapshot)
must serve exactly what was acknowledged: 0 lost, 0 resurrected, 0 stale chunks.

A child process runs the store the service runs (``serve.store.DocumentStore`` over
``HybridIndex``): it applies batches of creates, updates and deletes, saves a snapshot after
every batch (so many kills land inside ``HybridIndex.save``), and prints each operation before it
starts and after it is acknowledged (journal fsynced). The parent SIGKILLs it at a random moment,
then, like a restart, loads the index and replays the journal and compares with what was
acknowledged; the operation in flight at the kill may be either applied or not.

    python benchmarks/stress/crash_kills.py --kills 100 --out benchmarks/results/stress/crash_kills.json

``--corruption`` runs the start-up corruption cases instead (issue 25): a state folder (an index
with documents of ``groundqa index build``, a journal of documents ingested through the store, an
audit log) is damaged one way per case (journal lines of the wrong shape, not JSON or not UTF-8,
a torn last line, a garbage or foreign audit.sqlite, a missing index folder with and without a
complete journal, a damaged index file). Each case starts ``groundqa serve`` (the command: its
checks run before any model loads) and the service's lifespan (uvicorn + ``create_app`` with the
package's fakes for the models): a refusal must name the file, and the line where there is one,
with no raw AttributeError/KeyError/DatabaseError; a start must serve every document.

    python benchmarks/stress/crash_kills.py --corruption --out benchmarks/results/stress/crash_startup_corruption.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def text_of(doc_id: str, version: int) -> str:
    return f"Record {doc_id} version {version}: the code word is w{doc_id.replace('/', '')}v{version}. It is kept for audits."


def child(folder: str, seed: int, embedder: str) -> None:
    from groundqa.index import HybridIndex
    from groundqa.serve.app import open_index
    from groundqa.serve.store import DocumentStore
    from groundqa.types import Document

    index_dir, state = Path(folder) / "index", Path(folder) / "state"
    store = DocumentStore(open_index(index_dir, embedder), index_dir, state)
    store.replay()
    rng = random.Random(seed)
    live = {d: int(store.get(d).text.split(" version ")[1].split(":")[0]) for d in store.doc_ids()}
    out = sys.stdout

    def say(**kw: object) -> None:
        out.write(json.dumps(kw) + "\n")
        out.flush()

    store.chunker().chunk_many([Document("warm-up", "Warm up the chunker's token counter.")])  # not timed
    store.index.warm_up()
    say(ready=len(live))
    n = 0
    while True:
        n += 1
        ops = []
        for _ in range(rng.randint(5, 30)):
            r = rng.random()
            if r < 0.6 or not live:
                ops.append(("put", f"s{seed}/{n}/{len(ops)}", 1))
            elif r < 0.85:
                d = rng.choice(sorted(live))
                ops.append(("put", d, live[d] + 1))
            else:
                ops.append(("delete", rng.choice(sorted(live)), 0))
        puts = {d: v for op, d, v in ops if op == "put"}
        dels = sorted({d for op, d, _ in ops if op == "delete"} - set(puts))
        say(begin="batch", puts=puts, deletes=dels)
        store.ingest([Document(d, text_of(d, v)) for d, v in puts.items()])
        for d in dels:
            store.delete(d)
        live.update(puts)
        for d in dels:
            live.pop(d, None)
        say(ack="batch")
        say(begin="save")
        store.snapshot()
        say(ack="save")


def _replayed(index, state: Path):
    """The store a restart would serve, replayed from a copy of the journal (a replay without a
    snapshot compacts the journal, which must not happen to the real one during a check)."""
    import shutil

    from groundqa.serve.store import DocumentStore

    copy = Path(tempfile.mkdtemp(prefix="groundqa-kills-state-"))
    if (state / "journal.jsonl").exists():
        shutil.copy(state / "journal.jsonl", copy / "journal.jsonl")
    store = DocumentStore(index, None, copy)
    store.replay()
    store.close()
    shutil.rmtree(copy, ignore_errors=True)
    return store


def verify(folder: Path, acked: dict[str, int], deleted: set[str], in_flight: dict | None, embedder: str) -> dict:
    """Load the index and replay the journal as a restart does; compare with what was acked."""
    from groundqa.documents import Chunker
    from groundqa.errors import GroundQAError
    from groundqa.index import HybridIndex
    from groundqa.serve.app import open_index
    from groundqa.serve.store import DocumentStore
    from groundqa.types import Document

    index_dir, state = folder / "index", folder / "state"
    res = {"corrupt": 0, "lost": 0, "resurrected": 0, "stale": 0, "leftover_dirs": 0, "problems": []}
    try:
        idx = open_index(index_dir, embedder)  # restores a save killed between its renames
        if (index_dir / "manifest.json").exists():
            HybridIndex.load(index_dir)  # the folder itself must load
    except GroundQAError as exc:
        res["corrupt"] = 1
        res["problems"].append(f"index does not load: {exc}")
        return res
    store = _replayed(idx, state)
    maybe_put = (in_flight or {}).get("puts", {})
    maybe_del = set((in_flight or {}).get("deletes", []))
    chunker = Chunker(idx.embedder)
    by_doc: dict[str, set[str]] = {}
    for c in idx.chunks:
        by_doc.setdefault(c.doc_id, set()).add(c.id)
    served = set(by_doc) | set(store.doc_ids())
    for d, v in acked.items():
        ok_versions = {v, maybe_put.get(d, v)}
        got = store.get(d)
        if got is None:
            if d not in maybe_del:
                res["lost"] += 1
                res["problems"].append(f"lost {d} v{v}")
            continue
        version = next((x for x in ok_versions if got.text == text_of(d, x)), None)
        if version is None:
            res["lost"] += 1
            res["problems"].append(f"{d}: text is not v{v}")
            continue
        want = {c.id for c in chunker.chunk(Document(d, text_of(d, version)))}
        if by_doc.get(d, set()) != want:
            res["stale"] += 1
            res["problems"].append(f"{d}: chunks in the index are not those of v{version}")
    for d in deleted:
        if d in served and d not in maybe_put:
            res["resurrected"] += 1
            res["problems"].append(f"resurrected {d}")
    for d in served - set(acked) - deleted - set(maybe_put):
        res["resurrected"] += 1
        res["problems"].append(f"unknown document {d}")
    res["leftover_dirs"] = sum(1 for p in folder.iterdir() if p.name.startswith(".index."))
    return res


# -- start-up corruption (issue 25) ----------------------------------------------------------------
BUILT = {"built/one.md": "Built with the command line, first.", "built/two.md": "Built with the command line, second."}
API = {f"api/{i}.md": f"Ingested through the service, number {i}." for i in range(3)}


def _state(folder: Path, prebuilt: bool = True) -> dict[str, Path]:
    """An index (two built documents unless not ``prebuilt``), a journal of three ingested ones after
    a snapshot, and an audit log with one answer: what a service leaves after a clean stop."""
    from groundqa.documents import Chunker
    from groundqa.index import HybridIndex
    from groundqa.serve.app import open_index
    from groundqa.serve.audit import AuditLog
    from groundqa.serve.store import DocumentStore
    from groundqa.types import Document

    index_dir, state = folder / "index", folder / "index.serve"
    if prebuilt:
        idx = HybridIndex("hash")
        idx.add([c for g in Chunker(idx.embedder).chunk_many([Document(i, t) for i, t in BUILT.items()]) for c in g])
        idx.save(index_dir)
    store = DocumentStore(open_index(index_dir, "hash"), index_dir, state)
    store.replay()
    store.ingest([Document(i, t) for i, t in API.items()])
    store.snapshot()
    store.close()
    audit = AuditLog(state / "audit.sqlite")
    audit.record({"question": "q?", "answer": "a", "generated": "a", "verdict": "supported", "policy": "flag", "support": 1.0, "claims": [], "passages": [], "models": {}, "timings_ms": {}})
    audit.close()
    return {"index": index_dir, "state": state, "journal": state / "journal.jsonl", "audit": state / "audit.sqlite"}


def _insert_line(journal: Path, line: bytes) -> int:
    """Put ``line`` second in the journal; returns its line number (2)."""
    lines = journal.read_bytes().split(b"\n")
    journal.write_bytes(b"\n".join(lines[:1] + [line] + lines[1:]))
    return 2


def _corruption_cases() -> list[tuple[str, str, Any]]:
    """(name, expected outcome, damage(paths) -> (file named, line or None))."""
    import shutil
    import sqlite3

    def journal_line(line: bytes) -> Any:
        return lambda p: (p["journal"], _insert_line(p["journal"], line))

    def torn(p: dict) -> tuple:
        with open(p["journal"], "ab") as f:
            f.write(b'{"op": "put", "id": "api/torn.md", "te')
        return p["journal"], len(p["journal"].read_bytes().rstrip(b"\n").split(b"\n"))

    def garbage_audit(p: dict) -> tuple:
        p["audit"].write_bytes(b"this is not an SQLite database " * 200)
        for extra in ("-wal", "-shm"):
            Path(str(p["audit"]) + extra).unlink(missing_ok=True)
        return p["audit"], None

    def foreign_audit(p: dict) -> tuple:
        p["audit"].unlink()
        db = sqlite3.connect(p["audit"])
        db.execute("CREATE TABLE answers (id INTEGER PRIMARY KEY, body TEXT)")
        db.close()
        return p["audit"], None

    def no_index(p: dict) -> tuple:
        shutil.rmtree(p["index"])
        return p["index"], None

    def no_index_no_marker(p: dict) -> tuple:
        (p["state"] / "index.json").unlink()
        return no_index(p)

    def bad_manifest(p: dict) -> tuple:
        (p["index"] / "manifest.json").write_text("{not json")
        return p["index"] / "manifest.json", None

    def truncated_chunks(p: dict) -> tuple:
        f = p["index"] / "chunks.jsonl"
        data = f.read_bytes()[:-20]
        f.write_bytes(data)
        return f, len(data.rstrip(b"\n").split(b"\n"))

    nested = b"[" * 100_000 + b"]" * 100_000
    return [
        ("journal line []", "refuse", journal_line(b"[]")),
        ("journal line a JSON string", "refuse", journal_line(b'"put"')),
        ("journal put without text", "refuse", journal_line(b'{"op": "put", "id": "api/x.md", "sha256": "00"}')),
        ("journal put without id", "refuse", journal_line(b'{"op": "put", "text": "t", "sha256": "00"}')),
        ("journal unknown op", "refuse", journal_line(b'{"op": "rename", "id": "api/0.md"}')),
        ("journal chunk_ids not a list", "refuse", journal_line(b'{"op": "put", "id": "x", "text": "t", "sha256": "00", "chunk_ids": "c1"}')),
        ("journal metadata not an object", "refuse", journal_line(b'{"op": "put", "id": "x", "text": "t", "sha256": "00", "metadata": [1]}')),
        ("journal line not JSON (middle)", "refuse", journal_line(b"{nope")),
        ("journal line not UTF-8 (middle)", "refuse", journal_line(b'{"op": "put", "id": "\xff\xfe"}')),
        ("journal line nested 100k deep (middle)", "refuse", journal_line(nested)),
        ("journal torn last line", "start", torn),
        ("audit.sqlite garbage", "refuse", garbage_audit),
        ("audit.sqlite of another program", "refuse", foreign_audit),
        ("index folder missing, index held built documents", "refuse", no_index),
        ("index folder missing, state of an older version (no marker)", "refuse", no_index_no_marker),
        ("index folder missing, journal holds every document", "start-rebuilt", no_index),
        ("index manifest.json not JSON", "refuse", bad_manifest),
        ("index chunks.jsonl truncated", "refuse", truncated_chunks),
    ]


def serve_child(index_dir: str, port: int) -> None:
    """The service's start-up path with the package's fakes for the models."""
    import logging

    import uvicorn

    from groundqa.pipeline import Pipeline
    from groundqa.serve import ServeSettings
    from groundqa.serve.app import create_app
    from groundqa.testing import ExtractiveGenerator, KeywordGuard

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")  # as `groundqa serve` logs
    settings = ServeSettings(index_dir=index_dir, embedder="hash")
    app = create_app(pipeline_factory=lambda idx: Pipeline(idx, ExtractiveGenerator(), KeywordGuard(), policy="flag"), settings=settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _judge(text: str, named: Path, line: int | None) -> dict[str, Any]:
    raw = [e for e in ("AttributeError", "KeyError", "DatabaseError", "TypeError", "UnicodeDecodeError", "RecursionError") if e in text]
    return {"names_file": str(named) in text, "names_line": None if line is None else f"line {line}" in text, "raw_errors": raw}


def corruption(args: argparse.Namespace) -> None:
    import shutil

    import httpx

    rows = []
    t_start = time.perf_counter()
    for name, expect, damage in _corruption_cases():
        folder = Path(tempfile.mkdtemp(prefix="groundqa-corrupt-"))
        paths = _state(folder, prebuilt=expect != "start-rebuilt")
        named, line = damage(paths)
        row: dict[str, Any] = {"case": name, "expect": expect, "file": str(named.relative_to(folder)), "line": line}
        before = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.name.endswith(("-wal", "-shm"))}
        # 1. the command: its checks run before any model loads
        if expect == "refuse":
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "groundqa", "serve", "--index", str(paths["index"]), "--port", str(_free_port()), "--log-level", "warning"], capture_output=True, text=True, timeout=300)
            out = p.stdout + p.stderr
            row["cli"] = {"exit_code": p.returncode, "seconds": round(time.perf_counter() - t, 1), "traceback": "Traceback" in out, **_judge(out, named, line), "message": out.strip()[-600:]}
        # 2. the service's lifespan
        port = _free_port()
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--serve-child", str(paths["index"]), str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started, served = False, None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).json().get("status") == "ok":
                    started = True
                    break
            except (httpx.HTTPError, ValueError):
                time.sleep(0.2)
        if started:
            want = dict(API) if expect == "start-rebuilt" else {**BUILT, **API}
            served = sum(httpx.get(f"http://127.0.0.1:{port}/v1/documents/{d}", timeout=10).json().get("text") == txt for d, txt in want.items())
            row["documents"] = {"expected": len(want), "served": served}
            proc.terminate()
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        row["service"] = {"started": started, "exit_code": proc.returncode, "seconds": round(time.perf_counter() - t, 1), **_judge(out, named, line)}
        row["service"]["log"] = next((ln for ln in out.splitlines() if "cannot start" in ln or "WARNING" in ln), out.strip()[-400:])[:600]
        if expect == "refuse":
            after = {k: (folder / k).read_bytes() for k in before if (folder / k).exists()}
            row["files_unchanged"] = after == before
            row["files_changed"] = sorted(k for k in before if after.get(k) != before[k])
        ok_refuse = expect == "refuse" and not started and row["cli"]["exit_code"] != 0 and row["cli"]["names_file"] and row["service"]["names_file"] and row["cli"]["names_line"] is not False and not row["cli"]["raw_errors"] and row["files_unchanged"]
        ok_start = expect != "refuse" and started and served == row["documents"]["expected"] and row["service"]["names_file"]
        row["ok"] = bool(ok_refuse or ok_start)
        rows.append(row)
        print(f"{name:62s} {'ok' if row['ok'] else 'FAIL'}", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
    refusals = [r for r in rows if r["expect"] == "refuse"]
    out = {
        "cases": len(rows),
        "ok": sum(r["ok"] for r in rows),
        "refusals": len(refusals),
        "refusals_naming_the_file": sum(r["cli"]["names_file"] and r["service"]["names_file"] for r in refusals),
        "refusals_with_a_line": sum(r["line"] is not None for r in refusals),
        "refusals_naming_the_line": sum(r["line"] is not None and bool(r["cli"]["names_line"]) and bool(r["service"]["names_line"]) for r in refusals),
        "refusals_with_raw_errors": sum(bool(r["cli"]["raw_errors"]) for r in refusals),
        "cli_refusals_without_traceback": sum(not r["cli"]["traceback"] for r in refusals),
        "files_changed_by_a_refusal": sum(not r["files_unchanged"] for r in refusals),
        "starts": len(rows) - len(refusals),
        "starts_serving_every_document": sum(r["ok"] for r in rows if r["expect"] != "refuse"),
        "wall_s": round(time.perf_counter() - t_start, 1),
        "config": {
            "what": "per case: a state folder (index with 2 built documents, journal with 3 ingested ones after a snapshot, audit log) damaged one way; then `python -m groundqa serve` (refusal cases) and the service lifespan (uvicorn + create_app, hash embedder, package fakes for generator and guard)",
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), {platform.python_version()}",
            "command": "python " + " ".join(sys.argv),
        },
        "rows": rows,
    }
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    sys.exit(0 if out["ok"] == out["cases"] else 1)


def _report(totals: dict, acked: dict, deleted: set, problems: list, t_start: float, args: argparse.Namespace, done: bool) -> dict:
    out = {
        **totals,
        "complete": done,
        "live_documents_at_end": len(acked),
        "deleted_documents_at_end": len(deleted),
        "problems": problems[:20],
        "wall_s": round(time.perf_counter() - t_start, 1),
        "config": {
            "kills": args.kills,
            "max_wait_s": args.max_wait,
            "embedder": args.embedder,
            "what": "serve.store.DocumentStore over HybridIndex in a child process (the code groundqa serve runs for ingest, delete and snapshots); a snapshot after every batch",
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), {platform.python_version()}",
            "command": "python " + " ".join(sys.argv),
        },
    }
    if args.out:  # written after every kill, so a long run that is stopped keeps what it measured
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", nargs=2, metavar=("FOLDER", "SEED"), help=argparse.SUPPRESS)
    ap.add_argument("--serve-child", nargs=2, metavar=("INDEX", "PORT"), help=argparse.SUPPRESS)
    ap.add_argument("--corruption", action="store_true", help="run the start-up corruption cases instead of the kills")
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--max-wait", type=float, default=3.0, help="kill at a uniform random time in [0.05, MAX] s after the child is ready")
    ap.add_argument("--embedder", default="hash", help="hash (default) or minilm-l6")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.embedder)
        return
    if args.serve_child:
        serve_child(args.serve_child[0], int(args.serve_child[1]))
        return
    if args.corruption:
        corruption(args)
        return
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="groundqa-kills-"))
    acked: dict[str, int] = {}
    deleted: set[str] = set()
    totals = {"kills": 0, "kills_during_save": 0, "kills_during_batch": 0, "kills_idle": 0, "corrupt": 0, "lost": 0, "resurrected": 0, "stale": 0, "leftover_dirs": 0, "batches_acked": 0, "saves_acked": 0}
    problems: list[str] = []
    t_start = time.perf_counter()
    for k in range(args.kills):
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(folder), str(k + 1), "--embedder", args.embedder], stdout=subprocess.PIPE, text=True, bufsize=1)
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline() or "{}")
        if "ready" not in first:
            raise SystemExit(f"child {k} did not start: {proc.wait()}")
        deadline = time.monotonic() + rng.uniform(0.05, args.max_wait)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
        reader.start()
        seen, in_flight, phase = 0, None, "idle"

        def drain() -> None:
            nonlocal seen, in_flight, phase
            while seen < len(lines):
                line = lines[seen]
                seen += 1
                if not line.endswith("\n"):
                    continue  # cut by the kill
                ev = json.loads(line)
                if ev.get("begin") == "batch":
                    in_flight, phase = ev, "batch"
                elif ev.get("ack") == "batch":
                    for d, v in in_flight["puts"].items():
                        acked[d] = v
                        deleted.discard(d)
                    for d in in_flight["deletes"]:
                        acked.pop(d, None)
                        deleted.add(d)
                    in_flight, phase = None, "idle"
                    totals["batches_acked"] += 1
                elif ev.get("begin") == "save":
                    phase = "save"
                elif ev.get("ack") == "save":
                    phase = "idle"
                    totals["saves_acked"] += 1

        while time.monotonic() < deadline:
            drain()
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join()
        drain()  # lines written before the kill
        proc.stdout.close()
        totals["kills"] += 1
        totals[f"kills_during_{phase}" if phase != "idle" else "kills_idle"] += 1
        res = verify(folder, acked, deleted, in_flight, args.embedder)
        if in_flight is not None:  # settle the in-flight batch from what the restart serves
            from groundqa.serve.app import open_index

            st = _replayed(open_index(folder / "index", args.embedder), folder / "state")
            for d, v in in_flight["puts"].items():
                got = st.get(d)
                if got is not None and got.text == text_of(d, v):
                    acked[d] = v
                    deleted.discard(d)
            for d in in_flight["deletes"]:
                if st.get(d) is None:
                    acked.pop(d, None)
                    deleted.add(d)
        for key in ("corrupt", "lost", "resurrected", "stale", "leftover_dirs"):
            totals[key] += res[key]
        problems += [f"kill {k + 1}: {p}" for p in res["problems"]]
        _report(totals, acked, deleted, problems, t_start, args, done=False)
        print(f"kill {k + 1}/{args.kills} during {phase}: {len(acked)} live, {len(deleted)} deleted; corrupt {res['corrupt']} lost {res['lost']} resurrected {res['resurrected']} stale {res['stale']}", file=sys.stderr)
    out = _report(totals, acked, deleted, problems, t_start, args, done=True)
    print(json.dumps(out, indent=2))
    bad = out["corrupt"] + out["lost"] + out["resurrected"] + out["stale"] + out["leftover_dirs"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
