"""Backfill benchmark: crawl a synthetic SyncFeed over HTTP, ingest it, process it; then a poll
with nothing new. Prints one table row per corpus size with medians over repeated runs.

    python -m bench.bench_backfill --sizes 25000 50000 100000 200000 --repeat 1
    KAMERWACHT_BENCH_DB=postgresql+psycopg://… python -m bench.bench_backfill   # on PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.corpus import fill
from monitor import config as config_module
from monitor import jobs, schema
from monitor.replay import ReplayServer, ReplayState
from monitor.store import Store


def peak_rss_mb() -> float:
    """This process's own peak RSS. `ru_maxrss` will not do: Linux carries it over `execve` from
    the process that spawned us (with vfork, the parent's whole address space), so in a worker
    started by this benchmark it reported the parent's RSS, the replay server holding the
    synthetic corpus, which grows with the corpus. `VmHWM` is the high-water mark of this
    process's own memory."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(database_url: str, crawl_file: str) -> None:
    """Ingest and process one crawl file in a fresh process, so peak RSS is the pipeline's own."""
    engine = schema.make_engine(database_url)
    store = Store(engine)
    started = time.perf_counter()
    result = jobs.ingest_file(store, Path(crawl_file))
    ingested = time.perf_counter() - started
    ingest_rss = peak_rss_mb()
    started = time.perf_counter()
    jobs.process(store, silent=True)
    processed = time.perf_counter() - started
    print(json.dumps({"ingest_s": ingested, "process_s": processed, "rss_mb": peak_rss_mb(),
                      "ingest_rss_mb": ingest_rss,
                      "entries": result.entities + result.unchanged}))  # fmt: skip


def cpu_seconds() -> float:
    """CPU of this process and its finished children (crawl subprocesses)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def reset(database_url: str) -> None:
    engine = schema.make_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    schema.upgrade(engine)
    engine.dispose()


async def one_run(size: int, folder: Path, koop_share: float) -> dict[str, float]:
    state = ReplayState(page_size=250)
    fill(state, size, koop_share=koop_share)
    database_url = os.environ.get("KAMERWACHT_BENCH_DB") or f"sqlite:///{folder / 'bench.db'}"
    if database_url.startswith("sqlite"):
        (folder / "bench.db").unlink(missing_ok=True)
    reset(database_url)
    with ReplayServer(state) as server:
        urls = server.source_settings()
        path = folder / "config.toml"
        path.write_text(
            f'[storage]\ndata_dir = "{folder}"\ndatabase_url = "{database_url}"\n'
            f'[sources.syncfeed]\nbase_url = "{urls["syncfeed"]}"\ncategories = ["Zaak", "Document", "DocumentVersie"]\n'
            "max_pages = 100000\n[crawl]\ndownload_delay = 0.0\nautothrottle = false\n",
            encoding="utf-8",
        )
        config = config_module.load(path, environ={})
        store = Store(schema.make_engine(database_url))
        started = time.perf_counter()
        crawled = await jobs.crawl(config, "syncfeed", store)
        crawl_s = time.perf_counter() - started
        assert crawled is not None
        requests = len(state.requests)
        out = subprocess.run(
            [sys.executable, "-m", "bench.bench_backfill", "--worker", database_url, str(crawled.path)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        measured = json.loads(out.stdout.strip().splitlines()[-1])
        # The idle poll the way the daemon makes it: the probe, a crawl only if it finds entries.
        before_cpu = cpu_seconds()
        before_requests = len(state.requests)
        await jobs.crawl_unless_idle(config, "syncfeed", store)
        idle_cpu = cpu_seconds() - before_cpu
        idle_requests = len(state.requests) - before_requests
    return {
        "crawl_s": crawl_s,
        "ingest_s": measured["ingest_s"],
        "entries_per_s": measured["entries"] / measured["ingest_s"],
        "process_s": measured["process_s"],
        "rss_mb": measured["rss_mb"],
        "ingest_rss_mb": measured["ingest_rss_mb"],
        "requests": requests,
        "idle_requests": idle_requests,
        "idle_cpu_s": idle_cpu,
    }


async def main(sizes: list[int], repeat: int, koop_share: float) -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"db={'postgresql' if os.environ.get('KAMERWACHT_BENCH_DB') else 'sqlite'}, "
          f"KOOP share of answers {koop_share:.0%}, {repeat} run(s) per size")  # fmt: skip
    header = ("entries", "crawl s", "ingest s", "entries/s", "process s", "peak RSS MB (ingest)",
              "requests", "idle poll req", "idle poll CPU s")  # fmt: skip
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for size in sizes:
        runs = []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as folder:
                runs.append(await one_run(size, Path(folder), koop_share))
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{size} | {med['crawl_s']:.1f} | {med['ingest_s']:.1f} | {med['entries_per_s']:.0f} | "
            f"{med['process_s']:.1f} | {med['rss_mb']:.0f} ({med['ingest_rss_mb']:.0f}) | "
            f"{med['requests']:.0f} | "
            f"{med['idle_requests']:.0f} (3 categories) | {med['idle_cpu_s']:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--koop-share", type=float, default=0.1)
    parser.add_argument("--worker", nargs=2, metavar=("DATABASE_URL", "CRAWL_FILE"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
    else:
        asyncio.run(main(args.sizes, args.repeat, args.koop_share))
