"""Shared helpers of the benchmarks: database URLs, timing and the summary statistics.

Not part of the test suite; run the scripts in this folder by hand (see bench/README.md).
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_DB = os.environ.get("PINGAN_BENCH_DB", "pingan_bench")
PG_SERVER = os.environ.get("PINGAN_BENCH_PG", "postgres@127.0.0.1:5432")


def bench_db_name() -> str:
    """The benchmark database; refuses the shared test databases outright."""
    name = BENCH_DB
    if name == "test" or name.startswith("test_") or name in ("postgres", "template0", "template1"):
        raise SystemExit(f"refusing to use database {name!r}: benchmarks only use their own database")
    return name


def sa_url() -> str:
    return f"postgresql+psycopg://{PG_SERVER}/{bench_db_name()}"


def pg_dsn() -> str:
    user, hostport = PG_SERVER.split("@")
    host, port = hostport.split(":")
    return f"host={host} port={port} user={user} dbname={bench_db_name()}"


@dataclass
class Stats:
    n: int
    median_us: float
    p95_us: float
    p99_us: float
    mean_us: float
    min_us: float

    def row(self) -> str:
        return (f"{self.n} | {fmt(self.median_us)} | {fmt(self.p95_us)} | {fmt(self.p99_us)} | "
                f"{fmt(self.mean_us)} | {fmt(self.min_us)}")


def fmt(us: float) -> str:
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us:.1f} µs"


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0–100) of an ascending list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def summarize(samples_ns: list[int]) -> Stats:
    v = sorted(s / 1000 for s in samples_ns)
    return Stats(len(v), statistics.median(v), percentile(v, 95), percentile(v, 99), statistics.fmean(v), v[0])


def measure(fn: Callable[[], object], n: int, warmup: int, inner: int = 1) -> Stats:
    """Call ``fn`` ``warmup`` times, then time ``n`` calls (each of ``inner`` repetitions)."""
    for _ in range(warmup):
        fn()
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        for _ in range(inner):
            fn()
        out.append((clock() - t0) // inner if inner > 1 else clock() - t0)
    return summarize(out)


STATS_HEADER = "n | median | p95 | p99 | mean | min"


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GB"
    except (OSError, ValueError, IndexError):
        pass
    pg = "?"
    try:
        pg = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version", "postgres"],
                            capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({cpu}), {mem} RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()}, PostgreSQL {pg} on 127.0.0.1 (loopback TCP); "
            f"load average when the report was written: {load} (the machine was shared with other test runs)")


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def write_result(name: str, text: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path
