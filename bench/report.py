"""One performance report: runs every benchmark script in turn and prints their tables together.

    python -m bench.report                      # everything, the sizes docs/benchmarks.md quotes
    python -m bench.report --quick              # small sizes, a couple of minutes
    python -m bench.report --only poll detector # a subset

Each benchmark runs as its own process (so one's memory and imports never colour another's);
the report adds the machine, its load before each run, and the wall time each took. With
KAMERWACHT_BENCH_DB set, the backfill also runs on that database (PostgreSQL).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time

FULL = {
    "backfill": ["bench.bench_backfill", "--sizes", "25000", "50000", "100000", "200000"],
    "catchup": ["bench.bench_catchup", "--base", "25000", "--week", "3000", "--repeat", "3"],
    "poll": ["bench.bench_poll"],
    "detector": ["bench.bench_detector"],
    "fanout": ["bench.bench_fanout", "--subscribers", "10000"],
}
QUICK = {
    "backfill": ["bench.bench_backfill", "--sizes", "5000", "10000", "--repeat", "1"],
    "catchup": ["bench.bench_catchup", "--base", "2000", "--week", "500", "--repeat", "1"],
    "poll": ["bench.bench_poll"],
    "detector": ["bench.bench_detector", "--rounds", "2"],
    "fanout": ["bench.bench_fanout", "--subscribers", "1000"],
}


def machine() -> str:
    memory = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            kib = int(meminfo.readline().split()[1])
        memory = f", {kib / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.machine()} {platform.processor() or ''}".strip()
        + f", {os.cpu_count()} cores{memory}, Python {platform.python_version()}, "
        + f"{platform.system()} {platform.release()}"
    )


def run(name: str, command: list[str], environ: dict[str, str] | None = None) -> int:
    load = os.getloadavg()[0]
    print(f"\n## {name}  (`python -m {' '.join(command)}`, load before {load:.1f})\n", flush=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", *command], env=environ, check=False)
    print(f"\n({name}: {time.perf_counter() - started:.0f} s wall, exit {done.returncode})")
    return done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", choices=sorted(FULL))
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    print(f"# Kamerwacht benchmarks, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    failures = 0
    for name, command in plan.items():
        if args.only and name not in args.only:
            continue
        sqlite = {k: v for k, v in os.environ.items() if k != "KAMERWACHT_BENCH_DB"}
        failures += run(name, command, sqlite if name == "backfill" else None) != 0
        if name == "backfill" and os.environ.get("KAMERWACHT_BENCH_DB"):
            failures += run("backfill on PostgreSQL", command) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
