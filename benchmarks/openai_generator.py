"""The openai: generator against a real inference server running the same weights as the local
default generator (issue 27): llama-cpp-python's server with the Qwen2.5-Coder-0.5B GGUF groundqa
ships and the shipped LoRA adapter converted to GGUF. Every demo question goes through the whole
pipeline twice, with the same retrieval and guard: once with the local TransformersGenerator
("default" profile), once with OpenAIServerGenerator; the answers, declines, confidence signals and
verdicts are compared.

Kept out of the test suite: building llama-cpp-python from source takes about half an hour on 2
cores. Setup (once):

    python -m venv /tmp/llama_venv
    CMAKE_BUILD_PARALLEL_LEVEL=2 /tmp/llama_venv/bin/pip install 'llama-cpp-python[server]'
    # the adapter as GGUF: convert_lora_to_gguf.py from the llama.cpp source in the sdist
    # (vendor/llama.cpp), with the de-quantised base folder groundqa built as --base
    PYTHONPATH=LLAMA_CPP/gguf-py python LLAMA_CPP/convert_lora_to_gguf.py \\
        src/groundqa/data/adapters/qwen2.5-coder-0.5b-squad-lora \\
        --base ~/.cache/groundqa/dequant/qwen2.5-coder-0.5b-<hash> --outfile /tmp/qwen-lora.gguf --outtype f32

Run (starts the server itself, on a free port, and stops it):

    python benchmarks/openai_generator.py --llama-python /tmp/llama_venv/bin/python \\
        --lora-gguf /tmp/qwen-lora.gguf --out benchmarks/results/generator/openai_generator_llamacpp.json

or against a server already running: ``--url http://HOST:PORT/v1 [--server-model NAME]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llama_cpp(python: str, base: str, lora: str | None, threads: int, log_path: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    cmd = [python, "-m", "llama_cpp.server", "--model", base, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
           "--n_threads", str(threads), "--logits_all", "true", "--model_alias", "groundqa-default"]
    if lora:
        cmd += ["--lora_path", lora]
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"llama_cpp.server exited: {log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("llama_cpp.server did not start within 300 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=None, help="a running OpenAI-compatible server's base URL (…/v1)")
    ap.add_argument("--server-model", default=None)
    ap.add_argument("--llama-python", default=None, help="a python with llama-cpp-python[server]: start its server here")
    ap.add_argument("--base-gguf", default=None, help="the base GGUF (default: the one groundqa resolves for qwen2.5-coder-0.5b)")
    ap.add_argument("--lora-gguf", default=None, help="the shipped adapter converted to GGUF")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--top-k", type=int, default=4)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from groundqa.documents import Chunker, load_documents, sample_corpus_dir, sample_questions
    from groundqa.generate import OpenAIServerGenerator, TransformersGenerator
    from groundqa.index import HybridIndex
    from groundqa.models import resolve_model
    from groundqa.pipeline import Pipeline
    from groundqa.verify.guard import Guard

    proc = None
    base = args.base_gguf or str(resolve_model("qwen2.5-coder-0.5b").path)
    tmp = Path(tempfile.mkdtemp(prefix="groundqa-openai-gen-"))
    try:
        url = args.url
        if url is None:
            if not args.llama_python:
                raise SystemExit("pass --url of a running server, or --llama-python to start llama-cpp-python's server")
            t = time.perf_counter()
            proc, url = start_llama_cpp(args.llama_python, base, args.lora_gguf, args.threads, tmp / "llama.log")
            server_start = time.perf_counter() - t
        else:
            server_start = None
        loaded = load_documents([sample_corpus_dir()])
        index = HybridIndex("minilm-l6")
        index.warm_up()
        index.add([c for cs in Chunker(index.embedder).chunk_many(loaded.documents) for c in cs])
        questions = sample_questions()
        guard = Guard("default", embedder=index.embedder)
        local = TransformersGenerator("default")
        remote = OpenAIServerGenerator(f"openai:{url}", model=args.server_model, concurrency=1, timeout_s=300)
        runs = {}
        for name, gen in (("local", local), ("server", remote)):
            pipe = Pipeline(index, gen, guard, top_k=args.top_k)
            pipe.warm_up()
            t = time.perf_counter()
            hits = index.search_batch([q.question for q in questions], top_k=args.top_k)
            gens, answers = [], []
            for q, h in zip(questions, hits):  # one at a time: per-answer time on a shared CPU
                gens.append(gen.generate(q.question, h))
                answers.append(pipe.ask(q.question))
            runs[name] = {"gens": gens, "answers": answers, "seconds": time.perf_counter() - t}
        rows = []
        for i, q in enumerate(questions):
            gl, gs = runs["local"]["gens"][i], runs["server"]["gens"][i]
            al, as_ = runs["local"]["answers"][i], runs["server"]["answers"][i]
            rows.append({
                "question": q.question, "answerable": q.answerable, "gold": list(q.answers),
                "local": {"raw": gl.raw_text, "text": gl.text, "declined": gl.declined, "confidence": gl.confidence, "tokens": gl.tokens,
                          "prompt_tokens": gl.prompt_tokens, "seconds": round(gl.seconds, 2), "verdict": al.verdict, "answer": al.text},
                "server": {"raw": gs.raw_text, "text": gs.text, "declined": gs.declined, "confidence": gs.confidence, "tokens": gs.tokens,
                           "prompt_tokens": gs.prompt_tokens, "seconds": round(gs.seconds, 2), "verdict": as_.verdict, "answer": as_.text},
                "same_raw": gl.raw_text == gs.raw_text, "same_answer": gl.text == gs.text, "same_verdict": al.verdict == as_.verdict,
                "lp_mean_diff": round(abs(gl.confidence.get("lp_mean", 0) - gs.confidence.get("lp_mean", 0)), 4) if gs.confidence.get("lp_mean") is not None else None,
            })
        out = {
            "questions": len(rows),
            "same_raw_text": sum(r["same_raw"] for r in rows),
            "same_answer": sum(r["same_answer"] for r in rows),
            "same_verdict": sum(r["same_verdict"] for r in rows),
            "server_has_logprobs": all("lp_mean" in r["server"]["confidence"] for r in rows),
            "max_lp_mean_diff": max((r["lp_mean_diff"] or 0.0) for r in rows),
            "local_seconds_per_answer": round(sum(r["local"]["seconds"] for r in rows) / len(rows), 2),
            "server_seconds_per_answer": round(sum(r["server"]["seconds"] for r in rows) / len(rows), 2),
            "server_start_s": round(server_start, 1) if server_start is not None else None,
            "config": {
                "local": "TransformersGenerator('default'): the GGUF de-quantised to fp32 + the shipped LoRA merged, greedy, CPU",
                "server": (f"llama-cpp-python server: {Path(base).name} (Q4_K_M) + {Path(args.lora_gguf).name if args.lora_gguf else 'no adapter'}, "
                           f"{args.threads} threads, logits_all" if proc is not None else f"{url} ({args.server_model or 'its only model'})"),
                "retrieval": f"the demo's sample corpus, minilm-l6 hybrid, top_k={args.top_k}; guard: default",
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), {platform.python_version()}",
                "command": "python " + " ".join(sys.argv),
            },
            "rows": rows,
        }
        for r in rows:
            mark = "=" if r["same_raw"] else "≠"
            print(f"{mark} {r['question'][:60]:60s} local: {r['local']['raw'][:40]!r:44s} server: {r['server']['raw'][:40]!r}")
        print(json.dumps({k: v for k, v in out.items() if k != "rows"}, indent=2))
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
