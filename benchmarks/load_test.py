"""Load test of the HTTP service over loopback: N concurrent clients for T seconds mixing ask and
ingest, then every acknowledged document is checked (GET and retrieval), the server is killed with
SIGKILL, restarted, and checked again.

By default the server runs the fake generator and guard (``groundqa.testing``) over the hash
embedder, so the numbers measure the service (HTTP, auth, validation, thread pool, journal fsync,
index updates, audit log), not the models. ``--embedder minilm-l6`` uses the real embedder for
retrieval and ingest.

    python benchmarks/load_test.py --clients 32 --seconds 60 --out benchmarks/results/serve_load.json
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


def start(index_dir: str, embedder: str) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", index_dir, str(port), "--embedder", embedder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
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


async def run_load(url: str, clients: int, seconds: float, ingest_share: float, seed: int) -> dict:
    import httpx

    rng = random.Random(seed)
    lat: dict[str, list[float]] = {"ask": [], "ingest": []}
    errors: list[str] = []
    acked: dict[str, str] = {}
    counter = {"n": 0}
    stop = time.perf_counter() + seconds

    async def client(cid: int) -> None:
        r = random.Random(seed * 1000 + cid)
        async with httpx.AsyncClient(base_url=url, timeout=60) as c:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                if r.random() < ingest_share:
                    counter["n"] += 1
                    n = counter["n"]
                    code = f"kw{cid}x{n}q{r.randrange(10**6)}"
                    doc = {"id": f"load/{cid}/{n}", "text": f"Ticket {n} from client {cid}: the reference word is {code}. It concerns the {r.choice(TOPICS)} service."}
                    try:
                        resp = await c.post("/v1/documents", json={"documents": [doc]})
                    except httpx.HTTPError as exc:
                        errors.append(f"ingest {type(exc).__name__}")
                        continue
                    if resp.status_code in (200, 201):
                        acked[doc["id"]] = code
                        lat["ingest"].append(time.perf_counter() - t0)
                    else:
                        errors.append(f"ingest {resp.status_code} {resp.text[:200]}")
                else:
                    t = r.choice(TOPICS)
                    q = r.choice([f"How do I manage my {t}?", f"How long do {t} changes take?", f"Where do I change my {t} settings?"])
                    try:
                        resp = await c.post("/v1/ask", json={"question": q})
                    except httpx.HTTPError as exc:
                        errors.append(f"ask {type(exc).__name__}")
                        continue
                    if resp.status_code == 200 and "verdict" in resp.json():
                        lat["ask"].append(time.perf_counter() - t0)
                    else:
                        errors.append(f"ask {resp.status_code} {resp.text[:200]}")

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    wall = time.perf_counter() - t0
    done = len(lat["ask"]) + len(lat["ingest"])
    return {
        "wall_s": round(wall, 2),
        "requests": done,
        "errors": len(errors),
        "error_samples": errors[:5],
        "throughput_rps": round(done / wall, 1),
        "ask": {"count": len(lat["ask"]), "p50_ms": round(pct(lat["ask"], 50) * 1000, 1), "p95_ms": round(pct(lat["ask"], 95) * 1000, 1), "p99_ms": round(pct(lat["ask"], 99) * 1000, 1)},
        "ingest": {"count": len(lat["ingest"]), "p50_ms": round(pct(lat["ingest"], 50) * 1000, 1), "p95_ms": round(pct(lat["ingest"], 95) * 1000, 1), "p99_ms": round(pct(lat["ingest"], 99) * 1000, 1)},
        "_acked": acked,
    }


async def verify(url: str, acked: dict[str, str]) -> dict:
    """Every acknowledged document: GET returns it, and asking for its unique word retrieves it."""
    import httpx

    missing, unretrieved = [], []
    sem = asyncio.Semaphore(16)

    async def one(c: httpx.AsyncClient, doc_id: str, code: str) -> None:
        async with sem:
            g = await c.get(f"/v1/documents/{doc_id}")
            if g.status_code != 200 or code not in g.json().get("text", ""):
                missing.append(doc_id)
                return
            a = await c.post("/v1/ask", json={"question": f"{code}?", "top_k": 3})
            if doc_id not in {p["doc_id"] for p in a.json().get("passages", [])}:
                unretrieved.append(doc_id)

    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        await asyncio.gather(*(one(c, d, k) for d, k in acked.items()))
    return {"checked": len(acked), "lost": len(missing), "not_retrieved": len(unretrieved), "lost_samples": missing[:5], "not_retrieved_samples": unretrieved[:5]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", nargs=2, metavar=("INDEX", "PORT"), help=argparse.SUPPRESS)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--ingest-share", type=float, default=0.2, help="share of requests that ingest a new document (default 0.2)")
    ap.add_argument("--embedder", default="hash", help="hash (default: measures the service) or minilm-l6")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.embedder)
        return
    import httpx

    tmp = tempfile.mkdtemp(prefix="groundqa-load-")
    index_dir = os.path.join(tmp, "index")
    proc, url = start(index_dir, args.embedder)
    try:
        r = httpx.post(f"{url}/v1/documents", json={"documents": seed_docs()}, timeout=120)
        r.raise_for_status()
        print(f"server up at {url}; {args.clients} clients for {args.seconds:.0f} s ...", file=sys.stderr)
        res = asyncio.run(run_load(url, args.clients, args.seconds, args.ingest_share, args.seed))
        acked = res.pop("_acked")
        print(f"load done: {res['requests']} requests, {res['errors']} errors; verifying {len(acked)} documents ...", file=sys.stderr)
        res["verify_live"] = asyncio.run(verify(url, acked))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    t0 = time.perf_counter()
    proc, url = start(index_dir, args.embedder)
    res["restart_after_sigkill_s"] = round(time.perf_counter() - t0, 2)
    try:
        res["verify_after_sigkill"] = asyncio.run(verify(url, acked))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    res["config"] = {
        "clients": args.clients,
        "seconds": args.seconds,
        "ingest_share": args.ingest_share,
        "embedder": args.embedder,
        "generator": "extractive-fake (groundqa.testing)",
        "guard": "keyword-fake (groundqa.testing)",
        "server": "uvicorn, 1 process, workers=4 inference threads, loopback",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), {platform.python_version()}",
        "command": "python " + " ".join(sys.argv),
    }
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    ok = res["errors"] == 0 and res["verify_live"]["lost"] == 0 and res["verify_after_sigkill"]["lost"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
