"""Catch-up after an outage: a week of new entries arrives at once; how soon is the first alert out?

    python -m bench.bench_catchup --base 10000 --week 2000 --repeat 3

A base corpus is synced silently (the first sync, by the daemon itself), then the daemon is
"offline" for a week while a week of feed entries and the whole seed case (question, delay,
answer, nader answer with KOOP texts) are published; the KOOP publications that were missing at
the first sync are a week older too. Then one cycle exactly as the daemon runs it
(`Daemon.poll_syncfeed`: feed, delivery of the lifecycle alerts, the text sources, delivery
again) goes to the console channel. The table gives the time from the start of that cycle to the
first alert and to the seed case's correction alert ("Answer changed") leaving the outbox.
Publication-to-alert latency is that figure plus, at worst, one poll interval of waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.corpus import fill
from monitor import config as config_module
from monitor import jobs, schema
from monitor.daemon import Daemon, DaemonHooks
from monitor.models import JobRun, KoopCheck
from monitor.notify import Button
from monitor.replay import ReplayServer, ReplayState, load_timeline
from monitor.store import as_utc
from tests.conftest import write_config


class TimedConsole(jobs.ConsoleNotifier):
    """The console channel, noting when the first message and the first correction leave."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.first: float | None = None
        self.correction: float | None = None
        self.sent = 0

    async def send(self, chat_id: int, text: str, buttons: Sequence[Button] = ()) -> None:
        await super().send(chat_id, text, buttons)
        self.sent += 1
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        if self.correction is None and "Answer changed" in text:
            self.correction = now


def a_week_passes(daemon: Daemon) -> None:
    """Age the daemon's own clock-based state by the outage: the KOOP back-off (what was missing
    a week ago is due again) and the job runs (the last good KOOP poll, where the SRU search
    for modified publications starts, was a week ago)."""
    week = dt.timedelta(days=7)
    with Session(daemon.engine) as session, session.begin():
        for check in session.scalars(select(KoopCheck)):
            check.checked_at = as_utc(check.checked_at) - week
        for run in session.scalars(select(JobRun)):
            run.started_at = as_utc(run.started_at) - week
            run.finished_at = as_utc(run.finished_at) - week if run.finished_at else None


def koop_requests(requests: list[str]) -> int:
    return sum(1 for r in requests if r.endswith(".xml") or r.startswith("/sru?"))


async def one_run(base: int, week: int, folder: Path, limit: int | None) -> dict[str, float]:
    with ReplayServer(ReplayState(page_size=250)) as server:
        fill(server.state, base, seed=7)
        config = config_module.load(write_config(folder, server), environ={})
        if limit is not None:
            koop = dataclasses.replace(config.sources.koop, missing_recheck_limit=limit)
            sources = dataclasses.replace(config.sources, koop=koop)
            config = dataclasses.replace(config, sources=sources)
        engine = schema.make_engine(config.database_url)
        schema.upgrade(engine)
        engine.dispose()
        console = TimedConsole()
        daemon = Daemon(config, DaemonHooks(notifiers={"console": console}), web=False)
        await daemon.poll_syncfeed()  # the first sync alerts nobody
        fill(server.state, week, seed=11, first=base)  # the outage: a week of new entries...
        for stage in load_timeline():  # ...among them the seed case, start to correction
            server.state.apply(stage)
        a_week_passes(daemon)
        console.first = None
        console.sent = 0
        requests = len(server.state.requests)
        started = time.perf_counter()
        cycle_started = dt.datetime.now(dt.UTC)
        await daemon.poll_syncfeed()
        done = time.perf_counter() - started
        made = server.state.requests[requests:]
        with Session(daemon.engine) as session:
            runs = session.execute(
                select(JobRun.job, JobRun.started_at, JobRun.finished_at).where(
                    JobRun.started_at >= cycle_started
                )
            ).all()
        daemon.engine.dispose()
    seconds = {
        job: (as_utc(end) - as_utc(begin)).total_seconds() for job, begin, end in runs if end
    }
    assert console.first is not None, "no alert left the outbox"
    assert console.correction is not None, "the seed case's correction was not alerted"
    return {
        "first_alert_s": console.first - started,
        "correction_s": console.correction - started,
        "cycle_s": done,
        "alerts": console.sent,
        "requests": len(made),
        "koop_requests": koop_requests(made),
        "feed_s": seconds.get("syncfeed", 0.0),
        "files_s": seconds.get("files", 0.0),
        "koop_s": seconds.get("koop", 0.0),
    }


async def main(base: int, week: int, repeat: int, limit: int | None) -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"catch-up: base {base} entries synced, then {week} new entries + the seed case at once")
    if limit is not None:
        print(f"[sources.koop] missing_recheck_limit = {limit}")
    header = ("runs", "first alert s", "correction alert s", "whole cycle s", "feed s", "files s",
              "KOOP s", "requests", "KOOP requests", "alerts sent")  # fmt: skip
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            runs.append(await one_run(base, week, Path(folder), limit))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(
        f"{repeat} | {med['first_alert_s']:.1f} | {med['correction_s']:.1f} | "
        f"{med['cycle_s']:.1f} | {med['feed_s']:.1f} | {med['files_s']:.1f} | "
        f"{med['koop_s']:.1f} | {med['requests']:.0f} | {med['koop_requests']:.0f} | "
        f"{med['alerts']:.0f}",
        flush=True,
    )
    spread = ", ".join(f"{r['first_alert_s']:.1f}/{r['correction_s']:.1f}" for r in runs)
    print(f"each run, first alert s / correction alert s: {spread}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=int, default=10_000)
    parser.add_argument("--week", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--recheck-limit", type=int, default=None,
        help="[sources.koop] missing_recheck_limit (a huge number: every missing item is rechecked)",
    )  # fmt: skip
    args = parser.parse_args()
    asyncio.run(main(args.base, args.week, args.repeat, args.recheck_limit))
