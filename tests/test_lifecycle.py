"""The question lifecycle: the seed timeline, links between documents, deadlines and overdue sets."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from monitor import cli, lifecycle, segment
from monitor.config import Config
from monitor.records import (
    DocumentRole,
    EventKind,
    FeedEntity,
    FeedPage,
    FetchedBody,
    Rendition,
)
from monitor.replay import EntitySpec, Stage, load_timeline
from monitor.store import Store
from tests.conftest import DEMO_DATA
from tests.test_cli import kamerwacht

FETCHED_AT = "2021-11-01T09:00:00+00:00"


def feed(store: Store, entities: tuple[EntitySpec, ...], updated: str) -> None:
    records: list[FeedEntity | FeedPage] = [
        FeedEntity(
            category=e.category, guid=e.guid, updated=updated, bijgewerkt=None,
            deleted=e.deleted, fields=dict(e.fields), refs={k: list(v) for k, v in e.refs.items()},
        )
        for e in entities
    ]  # fmt: skip
    for category in sorted({e.category for e in entities}):  # one page per category, as crawled
        count = sum(1 for e in entities if e.category == category)
        records.append(FeedPage(category, f"replay:{category}:{updated}", None, None, count))
    store.ingest(records)


def publish(
    store: Store, koop_id: str, body: bytes, rendition: Rendition = Rendition.KOOP_XML
) -> None:
    store.ingest(
        [
            FetchedBody(
                source="koop", key=koop_id, rendition=rendition,
                url=f"http://127.0.0.1/{koop_id}.{rendition.value}", fetched_at=FETCHED_AT,
                status="ok", body=body.decode("utf-8"),
            )
        ]
    )  # fmt: skip


def run_stage(store: Store, stage: Stage, updated: str) -> None:
    from monitor import jobs

    feed(store, stage.entities, updated)
    store.resolve(silent=False)
    for koop_id, body in stage.publications.items():
        publish(store, koop_id, body)
    jobs.process(store)


def seed(store: Store, upto: str | None = None) -> None:
    """Store the demo timeline stage by stage (the same records the spiders would hand over)."""
    for n, stage in enumerate(load_timeline()):
        run_stage(store, stage, f"2021-11-0{n + 1}T00:00:00Z")
        if stage.name == upto:
            break


# --- pure lifecycle rules ------------------------------------------------------------------------


def test_deadline_is_three_weeks_after_tabling_and_three_more_after_a_delay_notice() -> None:
    tabled = dt.date(2021, 8, 27)
    assert lifecycle.deadline(tabled, delayed=False) == dt.date(2021, 9, 17)
    assert lifecycle.deadline(tabled, delayed=True) == dt.date(2021, 10, 8)


def test_answered_and_withdrawn_sets_are_never_overdue() -> None:
    today = dt.date(2030, 1, 1)
    for status in ("answered", "withdrawn"):
        state = lifecycle.deadline_state("x", "", status, dt.date(2021, 1, 1), None, today)
        assert state is None


def test_a_set_is_overdue_only_after_its_deadline_day() -> None:
    tabled, deadline = dt.date(2021, 8, 27), dt.date(2021, 9, 17)
    on_time = lifecycle.deadline_state("x", "", "tabled", tabled, deadline, deadline)
    late = lifecycle.deadline_state("x", "", "tabled", tabled, deadline, dt.date(2021, 9, 20))
    assert on_time is not None
    assert not on_time.overdue
    assert late is not None
    assert (late.overdue, late.days_late) == (True, 3)


def test_nader_answer_links_to_the_answer_it_amends_not_the_delay_notice() -> None:
    nader = segment.parse((DEMO_DATA / "ah-tk-20212022-472.xml").read_bytes(), Rendition.KOOP_XML)
    links = lifecycle.links_of(nader, DocumentRole.NADER_ANSWER, "ah-tk-20212022-472")
    assert [(x.kind, x.koop_id) for x in links] == [
        ("amends", "ah-tk-20202021-4076"),
        ("amends", "ah-tk-20212022-105"),
    ]
    answers = {"ah-tk-20212022-105": "2021D35707"}
    assert lifecycle.amended_answer(links, answers) == "ah-tk-20212022-105"


def test_follow_up_questions_citing_an_earlier_answer_are_cites_links() -> None:
    text = (
        "Vraag 1\nHerinnert u zich uw antwoorden op eerdere vragen over Clearview AI "
        "(Aanhangsel Handelingen, vergaderjaar 2021–2022, nr. 105)?\n"
    )
    parsed = segment.parse(text.encode(), Rendition.TEXT)
    links = lifecycle.links_of(parsed, DocumentRole.QUESTIONS)
    assert [(x.kind, x.koop_id) for x in links] == [("cites", "ah-tk-20212022-105")]


# --- the seed case in the store ----------------------------------------------------------------


def test_seed_timeline_has_every_document_version_link_and_the_correction(store: Store) -> None:
    seed(store)
    timeline = store.question_timeline("2021Z14612")
    assert timeline is not None
    assert timeline.status == "answered"
    assert timeline.deadline_on == "2021-10-08"  # extended by the delay notice
    roles = [(d.number, d.role, d.koop_id) for d in timeline.documents]
    assert roles == [
        ("2021D33000", "questions", ""),
        ("2021D34000", "delay_notice", "ah-tk-20202021-4076"),
        ("2021D35707", "answer", "ah-tk-20212022-105"),
        ("2021D38311", "nader_answer", "ah-tk-20212022-472"),
    ]
    by_number = {d.number: d for d in timeline.documents}
    assert [v.rendition for v in by_number["2021D35707"].versions] == ["koop-xml"]
    nader_links = {(x.kind, x.koop_id, x.document) for x in by_number["2021D38311"].links}
    assert nader_links == {
        ("amends", "ah-tk-20212022-105", "2021D35707"),
        ("see_also", "ah-tk-20202021-4076", "2021D34000"),
    }
    assert by_number["2021D38311"].answered == ("1", "2", "3", "4", "5", "6")
    assert by_number["2021D38311"].unanswered == ()
    assert by_number["2021D38311"].unmatched == 0
    events = [e.event for e in timeline.events]
    assert events == ["tabled", "delayed", "answered", "answered", "corrected"]
    correction = timeline.events[-1]
    assert correction.document == "2021D38311"
    assert correction.severity == "high"
    assert "denial_weakened" in correction.kinds


def test_a_new_rendition_of_the_same_text_is_a_version_but_not_new_text(store: Store) -> None:
    seed(store, upto="answered")
    html = (Path(__file__).parent / "fixtures" / "segment" / "ah-tk-20212022-105.html").read_bytes()
    publish(store, "ah-tk-20212022-105", html, Rendition.KOOP_HTML)
    from monitor import jobs

    jobs.process(store)
    timeline = store.question_timeline("2021Z14612")
    assert timeline is not None
    answer = next(d for d in timeline.documents if d.number == "2021D35707")
    assert [(v.rendition, v.parse_status, v.new_text) for v in answer.versions] == [
        ("koop-xml", "ok", False),
        ("koop-html", "ok", False),
    ]
    assert not [e for e in timeline.events if e.event == "corrected"]


def test_follow_up_question_set_citing_the_answer_is_listed_as_cited_by(store: Store) -> None:
    seed(store)
    follow_up = (
        Path(__file__).parent / "fixtures" / "segment" / "kv-tk-2021Z20001.xml"
    ).read_bytes()
    feed(
        store,
        (
            EntitySpec("Zaak", "9b0e2d4a-0000-4f0e-9a7c-2021a2000100", {
                "nummer": "2021Z20001", "soort": "Schriftelijke vragen",
                "onderwerp": "Vervolgvragen over Clearview AI", "gestartOp": "2021-11-10"}),
            EntitySpec("Document", "9b0e2d4a-0000-4f0e-9a7c-2021d4400000", {
                "soort": "Schriftelijke vragen", "documentNummer": "2021D44000",
                "onderwerp": "Vervolgvragen over Clearview AI", "datum": "2021-11-10"},
                refs={"zaak": ["9b0e2d4a-0000-4f0e-9a7c-2021a2000100"]}),
            EntitySpec("DocumentVersie", "9b0e2d4a-0000-4f0e-9a7c-2021d4400001",
                {"externeidentifier": "kv-tk-2021Z20001"},
                refs={"document": ["9b0e2d4a-0000-4f0e-9a7c-2021d4400000"]}),
        ),
        "2021-11-10T00:00:00Z",
    )  # fmt: skip
    store.resolve(silent=False)
    publish(store, "kv-tk-2021Z20001", follow_up)
    from monitor import jobs

    jobs.process(store)
    timeline = store.question_timeline("2021Z14612")
    assert timeline is not None
    assert [(c.question_set, c.document, c.koop_id) for c in timeline.cited_by] == [
        ("2021Z20001", "2021D44000", "ah-tk-20212022-105")
    ]
    follow = store.question_timeline("2021Z20001")
    assert follow is not None
    (doc,) = follow.documents
    assert [(x.kind, x.koop_id, x.question_set) for x in doc.links] == [
        ("cites", "ah-tk-20212022-105", "2021Z14612")
    ]


def test_delayed_set_becomes_overdue_after_the_extended_deadline(store: Store) -> None:
    seed(store, upto="delayed")
    before = store.deadline_states(dt.date(2021, 10, 8))
    assert [(s.number, s.delayed, s.overdue) for s in before] == [("2021Z14612", True, False)]
    after = store.deadline_states(dt.date(2021, 10, 11))
    assert [(s.number, s.overdue, s.days_late) for s in after] == [("2021Z14612", True, 3)]


def test_overdue_event_is_recorded_once_and_reaches_the_outbox(store: Store) -> None:
    seed(store, upto="delayed")
    outbox_before = store.counts()["outbox"]
    ids = store.record_overdue(dt.date(2021, 10, 11))
    assert len(ids) == 1
    assert store.record_overdue(dt.date(2021, 10, 12)) == []  # once per deadline
    (change,) = store.change_records(ids)
    assert change.event is EventKind.OVERDUE
    assert change.question_set == "2021Z14612"
    assert "2021-10-08" in change.summary
    assert store.counts()["outbox"] == outbox_before + 1  # the console channel of the planner


def test_answered_set_gets_no_overdue_event(store: Store) -> None:
    seed(store)
    assert store.deadline_states(dt.date(2030, 1, 1)) == []
    assert store.record_overdue(dt.date(2030, 1, 1)) == []


# --- the commands ------------------------------------------------------------------------------


def test_question_command_shows_the_seed_timeline(
    store: Store, config: Config, tmp_path: Path
) -> None:
    seed(store)
    run = kamerwacht("--config", str(tmp_path / "config.toml"), "question", "2021Z14612")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    for expected in (
        "2021Z14612",
        "deadline 2021-10-08",
        "delay notice",
        "2021D35707  ah-tk-20212022-105",
        "amends ah-tk-20212022-105 (2021D35707, 2021Z14612, answer)",
        "koop-xml",
        "corrected high [",
        "denial_weakened",
    ):
        assert expected in out, expected


def test_question_command_json_and_unknown_number(
    store: Store, config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(store)
    path = str(tmp_path / "config.toml")
    assert cli.main(["--config", path, "question", "2021z14612", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["role"] for d in data["documents"]][-1] == "nader_answer"
    assert data["documents"][-1]["links"][-1]["kind"] == "amends"
    assert cli.main(["--config", path, "question", "2099Z00001"]) == 1
    assert "not in the archive" in capsys.readouterr().err


def test_overdue_command_lists_the_delayed_and_overdue_sets(
    store: Store, config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(store, upto="delayed")
    path = str(tmp_path / "config.toml")
    assert cli.main(["--config", path, "overdue", "--today", "2021-10-01"]) == 0
    waiting = capsys.readouterr().out
    assert "2021Z14612  open" in waiting
    assert "0 overdue, 1 delayed" in waiting
    assert cli.main(["--config", path, "overdue", "--today", "2021-10-11", "--record"]) == 0
    late = capsys.readouterr()
    assert "2021Z14612  OVERDUE 3 d" in late.out
    assert "recorded 1 new overdue events" in late.err
    assert [c.event for c in store.change_records(limit=1)] == [EventKind.OVERDUE]


def test_a_republished_answer_with_other_text_is_new_text_and_a_correction(store: Store) -> None:
    seed(store, upto="answered")
    body = (DEMO_DATA / "ah-tk-20212022-105.xml").read_text(encoding="utf-8")
    changed = body.replace("enkele medewerkers", "zeven medewerkers")
    assert changed != body
    publish(store, "ah-tk-20212022-105", changed.encode("utf-8"))
    from monitor import jobs

    jobs.process(store)
    timeline = store.question_timeline("2021Z14612")
    assert timeline is not None
    answer = next(d for d in timeline.documents if d.number == "2021D35707")
    assert [v.new_text for v in answer.versions] == [False, True]
    assert timeline.events[-1].event == "corrected"
    assert timeline.events[-1].document == "2021D35707"


def test_withdrawn_questions_are_withdrawn_and_never_overdue(store: Store) -> None:
    seed(store, upto="tabled")
    feed(
        store,
        (
            EntitySpec("Document", "5b0e2d4a-3c61-4f0e-9a7c-2021d3390000", {
                "soort": "Mededeling", "documentNummer": "2021D33900",
                "onderwerp": "Intrekken schriftelijke vragen over Clearview AI",
                "datum": "2021-09-01"},
                refs={"zaak": ["5b0e2d4a-3c61-4f0e-9a7c-2021a1461200"]}),
        ),
        "2021-11-09T00:00:00Z",
    )  # fmt: skip
    store.resolve(silent=False)
    timeline = store.question_timeline("2021Z14612")
    assert timeline is not None
    assert timeline.status == "withdrawn"
    assert [e.event for e in timeline.events] == ["tabled", "withdrawn"]
    assert store.deadline_states(dt.date(2030, 1, 1)) == []
