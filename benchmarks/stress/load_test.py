"""Load test of the HTTP service over loopback: N concurrent clients for T seconds mixing ask,
ingest, update and delete, then every acknowledged document is checked (GET and retrieval; deleted
ones must be gone), the server is killed with SIGKILL (with ``--kill-after``: in the middle of a
second round of load, requests in flight), restarted, and checked again; finally the index it
saves is read back: every live document's chunks must be exactly those of its last acknowledged
text (0 stale), and no deleted document may have any (0 resurrected).

By default the server runs the fake generator and guard (``groundqa.testing``) over the hash
embedder, so the numbers measure the service (HTTP, auth, validation, thread pool, journal fsync,
index updates, audit log), not the models. ``--embedder minilm-l6`` uses the real embedder for
retrieval and ingest.

    python benchmarks/stress/load_test.py --clients 32 --seconds 60 --out benchmarks/results/stress/serve_load.json

``--real`` runs the real ``groundqa serve`` command (default pipeline) instead, and ``--index``
serves a copy of a pre-built index whose documents are updated too (issue 15):

    python benchmarks/stress/load_test.py --real --index /tmp/sample-index --embedder minilm-l6 --clients 6 \\
        --seconds 60 --ingest-share 0.3 --update-share 0.25 --delete-share 0.15 --kill-after 10 \\
        --snapshot-s 5 --out benchmarks/results/stress/serve_load_real_kill.json

``--chat-share`` sends that share of the questions through the OpenAI route,
``/v1/chat/completions`` (half of them with ``stream: true``, read to ``data: [DONE]``), the rest
through ``/v1/ask``, so the two routes' latencies come from the same run (issue 27); a request
without an answer within ``--hang-s`` counts as hung. ``--generator fast`` serves the real
pipeline with the fast generator profile:

    python benchmarks/stress/load_test.py --clients 8 --seconds 60 --ingest-share 0 --chat-share 0.5 \\
        --out benchmarks/results/stress/serve_load_chat.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOPICS = ["password", "transfer", "card", "refund", "statement", "loan", "savings", "mortgage", "travel", "fees"]


def seed_docs() -> list[dict]:
    out = []
    for i, t in enumerate(TOPICS):
        for j in range(5):
            out.append({"id": f"seed/{t}/{j}", "text": f"Support article {j} about {t}: to manage your {t}, open the app and choose {t.title()}. Changes to the {t} take effect within {j + 1} business days.", "metadata": {"topic": t}})
    return out


def serve(index_dir: str, port: int, embedder: str) -> None:
    import uvicorn

    from groundqa.pipeline import Pipeline
    from groundqa.serve import ServeSettings
    from groundqa.serve.app import create_app
    from groundqa.testing import ExtractiveGenerator, KeywordGuard

    def factory(index):
        return Pipeline(index, ExtractiveGenerator(), KeywordGuard(), policy="flag", top_k=4)

    settings = ServeSettings(index_dir=Path(index_dir), embedder=embedder, snapshot_interval_s=15, workers=4)
    uvicorn.run(create_app(pipeline_factory=factory, settings=settings), host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(index_dir: str, embedder: str, real: bool = False, snapshot_s: float = 15.0, generator: str | None = None,
          workers: int | None = None, prompt_cache_mb: float | None = None) -> tuple[subprocess.Popen, str]:
    """The server in its own process: the fakes (``--serve``), or with ``real`` the real
    ``groundqa serve`` command (default pipeline) with a config file for its [serve] table."""
    import httpx

    port = free_port()
    if real:
        cfg = Path(index_dir).parent / "serve.toml"
        gen = (f'model = "{generator}"\n' if generator else "") + (f"prompt_cache_mb = {prompt_cache_mb}\n" if prompt_cache_mb is not None else "")
        cfg.write_text((f"[generator]\n{gen}\n" if gen else "")
                       + f'[serve]\nsnapshot_interval_s = {snapshot_s}\nrequest_timeout_s = 600\nembedder = "{embedder}"\n'
                       + (f"workers = {workers}\n" if workers else ""))
        cmd = [sys.executable, "-m", "groundqa", "serve", "--index", index_dir, "--port", str(port), "--config", str(cfg), "--log-level", "warning"]
    else:
        cmd = [sys.executable, __file__, "--serve", index_dir, str(port), "--embedder", embedder]
    log = open(Path(index_dir).parent / "server.log", "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited during start-up; see {log.name}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).json()["status"] == "ok":
                return proc, url
        except Exception:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


class State:
    """What the clients were told: the acknowledged text of every live document, the deleted ids,
    the superseded texts, and the requests in flight (sent, not answered) when the server died."""

    def __init__(self) -> None:
        self.current: dict[str, str] = {}
        self.code: dict[str, str] = {}
        self.deleted: set[str] = set()
        self.superseded: dict[str, list[str]] = {}
        self.pending: dict[str, str | None] = {}  # doc id -> text it would get (None: a delete)
        self.owner: dict[str, int] = {}
        self.prebuilt: set[str] = set()
        self.counter = {"n": 0}

    def ack_put(self, doc_id: str, text: str, code: str) -> None:
        if doc_id in self.current and self.current[doc_id] != text:
            self.superseded.setdefault(doc_id, []).append(self.current[doc_id])
        self.current[doc_id], self.code[doc_id] = text, code
        self.deleted.discard(doc_id)

    def ack_delete(self, doc_id: str) -> None:
        if doc_id in self.current:
            self.superseded.setdefault(doc_id, []).append(self.current.pop(doc_id))
        self.code.pop(doc_id, None)
        self.deleted.add(doc_id)


async def run_load(url: str, clients: int, seconds: float, shares: dict[str, float], seed: int, state: State, stop_event: asyncio.Event | None = None,
                   chat_share: float = 0.0, hang_s: float = 600.0) -> dict:
    """``clients`` concurrent clients for ``seconds``; each request is an ask, or creates, updates
    or deletes a document. Updates and deletes go to documents the same client created (or, for
    client 0, the documents of a pre-built index), so their order is the order of the answers."""
    import httpx

    lat: dict[str, list[float]] = {"ask": [], "chat": [], "chat_stream": [], "ingest": [], "update": [], "delete": []}
    errors: list[str] = []
    hung: list[str] = []
    counter = state.counter
    stop = time.perf_counter() + seconds
    cuts = []
    acc = 0.0
    for op in ("ingest", "update", "delete"):
        acc += shares[op]
        cuts.append((acc, op))

    def pick(r: random.Random) -> str:
        x = r.random()
        return next((op for cut, op in cuts if x < cut), "ask")

    async def client(cid: int) -> None:
        r = random.Random(seed * 1000 + cid)
        async with httpx.AsyncClient(base_url=url, timeout=hang_s) as c:
            while time.perf_counter() < stop and not (stop_event and stop_event.is_set()):
                t0 = time.perf_counter()
                op = pick(r)
                mine = sorted(d for d, o in state.owner.items() if o == cid and d in state.current)
                if op in ("update", "delete") and not mine:
                    op = "ingest"
                if op in ("ingest", "update"):
                    counter["n"] += 1
                    n = counter["n"]
                    code = f"kw{cid}x{n}q{r.randrange(10**6)}"
                    doc_id = f"load/{cid}/{n}" if op == "ingest" else r.choice(mine)
                    base = state.current.get(doc_id, "") if doc_id in state.prebuilt else ""
                    text = (base + f"\n\nUpdate {n}: the reference word is {code}.") if base else f"Ticket {n} from client {cid}: the reference word is {code}. It concerns the {r.choice(TOPICS)} service."
                    state.owner.setdefault(doc_id, cid)
                    state.pending[doc_id] = text
                    try:
                        resp = await c.post("/v1/documents", json={"documents": [{"id": doc_id, "text": text}]})
                    except httpx.HTTPError as exc:
                        errors.append(f"{op} {type(exc).__name__}")
                        return  # the server is gone (the kill): the request stays pending
                    state.pending.pop(doc_id, None)
                    if resp.status_code in (200, 201):
                        state.ack_put(doc_id, text, code)
                        lat[op].append(time.perf_counter() - t0)
                    else:
                        errors.append(f"{op} {resp.status_code} {resp.text[:200]}")
                elif op == "delete":
                    doc_id = r.choice(mine)
                    state.pending[doc_id] = None
                    try:
                        resp = await c.delete(f"/v1/documents/{doc_id}")
                    except httpx.HTTPError as exc:
                        errors.append(f"delete {type(exc).__name__}")
                        return
                    state.pending.pop(doc_id, None)
                    if resp.status_code == 200:
                        state.ack_delete(doc_id)
                        lat["delete"].append(time.perf_counter() - t0)
                    else:
                        errors.append(f"delete {resp.status_code} {resp.text[:200]}")
                elif chat_share and r.random() < chat_share:
                    t = r.choice(TOPICS)
                    q = r.choice([f"How do I manage my {t}?", f"How long do {t} changes take?", f"Where do I change my {t} settings?"])
                    stream = r.random() < 0.5
                    body = {"model": "groundqa", "messages": [{"role": "user", "content": q}], "stream": stream}
                    kind = "chat_stream" if stream else "chat"
                    try:
                        if stream:
                            async with c.stream("POST", "/v1/chat/completions", json=body) as resp:
                                text = (await resp.aread()).decode()
                            ok = resp.status_code == 200 and text.rstrip().endswith("data: [DONE]") and '"finish_reason": "stop"' in text
                        else:
                            resp = await c.post("/v1/chat/completions", json=body)
                            text = resp.text
                            ok = resp.status_code == 200 and "verdict" in resp.json().get("groundqa", {})
                    except httpx.TimeoutException:
                        hung.append(kind)
                        continue
                    except httpx.HTTPError as exc:
                        errors.append(f"{kind} {type(exc).__name__}")
                        return
                    if ok:
                        lat[kind].append(time.perf_counter() - t0)
                    else:
                        errors.append(f"{kind} {resp.status_code} {text[:200]}")
                else:
                    t = r.choice(TOPICS)
                    q = r.choice([f"How do I manage my {t}?", f"How long do {t} changes take?", f"Where do I change my {t} settings?"])
                    try:
                        resp = await c.post("/v1/ask", json={"question": q})
                    except httpx.TimeoutException:
                        hung.append("ask")
                        continue
                    except httpx.HTTPError as exc:
                        errors.append(f"ask {type(exc).__name__}")
                        return
                    if resp.status_code == 200 and "verdict" in resp.json():
                        lat["ask"].append(time.perf_counter() - t0)
                    else:
                        errors.append(f"ask {resp.status_code} {resp.text[:200]}")

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    wall = time.perf_counter() - t0
    done = sum(len(v) for v in lat.values())
    return {
        "wall_s": round(wall, 2),
        "requests": done,
        "errors": len(errors),
        "error_samples": errors[:5],
        "hung": len(hung),
        "hang_s": hang_s,
        "throughput_rps": round(done / wall, 1),
        **{op: {"count": len(v), "p50_ms": round(pct(v, 50) * 1000, 1), "p95_ms": round(pct(v, 95) * 1000, 1), "p99_ms": round(pct(v, 99) * 1000, 1)} for op, v in lat.items()},
    }


async def verify(url: str, state: State, retrieval: bool) -> dict:
    """Every acknowledged document: GET returns its last acknowledged text (or, for a request in
    flight at a kill, the text it sent); a deleted one is 404. With ``retrieval``, asking for its
    unique word also retrieves it (fakes only: one ask per document)."""
    import httpx

    missing, unretrieved, resurrected = [], [], []
    sem = asyncio.Semaphore(16)

    async def one(c: httpx.AsyncClient, doc_id: str) -> None:
        async with sem:
            g = await c.get(f"/v1/documents/{doc_id}")
            ok = {state.current.get(doc_id), state.pending.get(doc_id, state.current.get(doc_id))} - {None}
            if g.status_code == 404 and doc_id in state.pending and state.pending[doc_id] is None:
                return  # a delete in flight at the kill took effect
            if g.status_code != 200 or g.json().get("text") not in ok:
                missing.append(doc_id)
                return
            if retrieval and doc_id in state.code and doc_id not in state.pending:
                a = await c.post("/v1/ask", json={"question": f"{state.code[doc_id]}?", "top_k": 3})
                if doc_id not in {p["doc_id"] for p in a.json().get("passages", [])}:
                    unretrieved.append(doc_id)

    async def gone(c: httpx.AsyncClient, doc_id: str) -> None:
        async with sem:
            g = await c.get(f"/v1/documents/{doc_id}")
            if g.status_code != 404 and doc_id not in state.pending:
                resurrected.append(doc_id)

    async with httpx.AsyncClient(base_url=url, timeout=600) as c:
        await asyncio.gather(*(one(c, d) for d in list(state.current)), *(gone(c, d) for d in list(state.deleted)))
    return {"checked": len(state.current), "deleted_checked": len(state.deleted), "lost": len(missing), "resurrected": len(resurrected), "not_retrieved": len(unretrieved), "lost_samples": missing[:5], "resurrected_samples": resurrected[:5], "not_retrieved_samples": unretrieved[:5]}


def check_index(index_dir: str, state: State) -> dict:
    """The index the server saved at shutdown, with its journal replayed (what a restart serves):
    each live document's chunks are exactly those of its last text; a deleted or superseded
    version has no chunk left (stale) and no deleted document has any chunk (resurrected)."""
    import shutil

    from groundqa.documents import Chunker
    from groundqa.index import HybridIndex
    from groundqa.serve.store import DocumentStore
    from groundqa.types import Document

    idx = HybridIndex.load(index_dir)
    copy = tempfile.mkdtemp(prefix="groundqa-load-state-")
    journal = Path(index_dir).parent / f"{Path(index_dir).name}.serve" / "journal.jsonl"
    if journal.exists():
        shutil.copy(journal, Path(copy) / "journal.jsonl")
    store = DocumentStore(idx, None, copy)
    store.replay()
    store.close()
    chunker = Chunker(idx.embedder)
    by_doc: dict[str, set[str]] = {}
    for c in idx.chunks:
        by_doc.setdefault(c.doc_id, set()).add(c.id)
    stale, lost, resurrected = [], [], []
    for doc_id, text in state.current.items():
        options = [text] + ([state.pending[doc_id]] if state.pending.get(doc_id) else [])
        wants = [{c.id for c in chunker.chunk(Document(doc_id, t))} for t in options]
        have = by_doc.get(doc_id, set())
        if not have and not (doc_id in state.pending and state.pending[doc_id] is None):
            lost.append(doc_id)
        elif have not in wants and not (doc_id in state.pending and state.pending[doc_id] is None):
            stale.append(doc_id)
    for doc_id in state.deleted:
        if by_doc.get(doc_id) and doc_id not in state.pending:
            resurrected.append(doc_id)
    return {"documents": len(state.current), "chunks": len(idx), "lost": len(lost), "stale": len(stale), "resurrected": len(resurrected), "stale_samples": stale[:5], "lost_samples": lost[:5], "resurrected_samples": resurrected[:5]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", nargs=2, metavar=("INDEX", "PORT"), help=argparse.SUPPRESS)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--ingest-share", type=float, default=0.2, help="share of requests that ingest a new document (default 0.2)")
    ap.add_argument("--update-share", type=float, default=0.0, help="share that replace a document's text (default 0)")
    ap.add_argument("--delete-share", type=float, default=0.0, help="share that delete a document (default 0)")
    ap.add_argument("--kill-after", type=float, default=0.0, help="after the live check, run the load again and SIGKILL the server this many seconds in, with requests in flight (default 0: kill when idle)")
    ap.add_argument("--real", action="store_true", help="run the real `groundqa serve` (default pipeline: real embedder, generator, guard) instead of the fakes")
    ap.add_argument("--index", default=None, help="serve a copy of this pre-built index (its documents get updated too); 'sample' indexes the packaged sample corpus first")
    ap.add_argument("--snapshot-s", type=float, default=15.0, help="snapshot_interval_s of the real server (default 15)")
    ap.add_argument("--embedder", default="hash", help="hash (default: measures the service) or minilm-l6")
    ap.add_argument("--chat-share", type=float, default=0.0, help="share of the questions sent to /v1/chat/completions (half streamed) instead of /v1/ask (default 0)")
    ap.add_argument("--hang-s", type=float, default=600.0, help="a request unanswered after this many seconds counts as hung (default 600)")
    ap.add_argument("--generator", default=None, help="with --real: the [generator] model of the served pipeline (e.g. fast; default: the default profile)")
    ap.add_argument("--workers", type=int, default=None, help="with --real: the server's [serve] workers (default: the server's own default)")
    ap.add_argument("--prompt-cache-mb", type=float, default=None, help="with --real: the generator's prompt_cache_mb (0: no reuse of recent prompts; default: the generator's own)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.embedder)
        return
    import shutil

    import httpx

    load0 = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="groundqa-load-")
    index_dir = os.path.join(tmp, "index")
    if args.index == "sample":  # the packaged sample corpus (ten Wikipedia articles), indexed here
        from groundqa.documents import Chunker, load_documents
        from groundqa.documents.sample import sample_corpus_dir
        from groundqa.index import HybridIndex

        built = HybridIndex(args.embedder)
        built.add([c for cs in Chunker(built.embedder).chunk_many(load_documents([str(sample_corpus_dir())]).documents) for c in cs])
        args.index = os.path.join(tmp, "sample-index")
        built.save(args.index)
    if args.index:
        shutil.copytree(args.index, index_dir)
    shares = {"ingest": args.ingest_share, "update": args.update_share, "delete": args.delete_share}
    state = State()
    proc, url = start(index_dir, args.embedder, args.real, args.snapshot_s, args.generator, args.workers, args.prompt_cache_mb)
    try:
        if args.index:
            from groundqa.index import HybridIndex

            for doc_id in HybridIndex.load(args.index).doc_ids():
                g = httpx.get(f"{url}/v1/documents/{doc_id}", timeout=60).json()
                state.current[doc_id] = g["text"]
                state.prebuilt.add(doc_id)
                state.owner[doc_id] = 0
        r = httpx.post(f"{url}/v1/documents", json={"documents": seed_docs()}, timeout=600)
        r.raise_for_status()
        for d in seed_docs():
            state.current[d["id"]] = d["text"]
        print(f"server up at {url}; {args.clients} clients for {args.seconds:.0f} s ...", file=sys.stderr)
        res = asyncio.run(run_load(url, args.clients, args.seconds, shares, args.seed, state, chat_share=args.chat_share, hang_s=args.hang_s))
        print(f"load done: {res['requests']} requests, {res['errors']} errors; verifying {len(state.current)} documents ...", file=sys.stderr)
        res["verify_live"] = asyncio.run(verify(url, state, retrieval=not args.real))
        if args.kill_after > 0:

            async def load_then_kill() -> dict:
                task = asyncio.create_task(run_load(url, args.clients, 3600, shares, args.seed + 1, state))
                await asyncio.sleep(args.kill_after)
                res["in_flight_at_kill"] = len(state.pending)
                proc.send_signal(signal.SIGKILL)
                return await task

            res["load_until_kill"] = asyncio.run(load_then_kill())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    t0 = time.perf_counter()
    proc, url = start(index_dir, args.embedder, args.real, args.snapshot_s, args.generator, args.workers, args.prompt_cache_mb)
    res["restart_after_sigkill_s"] = round(time.perf_counter() - t0, 2)
    try:
        res["verify_after_sigkill"] = asyncio.run(verify(url, state, retrieval=not args.real))
    finally:
        proc.send_signal(signal.SIGTERM)  # a clean stop: the server saves its snapshot
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    res["index_after_restart"] = check_index(index_dir, state)
    res["documents_updated"] = sum(1 for d in state.superseded if d in state.current)
    res["prebuilt_documents_updated"] = sum(1 for d in state.superseded if d in state.current and d in state.prebuilt)
    res["prebuilt_documents_deleted"] = len(state.deleted & state.prebuilt)
    res["documents_deleted"] = len(state.deleted)
    res["config"] = {
        "clients": args.clients,
        "seconds": args.seconds,
        "shares": {**shares, "ask": round((1 - sum(shares.values())) * (1 - args.chat_share), 3), "chat": round((1 - sum(shares.values())) * args.chat_share, 3)},
        "hang_s": args.hang_s,
        "kill_after_s": args.kill_after,
        "index": args.index,
        "embedder": args.embedder,
        "generator": (f"real: {args.generator or 'default'} profile" + (f", prompt_cache_mb={args.prompt_cache_mb}" if args.prompt_cache_mb is not None else "")) if args.real else "extractive-fake (groundqa.testing)",
        "guard": "the default pipeline's (real)" if args.real else "keyword-fake (groundqa.testing)",
        "server": f"python -m groundqa serve, snapshot_interval_s={args.snapshot_s}, workers={args.workers or 'the default'}" if args.real else "uvicorn, 1 process, workers=4 inference threads, loopback",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "load_average_at_start": round(load0, 2),
        "command": "python " + " ".join(sys.argv),
    }
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    live, after, idx = res["verify_live"], res["verify_after_sigkill"], res["index_after_restart"]
    ok = res["errors"] == 0 and res["hung"] == 0 and not (live["lost"] or live["resurrected"] or after["lost"] or after["resurrected"] or idx["lost"] or idx["stale"] or idx["resurrected"])
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
