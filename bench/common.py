"""Shared bench helpers: medians of repeated runs, peak memory, the results file.

Every benchmark times the product and a baseline (the bare limit for the same work) in the same
run, several times each, and reports the ratio of the medians: these machines are noisy, so a
single absolute time means little.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results.json"
# The production settings the benchmarks start the app with (a production start refuses to run
# without a SECRET_KEY and, for the second-factor secrets, an MFA_ENCRYPTION_KEY).
BENCH_SECRET_KEY = "bench-" + "0" * 58
BENCH_MFA_KEY = "YmVuY2gtb25seS1tZmEta2V5LTMyLWJ5dGVzLWxvbmc="


def seconds(work: Callable[[], Any]) -> float:
    """The wall time of one call of `work`."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def median_seconds(
    work: Callable[[], Any], runs: int, setup: Callable[[], Any] | None = None
) -> float:
    """The median wall time of `work` over `runs` runs (`setup` before each, not timed)."""
    times = []
    for _ in range(runs):
        if setup:
            setup()
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def process_peak_mb(pid: int | str = "self") -> float:
    """Peak resident memory (MB, VmHWM) of a running process: this one by default."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def children_of(pid: int) -> list[int]:
    """The process ids whose parent is `pid` (e.g. gunicorn's workers)."""
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(child) for child in children.read().split()]


def peak_mb_of(module: str, *args: str) -> float:
    """Peak resident memory (MB) of `python -m module args` in a fresh process."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = [{module!r}, *{list(args)!r}]\n"
        "try:\n"
        f"    runpy.run_module({module!r}, run_name='__main__')\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec.
        "from bench.common import process_peak_mb\n"
        "print('PEAK_MB', process_peak_mb())"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return float(output.rsplit("PEAK_MB", 1)[1].split()[0])


def record(
    name: str, *, ratio: float, target: str, baseline_s: float, product_s: float, **extra: Any
) -> dict:
    """Print one result and merge it into bench/results.json."""
    entry = {
        "ratio": round(ratio, 3),
        "target": target,
        "baseline_s": round(baseline_s, 4),
        "product_s": round(product_s, 4),
        **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in extra.items()},
    }
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[name] = entry
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    figures = ", ".join(f"{k}={v}" for k, v in entry.items())
    print(f"[bench] {name}: {figures}", flush=True)
    return entry


BENCH_PROVIDER = {"id": 1, "slug": "bench", "name": "Bench"}
"""The one provider whose episodes the benchmarks write straight into the tables."""


def insert_provider(connection: Any) -> int:
    """Write `BENCH_PROVIDER` (episodes need one) and return its id."""
    from datetime import datetime

    from sqlalchemy import insert

    from survey.models import Provider

    connection.execute(insert(Provider), [{**BENCH_PROVIDER, "created_at": datetime(2026, 1, 1)}])
    return BENCH_PROVIDER["id"]
