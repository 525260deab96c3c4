"""The cheap SyncFeed probe: an idle poll skips the crawl subprocess, anything else still crawls."""

from __future__ import annotations

from monitor import jobs
from monitor.config import Config
from monitor.replay import EntitySpec, Fault, ReplayServer
from monitor.store import Store


def document(n: int) -> EntitySpec:
    return EntitySpec(
        "Document", f"00000000-0000-4000-8000-{n:012d}",
        fields={"soort": "Brief regering", "documentNummer": f"2019D{n:05d}"},
    )  # fmt: skip


async def sync(config: Config, store: Store) -> jobs.IngestResult | None:
    result = await jobs.crawl_unless_idle(config, "syncfeed", store)
    return None if result is None else jobs.ingest_file(store, result.path)


async def test_poll_with_nothing_new_makes_one_request_per_category_and_no_crawl(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    replay.state.add(document(1))
    assert await sync(config, store) is not None
    before = len(replay.state.requests)
    assert await sync(config, store) is None
    probed = replay.state.requests[before:]
    assert len(probed) == len(config.sources.syncfeed.categories)
    assert all(r.startswith("/SyncFeed/2.0/Feed?category=") for r in probed)


async def test_new_entry_after_the_cursor_still_runs_the_crawl(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    replay.state.add(document(1))
    await sync(config, store)
    replay.state.add(document(2))
    ingested = await sync(config, store)
    assert ingested is not None
    assert ingested.entities == 1


async def test_failing_probe_falls_back_to_the_crawl_which_reports_the_trouble(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    replay.state.add(document(1))
    await sync(config, store)
    replay.state.fault(Fault("/SyncFeed/2.0/Feed", count=1, status=503))
    assert not await jobs.feed_is_idle(config, store)
    assert await jobs.feed_is_idle(config, store)  # the fault is spent: idle again


async def test_without_a_cursor_the_probe_never_claims_idle(config: Config, store: Store) -> None:
    assert not await jobs.feed_is_idle(config, store)
