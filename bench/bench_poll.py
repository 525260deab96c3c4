"""Benchmark: what a poll with nothing new costs (requests per category and CPU time).

Run: `python bench/bench_poll.py`. It publishes the seed timeline on the local replay server,
polls every source until the store is up to date, then polls again several times with nothing
new and prints the requests each source made and the CPU seconds of the crawl processes.
"""

from __future__ import annotations

import asyncio
import collections
import resource
import statistics
import tempfile
from pathlib import Path

from monitor import config as config_module
from monitor import jobs, schema
from monitor.replay import ReplayServer, ReplayState, load_timeline
from monitor.store import Store
from tests.conftest import write_config


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def poll(config: config_module.Config, store: Store) -> None:
    for source in jobs.SOURCES:
        result = await jobs.crawl(config, source, store)
        if result is not None:
            jobs.ingest_file(store, result.path)
            jobs.process(store)


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder, ReplayServer(ReplayState()) as server:
        tmp = Path(folder)
        extra = f'[sources.tweedekamer]\nenabled = true\nbase_url = "{server.url}"\n'
        config = config_module.load(write_config(tmp, server, extra), environ={})
        engine = schema.make_engine(config.database_url)
        schema.upgrade(engine)
        store = Store(engine, jobs.make_planner(config, telegram=False))
        for stage in load_timeline():
            server.state.apply(stage)
        for _ in range(2):
            await poll(config, store)
        categories = config.sources.syncfeed.categories
        per_category: dict[str, list[int]] = collections.defaultdict(list)
        other: list[int] = []
        cpu: list[float] = []
        for _ in range(5):
            start = len(server.state.requests)
            before = children_cpu()
            await poll(config, store)
            cpu.append(children_cpu() - before)
            made = [r for r in server.state.requests[start:] if r != "/robots.txt"]
            for category in categories:
                per_category[category].append(sum(f"category={category}&" in r + "&" for r in made))
            other.append(sum("/SyncFeed/2.0/Feed" not in r for r in made))
        print("poll with nothing new (5 runs, medians):")
        for category in categories:
            print(
                f"  SyncFeed {category:<15} {statistics.median(per_category[category]):.0f} request(s)"
            )
        print(
            f"  files/tweedekamer/KOOP  {statistics.median(other):.0f} request(s) (conditional rechecks)"
        )
        print(f"  CPU of crawl processes  {statistics.median(cpu):.2f} s per poll")
        engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
