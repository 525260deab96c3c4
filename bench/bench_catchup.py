"""Catch-up after an outage: a week of new entries arrives at once; how soon is the first alert out?

    python -m bench.bench_catchup --base 25000 --week 3000 --repeat 3

A base corpus is synced silently (the first sync), then the daemon is "offline" while a week of
feed entries and the whole seed case (question, delay, answer, nader answer with KOOP texts) are
published. One poll cycle the way the daemon runs it (feed, KOOP, outbox to the console) follows;
the table gives the time from the start of that cycle to the first alert leaving the outbox.
Publication-to-alert latency is that figure plus, at worst, one poll interval of waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.corpus import fill
from monitor import config as config_module
from monitor import jobs, schema
from monitor.notify import Button
from monitor.replay import ReplayServer, ReplayState, load_timeline
from monitor.store import Store
from tests.conftest import write_config


class TimedConsole(jobs.ConsoleNotifier):
    """The console channel, noting when the first message leaves."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.first: float | None = None
        self.sent = 0

    async def send(self, chat_id: int, text: str, buttons: Sequence[Button] = ()) -> None:
        await super().send(chat_id, text, buttons)
        self.sent += 1
        if self.first is None:
            self.first = time.perf_counter()


async def cycle(config: config_module.Config, store: Store, silent: bool) -> dict[str, float]:
    """Feed then KOOP, as the daemon's cycle; seconds spent on each."""
    spent = {}
    for source in ("syncfeed", "koop"):
        started = time.perf_counter()
        result = await jobs.crawl_unless_idle(config, source, store)
        if result is not None:
            jobs.ingest_file(store, result.path)
            jobs.process(store, silent=silent)
        spent[source] = time.perf_counter() - started
    return spent


async def one_run(base: int, week: int, folder: Path) -> dict[str, float]:
    with ReplayServer(ReplayState(page_size=250)) as server:
        fill(server.state, base, seed=7)
        config = config_module.load(write_config(folder, server), environ={})
        engine = schema.make_engine(config.database_url)
        schema.upgrade(engine)
        store = Store(engine, jobs.make_planner(config, telegram=False))
        await cycle(config, store, silent=True)  # the first sync alerts nobody
        fill(server.state, week, seed=11, first=base)  # the outage: a week of new entries...
        for stage in load_timeline():  # ...among them the seed case, start to correction
            server.state.apply(stage)
        console = TimedConsole()
        requests = len(server.state.requests)
        started = time.perf_counter()
        spent = await cycle(config, store, silent=False)
        processed = time.perf_counter() - started
        await jobs.deliver(store, {"console": console})
        done = time.perf_counter() - started
        requests = len(server.state.requests) - requests
        engine.dispose()
    assert console.first is not None, "no alert left the outbox"
    return {
        "first_alert_s": console.first - started,
        "cycle_s": processed,
        "total_s": done,
        "alerts": console.sent,
        "feed_s": spent["syncfeed"],
        "koop_s": spent["koop"],
        "requests": requests,
    }


async def main(base: int, week: int, repeat: int) -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"catch-up: base {base} entries synced, then {week} new entries + the seed case at once")
    header = ("runs", "first alert s", "feed s", "KOOP s", "cycle+outbox s", "requests",
              "alerts sent")  # fmt: skip
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            runs.append(await one_run(base, week, Path(folder)))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(
        f"{repeat} | {med['first_alert_s']:.1f} | {med['feed_s']:.1f} | {med['koop_s']:.1f} | "
        f"{med['total_s']:.1f} | {med['requests']:.0f} | {med['alerts']:.0f}",
        flush=True,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=int, default=25_000)
    parser.add_argument("--week", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.base, args.week, args.repeat))
