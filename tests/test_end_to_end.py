"""The whole path over HTTP: real spiders against the replay server, ingest, process, outbox."""

from __future__ import annotations

import io

from monitor import jobs
from monitor.config import Config
from monitor.records import EventKind
from monitor.replay import ReplayServer, load_timeline
from monitor.store import Store


async def poll(config: Config, store: Store, console: jobs.ConsoleNotifier) -> dict[str, int]:
    for source in ("syncfeed", "koop"):
        result = await jobs.crawl(config, source, store)
        if result is not None:
            jobs.ingest_file(store, result.path)
            jobs.process(store)
    return await jobs.deliver(store, {"console": console})


async def test_seed_timeline_ends_in_one_correction_alert(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    out = io.StringIO()
    console = jobs.ConsoleNotifier(out)
    for stage in load_timeline():
        replay.state.apply(stage)
        await poll(config, store, console)
    events = [c.event for c in reversed(store.change_records())]
    assert events == [
        EventKind.TABLED,
        EventKind.DELAYED,
        EventKind.ANSWERED,
        EventKind.ANSWERED,
        EventKind.CORRECTED,
    ]
    correction = store.change_records()[0]
    assert {"denial_weakened", "scope_narrowed"} <= {k.value for k in correction.kinds}
    printed = out.getvalue()
    assert printed.count("Answer changed") == 1
    assert "geen toestemming gegeven" in printed and "denial_weakened" in printed

    before = store.counts()
    sent = await poll(config, store, console)
    assert store.counts() == before, "a second poll over the same upstream state stored something"
    assert sent == {"sent": 0, "failed": 0}
    assert out.getvalue().count("Kamerwacht alert") == 5


async def test_reemitted_entities_create_no_version_and_no_alert(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    console = jobs.ConsoleNotifier(io.StringIO())
    stages = load_timeline()
    for stage in stages:
        replay.state.apply(stage)
    await poll(config, store, console)
    before = store.counts()
    for stage in stages:  # a data repair re-appends every entity unchanged
        for spec in stage.entities:
            replay.state.add(spec)
    assert await poll(config, store, console) == {"sent": 0, "failed": 0}
    assert store.counts() == before


async def test_nader_text_arriving_before_the_answer_text_is_still_compared(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    console = jobs.ConsoleNotifier(io.StringIO())
    stages = load_timeline()
    answer_text = {}
    for stage in stages:
        replay.state.apply(stage)
    answer_text["ah-tk-20212022-105"] = replay.state.publications.pop("ah-tk-20212022-105")
    await poll(config, store, console)
    assert not [c for c in store.change_records() if c.event is EventKind.CORRECTED]
    replay.state.publications.update(answer_text)  # KOOP publishes the original answer late
    await poll(config, store, console)
    (correction,) = [c for c in store.change_records() if c.event is EventKind.CORRECTED]
    assert {"denial_weakened", "scope_narrowed"} <= {k.value for k in correction.kinds}
    assert correction.document_number == "2021D38311"


async def test_all_stages_at_once_still_find_the_correction(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    for stage in load_timeline():
        replay.state.apply(stage)
    await poll(config, store, jobs.ConsoleNotifier(io.StringIO()))
    corrections = [c for c in store.change_records() if c.event is EventKind.CORRECTED]
    assert len(corrections) == 1 and corrections[0].severity.value == "high"
