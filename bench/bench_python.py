#!/usr/bin/env python3
"""The Python binding's overhead: batches/s through the package next to `synthpix bench`
for the same configuration and thread count, in the same run.

    PYTHONPATH=build/python /usr/bin/python3 bench/bench_python.py \
        [-c bench/synthpix_like_256.yaml] [--threads N] [--seconds S] [--cli build/synthpix]

Measures, each for S seconds after one warm-up batch:
  c            `synthpix bench --json`: the C loop, rendering in place, no copies
  python       Sampler.next(): a fresh NumPy batch each time (the default contract)
  python_out   Sampler.next(out=batch): the same arrays reused (no allocation)
  two_threads  two samplers with threads=1 in two Python threads, against one (the GIL is
               released while a batch renders; 2.0 would be perfect scaling)
Prints one line per measure and, last, one JSON line (benchmarks never gate CI).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import threading
import time

import synthpix


def python_rate(cfg: synthpix.Config, threads: int, seconds: float, reuse: bool) -> float:
    with synthpix.Sampler(cfg, threads=threads) as s:
        b = s.next()
        pairs, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            b = s.next(out=b) if reuse else s.next()
            pairs += b.batch_size
        return pairs / (time.perf_counter() - t0)


def threaded_rate(cfg: synthpix.Config, n: int, seconds: float) -> float:
    samplers = [synthpix.Sampler(cfg, threads=1) for _ in range(n)]
    counts = [0] * n
    stop = time.perf_counter() + seconds

    def run(i: int) -> None:
        b = samplers[i].next()
        while time.perf_counter() < stop:
            b = samplers[i].next(out=b)
            counts[i] += b.batch_size

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for s in samplers:
        s.close()
    return sum(counts) / elapsed


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-c", "--config", default=os.path.join(here, "synthpix_like_256.yaml"))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--cli", default=os.environ.get("SP_CLI", os.path.join(here, "..", "build", "synthpix")))
    a = p.parse_args()
    cfg = synthpix.Config(a.config)
    c = json.loads(subprocess.run([a.cli, "bench", "-c", a.config, "--threads", str(a.threads), "--seconds",
                                   str(a.seconds), "--json"], check=True, capture_output=True, text=True).stdout)
    py = python_rate(cfg, a.threads, a.seconds, reuse=False)
    py_out = python_rate(cfg, a.threads, a.seconds, reuse=True)
    one = threaded_rate(cfg, 1, a.seconds)
    two = threaded_rate(cfg, 2, a.seconds)
    cps = c["pairs_per_second"]
    print(f"config {os.path.relpath(a.config)}: {c['image_shape'][0]}x{c['image_shape'][1]}, batch {c['batch_size']},"
          f" {a.threads} thread(s), {a.seconds:g} s per measure")
    print(f"  c (synthpix bench)       {cps:10.1f} pairs/s")
    print(f"  python next()            {py:10.1f} pairs/s  ({py / cps:.3f} of C)")
    print(f"  python next(out=batch)   {py_out:10.1f} pairs/s  ({py_out / cps:.3f} of C)")
    print(f"  1 sampler,  1 thread     {one:10.1f} pairs/s")
    print(f"  2 samplers, 2 threads    {two:10.1f} pairs/s  ({two / one:.2f} x)")
    print(json.dumps({"config": os.path.basename(a.config), "threads": a.threads, "c_pairs_per_second": round(cps, 1),
                      "python_pairs_per_second": round(py, 1), "python_out_pairs_per_second": round(py_out, 1),
                      "python_fraction_of_c": round(py / cps, 4), "python_out_fraction_of_c": round(py_out / cps, 4),
                      "one_thread_pairs_per_second": round(one, 1), "two_threads_pairs_per_second": round(two, 1),
                      "two_thread_speedup": round(two / one, 3)}))


if __name__ == "__main__":
    main()
