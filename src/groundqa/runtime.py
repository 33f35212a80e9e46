"""How many threads torch may use: the cores this process may run on that other work leaves free.

On a small machine thread count matters more than the engine: with the other core busy, one
thread generated an answer in 9.6 s and two threads in 19.0 s (two threads fighting a busy core
for every matrix product). :func:`free_cores` counts the cores this process may use
(``sched_getaffinity``, or a cgroup CPU quota where one is set) less the cores other processes keep
busy (measured over a quarter of a second from ``/proc/stat``, this process's own time left out);
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


def others_busy(interval_s: float = 0.25) -> float | None:
    """Cores kept busy by other processes now: the machine's busy time over ``interval_s``
    (``/proc/stat``) less this process's own (``os.times``), so a process that has just been
    loading models does not count itself as load, as the one-minute load average would. None
    where ``/proc/stat`` cannot be read."""
    import time

    def sample() -> tuple[float, float] | None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                fields = [float(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
        return sum(fields[:8]) - idle, sum(fields[:8])

    a, own_a = sample(), os.times()
    if a is None:
        return None
    time.sleep(interval_s)
    b, own_b = sample(), os.times()
    if b is None or b[1] <= a[1]:
        return None
    ncpu = os.cpu_count() or 1
    busy = (b[0] - a[0]) / (b[1] - a[1]) * ncpu
    own = ((own_b.user + own_b.system) - (own_a.user + own_a.system)) / max(interval_s, 1e-3)
    return max(0.0, busy - own)


def free_cores(load: float | None = None) -> int:
    """Usable cores less the load other processes put on them (at least one). ``load`` defaults
    to :func:`others_busy`, or the one-minute load average where that cannot be measured."""
    cores = usable_cores()
    if load is None:
        load = others_busy()
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
