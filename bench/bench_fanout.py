"""Fan-out: one correction to N subscribers through the real bot against the fake Bot API.

Prints how long planning took (outbox rows written in the change's transaction) and the
delivery rate, and checks that every subscriber got the correction exactly once.

    python bench/bench_fanout.py [--subscribers 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import bot, jobs, schema
from monitor import config as config_module
from monitor.models import Chat, Subscription
from monitor.replay import ReplayServer, load_timeline
from monitor.store import Store
from tests.conftest import write_config
from tests.fakes.telegram_api import TOKEN, FakeBotAPI


async def crawl(config: config_module.Config, store: Store, source: str, silent: bool) -> None:
    result = await jobs.crawl(config, source, store)
    if result is not None:
        jobs.ingest_file(store, result.path, silent=silent)
        jobs.process(store, silent=silent)


async def main(subscribers: int) -> int:
    folder = Path(tempfile.mkdtemp(prefix="kamerwacht-fanout-"))
    with ReplayServer() as replay, FakeBotAPI() as fake:
        config = config_module.load(write_config(folder, replay), environ={})
        telegram = dataclasses.replace(config.telegram, api_base_url=fake.base_url)
        config = dataclasses.replace(config, telegram=telegram)
        engine = schema.make_engine(config.database_url)
        schema.upgrade(engine)
        store = Store(engine, jobs.make_planner(config, telegram=True))
        stages = load_timeline()
        for stage in stages[:-1]:  # history before anyone subscribed: silent
            replay.state.apply(stage)
            await crawl(config, store, "syncfeed", silent=True)
            await crawl(config, store, "koop", silent=True)
        with store.session() as session:
            session.add_all(Chat(chat_id=10_000_000 + i, active=True) for i in range(subscribers))
            session.flush()
            session.add_all(
                Subscription(chat_id=10_000_000 + i, kind="follow", value="2021Z14612")
                for i in range(subscribers)
            )
        replay.state.apply(stages[-1])
        await crawl(config, store, "syncfeed", silent=True)  # the nader antwoord's arrival
        started = time.perf_counter()
        await crawl(config, store, "koop", silent=False)  # its text: the correction
        planning = time.perf_counter() - started
        pending = store.outbox_counts().get("pending", 0)
        print(f"subscribers: {subscribers}; outbox rows planned: {pending}")
        print(f"crawl + diff + planning: {planning:.1f} s")

        kamerwacht = bot.KamerwachtBot(config, store, TOKEN)
        await kamerwacht.start()
        started = time.perf_counter()
        totals: collections.Counter[str] = collections.Counter()
        while store.outbox_counts().get("pending", 0):
            totals.update(await jobs.deliver(store, {"telegram": kamerwacht.notifier}, config))
            await asyncio.sleep(0)
        elapsed = time.perf_counter() - started
        await kamerwacht.stop()
        engine.dispose()

    chats = collections.Counter(s.chat_id for s in fake.sent)
    doubled = sum(1 for n in chats.values() if n > 1)
    lost = subscribers - len(chats)
    corrections = sum(1 for s in fake.sent if s.text.startswith("<b>Answer changed</b>"))
    print(
        f"delivered: {len(fake.sent)} messages in {elapsed:.1f} s "
        f"= {len(fake.sent) / elapsed:.1f} msg/s (target ≥ 25, limit {bot.BROADCAST_RATE})"
    )
    print(
        f"outcomes: {dict(totals)}; 429s: {len(fake.method_calls('sendMessage')) - len(fake.sent)}"
    )
    print(f"corrections received: {corrections}; duplicates: {doubled}; lost: {lost}")
    return 0 if doubled == 0 and lost == 0 and corrections == subscribers else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    sys.exit(asyncio.run(main(parser.parse_args().subscribers)))
