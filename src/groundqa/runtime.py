"""How many threads torch may use: the cores this process may run on that other work leaves free.

On a small machine thread count matters more than the engine: with the other core busy, one
thread generated an answer in 9.6 s and two threads in 19.0 s (two threads fighting a busy core
for every matrix product). :func:`free_cores` counts the cores this process may use
(``sched_getaffinity``, or a cgroup CPU quota where one is set) less the load other processes put
on them (the one-minute load average, read before this process starts its own work);
:func:`choose_threads` divides them among the workers that run models at once (the service runs
``[serve] workers`` of them), so the process never asks for more threads than there are free
cores. A number given in ``GROUNDQA_THREADS`` or the configuration (``threads``) wins, then
``OMP_NUM_THREADS`` where the user set it. No torch import until threads are applied.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from .errors import ConfigError

_applied: int | None = None


def check_threads(threads: int | str | None) -> int | str | None:
    """``"auto"`` (choose from the free cores), a positive int, or None (leave torch's setting)."""
    if threads is None or threads == "auto":
        return threads
    if isinstance(threads, str) and threads.strip().isdigit():
        threads = int(threads)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads={threads!r} is not valid; use 'auto' (the free cores) or a positive number of threads")
    return threads


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:  # cgroup v2: "max 100000" or "200000 100000"
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def free_cores(load: float | None = None) -> int:
    """Usable cores less the load other processes put on them (at least one)."""
    cores = usable_cores()
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    return max(1, min(cores, cores - int(math.floor(load + 0.25))))


def choose_threads(threads: int | str | None = "auto", *, workers: int = 1, load: float | None = None) -> int | None:
    """The torch thread count: ``GROUNDQA_THREADS`` if set, else ``threads`` when it is a number,
    else the free cores divided among ``workers`` (at least one each); None leaves torch alone."""
    env = os.environ.get("GROUNDQA_THREADS", "").strip()
    if env:
        checked = int(env) if env.isdigit() else None
        if not checked:
            raise ConfigError(f"GROUNDQA_THREADS={env!r} is not valid; set a positive number of threads or unset it")
        return checked
    threads = check_threads(threads)
    if threads is None:
        return None
    if isinstance(threads, int):
        return threads
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:  # the user pinned threads for every library: keep it
        return int(omp)
    if workers < 1:
        raise ConfigError(f"workers={workers!r} must be >= 1")
    return max(1, free_cores(load) // workers)


def apply_threads(threads: int | str | None = "auto", *, workers: int = 1) -> int | None:
    """Set torch's intra-op thread count. ``"auto"`` is chosen once per process (later automatic
    calls keep the first choice, so the service's choice for its workers holds when the models
    load); a number, here or in ``GROUNDQA_THREADS``, is applied every time. Returns the count in
    force, or None if torch was left alone."""
    global _applied
    explicit = bool(os.environ.get("GROUNDQA_THREADS", "").strip()) or isinstance(check_threads(threads), int)
    if _applied is not None and not explicit:
        return _applied
    n = choose_threads(threads, workers=workers)
    if n is None:
        return None
    import torch

    torch.set_num_threads(n)
    _applied = n
    return n


def reset_threads() -> None:
    """Forget the applied choice (tests; a service that changes its worker count)."""
    global _applied
    _applied = None
