"""How many CPU threads torch uses: one rule for every command and the Python entry points.

torch's default (one thread per physical core) oversubscribes a shared machine: on a busy
2-core machine DARTS_V2 trained 28x slower with 2 threads than with 1, because torch's
threads wait for each other at every operator while other processes hold the cores. The
rule: the cores this process may run on (``os.sched_getaffinity``), less the processes
already running (the 1-minute load average, rounded), divided by the trials that run at
once, at least 1. It is computed once per command (a search passes the number to every
trial, so a run uses one thread count) and printed in the log; ``--threads`` fixes it.

How many trials run at once (a search's default ``concurrency``): the cores this process may
run on divided by the threads per trial (``--threads``, else 1), at least 1, so a 2-core
machine trains 2 single-threaded trials at once (``default_concurrency``). Single-threaded
trials do not wait for each other, so the load average does not lower this number.
"""
from __future__ import annotations

import os


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def busy_cores() -> int:
    """Cores other processes keep busy: the 1-minute load average, rounded (0 where unknown)."""
    try:
        return round(os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0


def default_threads(concurrent: int = 1) -> tuple[int, str]:
    """(threads per trial, the rule with its numbers, for the log) for ``concurrent`` trials at once."""
    cores, busy = available_cores(), busy_cores()
    free = max(1, cores - busy)
    threads = max(1, free // max(1, concurrent))
    return threads, (f"{threads} torch thread(s) per trial: ({cores} cores - {busy} busy (load average)) "
                     f"// {concurrent} concurrent trial(s), at least 1")


def default_concurrency(threads: int | None = None) -> tuple[int, str]:
    """(trials at once, the rule with its numbers, for the log): the cores this process may run
    on divided by the torch threads per trial (``threads``, else 1), at least 1."""
    cores, per_trial = available_cores(), threads or 1
    concurrency = max(1, cores // per_trial)
    return concurrency, (f"{concurrency} concurrent trial(s): {cores} cores // {per_trial} torch thread(s) per trial, "
                         f"at least 1")
