"""Threads: the GIL is released while a batch renders.

The tests marked `timing` compare wall times. They run in their own ctest entry
(`python_timing`, RUN_SERIAL: nothing else runs beside them), need two cores, take the
best of three attempts, and use generous margins, so a loaded machine slows them down
without failing them. bench/bench_python.py measures the same things as figures.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

import numpy as np
import pytest

import synthpix
from test_sampler import same_batch

BATCHES = 6


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def render(sampler: synthpix.Sampler, n: int, out: list) -> None:
    for _ in range(n):
        out.append(next(sampler))


def test_samplers_in_two_threads_give_the_same_batches_as_alone(small):
    alone = []
    for seed in (1, 2):
        with synthpix.make(small(seed=seed), threads=1) as s:
            alone.append([next(s) for _ in range(4)])
    got = [[], []]
    samplers = [synthpix.make(small(seed=seed), threads=1) for seed in (1, 2)]
    threads = [threading.Thread(target=render, args=(s, 4, g)) for s, g in zip(samplers, got)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in samplers:
        s.close()
    for a, g in zip(alone, got):
        assert all(same_batch(x, y) for x, y in zip(a, g)) and len(g) == 4


def _serial_and_parallel():
    samplers = [synthpix.make(None, threads=1) for _ in range(2)]  # the embedded default, 256 x 256
    for s in samplers:
        next(s)  # warm up: first flows, allocations
    t0 = time.perf_counter()
    for s in samplers:
        render(s, BATCHES, [])
    serial = time.perf_counter() - t0
    threads = [threading.Thread(target=render, args=(s, BATCHES, [])) for s in samplers]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    parallel = time.perf_counter() - t0
    for s in samplers:
        s.close()
    return serial, parallel


def _gil_free_ratio() -> float:
    """parallel / serial wall time of two threads hashing (hashlib releases the GIL): what
    this machine gives two threads right now (about 0.5 when two cores are free)."""
    data = os.urandom(16 << 20)

    def work() -> None:
        for _ in range(6):
            hashlib.sha256(data).digest()

    t0 = time.perf_counter()
    work()
    work()
    serial = time.perf_counter() - t0
    threads = [threading.Thread(target=work) for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (time.perf_counter() - t0) / serial


@pytest.mark.timing
def test_two_samplers_in_two_threads_run_in_parallel():
    """parallel < 0.8 x serial. Each attempt first measures what the machine gives two
    GIL-free threads; after five attempts without a pass the test fails when the machine
    could run two threads in parallel (calibration < 0.75) and is skipped, saying so, when
    it never could (other jobs held the cores)."""
    if cores() < 2:
        pytest.skip("needs two cores")
    tries = []
    for _ in range(5):
        calibration = _gil_free_ratio()
        serial, parallel = _serial_and_parallel()
        tries.append((round(calibration, 2), round(parallel / serial, 2)))
        if parallel < 0.8 * serial:
            return
    if min(c for c, _ in tries) > 0.75:
        pytest.skip(f"the machine never ran two threads in parallel (calibration, samplers): {tries}")
    pytest.fail(f"two threads never beat 0.8 x serial; (calibration, parallel/serial): {tries}")


@pytest.mark.timing
def test_python_runs_while_a_batch_renders():
    """While another thread renders, this thread keeps running Python: the longest pause
    it sees is far shorter than one batch (with the GIL held it would be a whole batch)."""
    if cores() < 2:
        pytest.skip("needs two cores")
    s = synthpix.make(None, threads=1)
    next(s)
    t0 = time.perf_counter()
    next(s)
    one_batch = time.perf_counter() - t0
    tries = []
    for _ in range(3):
        worker = threading.Thread(target=render, args=(s, 4, []))
        gaps = []
        worker.start()
        last = time.perf_counter()
        while worker.is_alive():
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
            np.sqrt(np.arange(64.0))  # some Python work
        worker.join()
        tries.append(max(gaps))
        if max(gaps) < 0.5 * one_batch:
            s.close()
            return
    s.close()
    pytest.fail(f"longest pause {tries} s, one batch {one_batch:.3f} s")
