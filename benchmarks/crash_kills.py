"""Random SIGKILLs while the service's store adds, updates, deletes and snapshots; after each
kill the index folder must load (0 corrupt) and a restart (journal replay over the snapshot)
must serve exactly what was acknowledged: 0 lost, 0 resurrected, 0 stale chunks.

A child process runs the store the service runs (``serve.store.DocumentStore`` over
``HybridIndex``): it applies batches of creates, updates and deletes, saves a snapshot after
every batch (so many kills land inside ``HybridIndex.save``), and prints each operation before it
starts and after it is acknowledged (journal fsynced). The parent SIGKILLs it at a random moment,
then, like a restart, loads the index and replays the journal and compares with what was
acknowledged; the operation in flight at the kill may be either applied or not.

    python benchmarks/crash_kills.py --kills 100 --out benchmarks/results/crash_kills.json
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
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--max-wait", type=float, default=3.0, help="kill at a uniform random time in [0.05, MAX] s after the child is ready")
    ap.add_argument("--embedder", default="hash", help="hash (default) or minilm-l6")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.embedder)
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
