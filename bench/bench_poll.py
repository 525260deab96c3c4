"""Benchmark: what a poll with nothing new costs (requests per category and CPU time).

Run: `python -m bench.bench_poll`. It publishes the seed timeline on the local replay server,
polls every source until the store is up to date, then polls again several times with nothing
new and prints the requests each source made and the CPU seconds spent: the feed poll (the
daemon's own path, `jobs.crawl_unless_idle`: an in-process probe, a crawl subprocess only when
the cursor page has entries) and the text sources' crawl processes.
"""

from __future__ import annotations

import asyncio
import collections
import resource
import statistics
import tempfile
import time
from pathlib import Path

from monitor import config as config_module
from monitor import jobs, schema
from monitor.replay import ReplayServer, ReplayState, load_timeline
from monitor.store import Store
from tests.conftest import write_config


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    return time.process_time() + children_cpu()


async def poll(config: config_module.Config, store: Store) -> tuple[float, float]:
    """One cycle the way the daemon runs it; CPU seconds of (the feed poll, the text sources)."""
    spent = []
    for sources in (["syncfeed"], [s for s in jobs.SOURCES if s != "syncfeed"]):
        before = own_cpu()
        for source in sources:
            result = await jobs.crawl_unless_idle(config, source, store)
            if result is not None:
                jobs.ingest_file(store, result.path)
                jobs.process(store)
        spent.append(own_cpu() - before)
    return spent[0], spent[1]


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
        feed_cpu: list[float] = []
        text_cpu: list[float] = []
        for _ in range(5):
            start = len(server.state.requests)
            feed, texts = await poll(config, store)
            feed_cpu.append(feed)
            text_cpu.append(texts)
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
        print(f"  CPU, SyncFeed poll      {statistics.median(feed_cpu):.2f} s per poll")
        print(f"  CPU, text sources       {statistics.median(text_cpu):.2f} s per poll")
        engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
