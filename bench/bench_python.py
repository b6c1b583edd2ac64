#!/usr/bin/env python3
"""The Python binding's overhead: batches/s through the package next to `synthpix bench`
for the same configuration and thread count, in the same run.

    PYTHONPATH=build/python /usr/bin/python3 bench/bench_python.py \
        [-c bench/synthpix_like_256.yaml] [--threads N] [--seconds S] [--rounds R] [--cli build/synthpix]

Measures, each for S seconds after one warm-up batch, in R interleaved rounds (medians):
  c            `synthpix bench --json`: the C loop, rendering in place, no copies
  python       Sampler.next(): a fresh NumPy batch each time (the default contract)
  python_out   Sampler.next(out=batch): the same arrays reused (no allocation)
  fresh        what new NumPy arrays for a batch would cost (np.empty, then one write: the
               kernel zeroes new pages), as a fraction of one batch's render time: what
               rendering in place into the sampler's recycled blocks saves (the binding
               itself copies only the per-pair metadata)
  two_threads  two samplers with threads=1 in two Python threads, against one (the GIL is
               released while a batch renders; 2.0 would be perfect scaling)
Prints one line per measure and, last, one JSON line with the load average, since figures
from a shared machine mean little (benchmarks never gate CI).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import threading
import time
from typing import Any, Dict, List

import numpy as np

import synthpix


def python_rate(cfg: synthpix.Config, threads: int, seconds: float, reuse: bool) -> float:
    with synthpix.Sampler(cfg, threads=threads) as s:
        b = s.next()
        pairs, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            b = s.next(out=b) if reuse else s.next()
            pairs += b.batch_size
        return pairs / (time.perf_counter() - t0)


def fresh_seconds(cfg: synthpix.Config, threads: int) -> float:
    """Best-of-five time of new NumPy arrays for a batch: np.empty, then one write each (the
    kernel zeroes new pages on first touch). next() avoids it by rendering into recycled
    blocks of dropped batches."""
    with synthpix.Sampler(cfg, threads=threads) as s:
        b = s.next()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        fresh = {k: np.empty_like(getattr(b, k)) for k in ("images1", "images2", "flow_fields", "params", "keys")}
        for a in fresh.values():
            a.fill(0)
        best = min(best, time.perf_counter() - t0)
        del fresh
    return best


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


def c_rate(cli: str, config: str, threads: int, seconds: float) -> Dict[str, Any]:
    out = subprocess.run([cli, "bench", "-c", config, "--threads", str(threads), "--seconds", str(seconds), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-c", "--config", default=os.path.join(here, "synthpix_like_256.yaml"))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seconds", type=float, default=2.0, help="per measure and round")
    p.add_argument("--rounds", type=int, default=3, help="rounds of all measures, interleaved; medians reported")
    p.add_argument("--cli", default=os.environ.get("SP_CLI", os.path.join(here, "..", "build", "synthpix")))
    a = p.parse_args()
    cfg = synthpix.Config(a.config)
    rounds: Dict[str, List[float]] = {k: [] for k in ("c", "python", "python_out", "one", "two")}
    info: Dict[str, Any] = {}
    for _ in range(a.rounds):  # interleaved, so a busy machine slows every measure alike
        info = c_rate(a.cli, a.config, a.threads, a.seconds)
        rounds["c"].append(info["pairs_per_second"])
        rounds["python"].append(python_rate(cfg, a.threads, a.seconds, reuse=False))
        rounds["python_out"].append(python_rate(cfg, a.threads, a.seconds, reuse=True))
        rounds["one"].append(threaded_rate(cfg, 1, a.seconds))
        rounds["two"].append(threaded_rate(cfg, 2, a.seconds))
    med = {k: statistics.median(v) for k, v in rounds.items()}
    fresh = fresh_seconds(cfg, a.threads)
    batch_s = info["batch_size"] / med["c"]
    per_round = statistics.median(py / c for py, c in zip(rounds["python"], rounds["c"]))
    cps = med["c"]
    print(f"config {os.path.relpath(a.config)}: {info['image_shape'][0]}x{info['image_shape'][1]}, batch "
          f"{info['batch_size']}, {a.threads} thread(s), {a.rounds} rounds of {a.seconds:g} s per measure (medians)")
    print(f"  c (synthpix bench)       {cps:10.1f} pairs/s")
    print(f"  python next()            {med['python']:10.1f} pairs/s  ({med['python'] / cps:.3f} of C; "
          f"per round {per_round:.3f})")
    print(f"  python next(out=batch)   {med['python_out']:10.1f} pairs/s  ({med['python_out'] / cps:.3f} of C)")
    print(f"  new arrays for a batch   {fresh * 1e3:10.2f} ms  ({fresh / batch_s:.3f} of one batch's render time)")
    print(f"  1 sampler,  1 thread     {med['one']:10.1f} pairs/s")
    print(f"  2 samplers, 2 threads    {med['two']:10.1f} pairs/s  ({med['two'] / med['one']:.2f} x)")
    print(json.dumps({"config": os.path.basename(a.config), "threads": a.threads, "rounds": a.rounds,
                      "c_pairs_per_second": round(cps, 1), "python_pairs_per_second": round(med["python"], 1),
                      "python_out_pairs_per_second": round(med["python_out"], 1),
                      "python_fraction_of_c": round(med["python"] / cps, 4),
                      "python_fraction_of_c_per_round": round(per_round, 4),
                      "python_out_fraction_of_c": round(med["python_out"] / cps, 4),
                      "one_thread_pairs_per_second": round(med["one"], 1),
                      "two_threads_pairs_per_second": round(med["two"], 1),
                      "two_thread_speedup": round(med["two"] / med["one"], 3),
                      "fresh_ms_per_batch": round(fresh * 1e3, 3), "fresh_fraction_of_batch": round(fresh / batch_s, 4),
                      "load_average": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
