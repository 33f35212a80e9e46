"""The service's dynamic batcher takes a batch only when a worker is free to answer it: asks that
arrive while the worker is busy wait and go into the next batch together (issue 22)."""

from __future__ import annotations

import asyncio
import time


def test_asks_arriving_while_the_worker_is_busy_form_one_next_batch() -> None:
    from groundqa.serve.app import _Batcher

    sizes: list[int] = []

    async def run_batch(questions, kwargs):
        sizes.append(len(questions))
        await asyncio.sleep(0.3)  # the model's time; the event loop stays free
        return [f"answer to {q}" for q in questions]

    async def go():
        b = _Batcher(run_batch, max_size=8, wait_s=0.005, workers=1)
        first = asyncio.create_task(b.ask("q0", {}))
        await asyncio.sleep(0.05)  # q0's batch is running
        rest = [asyncio.create_task(b.ask(f"q{i}", {})) for i in range(1, 6)]
        for i, t in enumerate(rest, start=1):
            await asyncio.sleep(0.02)  # arrivals spread over the running batch
        answers = await asyncio.gather(first, *rest)
        b.close()
        return answers

    t0 = time.perf_counter()
    answers = asyncio.run(go())
    assert answers == [f"answer to q{i}" for i in range(6)]
    assert sizes == [1, 5]  # not five batches of one queued behind the first
    assert time.perf_counter() - t0 < 1.5


def test_two_workers_answer_two_batches_at_once_and_a_failed_batch_fails_only_its_asks() -> None:
    from groundqa.serve.app import _Batcher

    running = 0
    most = 0

    async def run_batch(questions, kwargs):
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.2)
        running -= 1
        if "bad" in questions:
            raise ValueError("model failed")
        return list(questions)

    async def go():
        b = _Batcher(run_batch, max_size=1, wait_s=0.0, workers=2)
        res = await asyncio.gather(b.ask("a", {}), b.ask("bad", {}), b.ask("c", {}), return_exceptions=True)
        again = await b.ask("d", {})  # the collectors survive a failed batch
        b.close()
        return res, again

    res, again = asyncio.run(go())
    assert res[0] == "a" and res[2] == "c" and isinstance(res[1], ValueError) and again == "d"
    assert most == 2
