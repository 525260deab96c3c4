"""KOOP back-off: a publication that keeps answering not-found is asked less and less often, but
anything the feed or an SRU search announces is fetched at once. Real spider, replay server."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor import jobs
from monitor.config import Config
from monitor.models import Document, JobRun, KoopCheck
from monitor.records import EventKind
from monitor.replay import EntitySpec, ReplayServer, load_timeline
from monitor.store import IngestResult, Store, as_utc

QUESTIONS = "/kv-tk-2021Z14612.xml"
DELAY = "/ah-tk-20202021-4076.xml"
ANSWER = "/ah-tk-20212022-105.xml"
NADER = "/ah-tk-20212022-472.xml"


def with_koop(config: Config, **settings: object) -> Config:
    base = {"poll_interval": 3600.0, "missing_max_interval_hours": 6.0} | settings
    koop = dataclasses.replace(config.sources.koop, **base)  # type: ignore[arg-type]
    return dataclasses.replace(config, sources=dataclasses.replace(config.sources, koop=koop))


async def poll(
    config: Config, store: Store, replay: ReplayServer, source: str = "koop"
) -> tuple[IngestResult | None, list[str]]:
    """One crawl, ingest and process; the publication requests it made (by file name)."""
    start = len(replay.state.requests)
    result = await jobs.crawl(config, source, store)
    ingested = None
    if result is not None:
        ingested = jobs.ingest_file(store, result.path)
        jobs.process(store)
    made = replay.state.requests[start:]
    return ingested, sorted("/" + r.rsplit("/", 1)[-1] for r in made if r.endswith(".xml"))


def time_passes(store: Store, hours: float, misses: int | None = None) -> None:
    """Move every recorded miss `hours` into the past, as if the daemon had waited that long."""
    with Session(store.engine) as session, session.begin():
        for check in session.scalars(select(KoopCheck)):
            check.checked_at = as_utc(check.checked_at) - dt.timedelta(hours=hours)
            if misses is not None:
                check.misses = misses


def misses(store: Store) -> dict[str, int]:
    with Session(store.engine) as session:
        return {c.koop_id: c.misses for c in session.scalars(select(KoopCheck))}


async def test_missing_publication_is_asked_again_after_doubling_waits_up_to_the_cap(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    config = with_koop(config)
    for stage in load_timeline()[:3]:  # questions, delay notice, answer: none on KOOP yet
        replay.state.apply(dataclasses.replace(stage, publications={}))
    await poll(config, store, replay, "syncfeed")
    first, asked = await poll(config, store, replay)
    assert first is not None and first.not_found == 3
    assert asked == [DELAY, ANSWER, QUESTIONS]
    assert misses(store) == {
        "kv-tk-2021Z14612": 1,
        "ah-tk-20202021-4076": 1,
        "ah-tk-20212022-105": 1,
    }

    # A publication is often just late: the next poll asks again. Then one poll interval (an
    # hour here) passes before the next question, then two hours, four, ... up to the cap.
    _, asked = await poll(config, store, replay)
    assert asked == [DELAY, ANSWER, QUESTIONS]
    assert await poll(config, store, replay) == (None, [])
    time_passes(store, 1.01)
    _, asked = await poll(config, store, replay)
    assert asked == [DELAY, ANSWER, QUESTIONS]
    time_passes(store, 1.5)
    assert await poll(config, store, replay) == (None, [])
    time_passes(store, 0.6)
    _, asked = await poll(config, store, replay)
    assert len(asked) == 3
    assert set(misses(store).values()) == {4}
    time_passes(store, 6.01, misses=40)  # 2**39 hours uncapped; the cap is six
    _, asked = await poll(config, store, replay)
    assert len(asked) == 3


async def test_recheck_limit_asks_the_longest_waiting_first_and_the_rest_next_time(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    config = with_koop(config, missing_recheck_limit=2)
    for stage in load_timeline()[:3]:
        replay.state.apply(dataclasses.replace(stage, publications={}))
    await poll(config, store, replay, "syncfeed")
    await poll(config, store, replay)
    with Session(store.engine) as session, session.begin():
        check = session.get(KoopCheck, "kv-tk-2021Z14612")
        assert check is not None
        check.checked_at = as_utc(check.checked_at) - dt.timedelta(minutes=1)
    time_passes(store, 1.01)
    _, first = await poll(config, store, replay)
    assert len(first) == 2 and QUESTIONS in first
    _, rest = await poll(config, store, replay)
    assert rest == [p for p in (DELAY, ANSWER) if p not in first]


async def test_publications_the_feed_announces_are_fetched_at_once_despite_back_off(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    config = with_koop(config)
    stages = load_timeline()
    for stage in stages[:3]:  # the delay notice never reaches KOOP; the rest does
        replay.state.apply(
            dataclasses.replace(
                stage, publications={k: v for k, v in stage.publications.items() if "4076" not in k}
            )
        )
    await poll(config, store, replay, "syncfeed")
    first, _ = await poll(config, store, replay)
    assert first is not None and (first.versions, first.not_found) == (2, 1)
    await poll(config, store, replay)  # missed twice: the delay notice waits an hour now
    time_passes(store, 0.5)
    assert await poll(config, store, replay) == (None, [])

    # The nader antwoord (a new document and DocumentVersie) and a new DocumentVersie naming
    # the delay notice's publication arrive on the feed.
    replay.state.apply(stages[3])
    notice = next(
        e.guid for e in stages[1].entities if e.fields.get("documentNummer") == "2021D34000"
    )
    replay.state.add(
        EntitySpec(
            "DocumentVersie", "6d3f0d7e-0000-4000-8000-000000004076",
            {"versienummer": "2", "extensie": ".pdf", "externeidentifier": "ah-tk-20202021-4076"},
            refs={"document": [notice]}, updated="2021-10-14T10:00:00Z",
        )
    )  # fmt: skip
    await poll(config, store, replay, "syncfeed")
    later, asked = await poll(config, store, replay)
    assert DELAY in asked, "a publication the feed announced again waited for its back-off"
    assert NADER in asked
    assert later is not None and later.versions == 1
    events = [c.event for c in store.change_records()]
    assert EventKind.CORRECTED in events, "the nader antwoord's correction was not found"
    assert misses(store) == {"ah-tk-20202021-4076": 1}, "the feed's news must reset the count"


async def test_waiting_publication_is_fetched_as_soon_as_sru_lists_it(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    config = with_koop(config, recheck_days=36500)  # every seed document counts as recent
    stages = load_timeline()
    for stage in stages[:3]:
        replay.state.apply(dataclasses.replace(stage, publications={}))
    await poll(config, store, replay, "syncfeed")
    await poll(config, store, replay)
    await poll(config, store, replay)
    assert set(misses(store).values()) == {2}
    start = len(replay.state.requests)
    _, asked = await poll(config, store, replay)  # only the SRU search: nothing listed
    assert asked == []
    assert [r for r in replay.state.requests[start:] if r.startswith("/sru?")], "no SRU search"

    # KOOP publishes the answer today: the next SRU search lists it; only it is fetched.
    today = dt.datetime.now(dt.UTC).date().isoformat()
    body = stages[2].publications["ah-tk-20212022-105"]
    replay.state.publications["ah-tk-20212022-105"] = body.replace(
        b'content="2021-10-05"/>',
        f'content="2021-10-05"/>\n    <meta name="DCTERMS.modified" scheme="" content="{today}"/>'.encode(),
    )
    found, asked = await poll(config, store, replay)
    assert asked == [ANSWER]
    assert found is not None and found.versions == 1
    assert "ah-tk-20212022-105" not in misses(store)


async def test_missing_publication_costs_one_request_and_a_moved_one_is_still_followed(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    stages = load_timeline()
    for stage in stages[:3]:
        replay.state.apply(dataclasses.replace(stage, publications={}))
    body = stages[0].publications["kv-tk-2021Z14612"]
    replay.state.publications["kv-tk-2021Z14612-moved"] = body
    replay.state.moved["kv-tk-2021Z14612"] = "/zoek/kv-tk-2021Z14612-moved.xml"
    await poll(config, store, replay, "syncfeed")
    start = len(replay.state.requests)
    result, asked = await poll(config, store, replay)
    assert result is not None and (result.versions, result.not_found) == (1, 2)
    assert asked == [DELAY, ANSWER, "/kv-tk-2021Z14612-moved.xml", QUESTIONS]
    assert not [r for r in replay.state.requests[start:] if "/Errors/" in r], (
        "the error page of a soft 404 was fetched"
    )
    assert [v.rendition for v in store.versions_of("2021Z14612")] == ["koop-xml"]


async def test_correction_published_during_an_outage_is_found_after_it(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    stages = load_timeline()
    for stage in stages[:3]:
        replay.state.apply(stage)
    await poll(config, store, replay, "syncfeed")
    first, _ = await poll(config, store, replay)
    assert first is not None and first.versions == 3
    # The last good KOOP poll was eight days ago; five days ago KOOP corrected the answer,
    # outside the two-day SRU window of an ordinary poll.
    run = store.start_run("koop")
    store.finish_run(run, "ok", {})
    with Session(store.engine) as session, session.begin():
        for job_run in session.scalars(select(JobRun).where(JobRun.job == "koop")):
            job_run.started_at = as_utc(job_run.started_at) - dt.timedelta(days=8)
    then = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=5)).isoformat()
    body = stages[2].publications["ah-tk-20212022-105"]
    replay.state.publications["ah-tk-20212022-105"] = body.replace(
        b'content="2021-10-05"/>',
        f'content="2021-10-05"/>\n    <meta name="DCTERMS.modified" scheme="" content="{then}"/>'.encode(),
    ).replace(b"<al>Ja.</al>", b"<al>Ja, daarmee ben ik bekend.</al>")
    config = with_koop(config, recheck_days=36500)
    changed, asked = await poll(config, store, replay)
    assert asked == [ANSWER]
    assert changed is not None and changed.versions == 1


async def test_thousands_of_waiting_publications_do_not_stop_the_crawl_from_starting(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    # 8,000 recent answers in back-off: their ids alone are more than the 128 KiB the OS
    # allows in one command-line argument.
    now = dt.datetime.now(dt.UTC)
    ids = [f"ah-tk-20252026-{n}" for n in range(1, 8001)]
    with Session(store.engine) as session, session.begin():
        session.add_all(
            Document(guid=None, number=f"2025D{n:05d}", koop_id=koop_id, role="answer",
                     dated_on=now.date())
            for n, koop_id in enumerate(ids)
        )  # fmt: skip
        session.add_all(KoopCheck(koop_id=k, misses=6, checked_at=now) for k in ids)
    assert len(",".join(store.koop_ids_to_fetch(30).waiting)) > 128 * 1024
    body = load_timeline()[2].publications["ah-tk-20212022-105"]
    today = now.date().isoformat()
    replay.state.publications["ah-tk-20252026-7999"] = body.replace(
        b"ah-tk-20212022-105", b"ah-tk-20252026-7999"
    ).replace(
        b'content="2021-10-05"/>',
        f'content="2021-10-05"/>\n    <meta name="DCTERMS.modified" scheme="" content="{today}"/>'.encode(),
    )
    found, asked = await poll(config, store, replay)
    assert asked == ["/ah-tk-20252026-7999.xml"]
    assert found is not None and found.versions == 1
    assert not list((config.data_path / "crawls").glob("*.arguments.json")), "left behind"
