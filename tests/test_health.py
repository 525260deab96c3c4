"""Health judgement: stale sources, a stuck outbox, and one operator alert per onset and recovery."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from monitor import health, status
from monitor.config import Config
from monitor.health import JobSummary, OutboxSummary
from monitor.store import Store

T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_source_is_stale_only_after_three_intervals_and_the_grace_without_success() -> None:
    summary = JobSummary("syncfeed", first_started_at=at(0), last_success_at=at(10),
                         last_status="error", last_error="syncfeed: no feed page could be read")  # fmt: skip
    limit = 3 * 60 + health.STALE_GRACE_SECONDS
    assert not health.assess_source(summary, 60, at(10 + limit - 1)).stale
    late = health.assess_source(summary, 60, at(10 + limit + 1))
    assert late.stale
    assert "no successful poll for 4 min (limit 3 × 60 s + 30 s)" in late.reason
    assert "no feed page could be read" in late.reason
    assert late.lag_seconds == limit + 1


def test_fresh_daemon_is_not_stale_before_it_could_have_polled() -> None:
    never = JobSummary("koop")
    assert not health.assess_source(never, 60, at(100), since=at(0)).stale
    assert health.assess_source(never, 60, at(181 + health.STALE_GRACE_SECONDS), since=at(0)).stale
    assert health.assess_source(never, 60, at(5)).reason == "never polled"


def test_outbox_is_stuck_when_an_alert_waits_too_long() -> None:
    waiting = OutboxSummary(pending=2, oldest_pending_at=at(0), last_error="NetworkError")
    assert not health.assess_outbox(waiting, 10, at(100)).stuck
    stuck = health.assess_outbox(waiting, 10, at(121))
    assert stuck.stuck
    assert "2 alert(s) pending" in stuck.reason
    assert not health.assess_outbox(OutboxSummary(), 10, at(10_000)).stuck


def test_transitions_report_onset_and_recovery_once() -> None:
    intervals = {"syncfeed": 60.0}
    bad = health.assess({"syncfeed": JobSummary("syncfeed", first_started_at=at(0))},
                        intervals, OutboxSummary(), 10, at(500))  # fmt: skip
    good = health.assess({"syncfeed": JobSummary("syncfeed", last_success_at=at(499))},
                         intervals, OutboxSummary(), 10, at(500))  # fmt: skip
    assert not bad.ok
    assert bad.to_json()["status"] == "unhealthy"
    assert [(t.subject, t.onset) for t in health.transitions(bad, [])] == [
        ("source:syncfeed", True)
    ]
    assert health.transitions(bad, ["source:syncfeed"]) == []
    assert [(t.subject, t.onset) for t in health.transitions(good, ["source:syncfeed"])] == [
        ("source:syncfeed", False)
    ]
    assert health.transitions(good, []) == []


def test_operator_message_escapes_the_reason() -> None:
    onset = health.Transition("source:koop", True, "503 <Error> & more")
    text = health.operator_message(onset, at(0))
    assert "&lt;Error&gt; &amp; more" in text
    recovery = health.operator_message(health.Transition("source:koop", False, ""), at(300), at(0))
    assert "recovered: source koop" in recovery
    assert "after 5 min" in recovery


def test_job_runs_feed_the_report(store: Store, config: Config) -> None:
    failed = store.start_run("syncfeed")
    store.finish_run(failed, "error", {}, "syncfeed: no feed page could be read")
    later = dt.timedelta(seconds=10 + health.STALE_GRACE_SECONDS)
    report = status.current(store, config, dt.datetime.now(dt.UTC) + later)
    by_name = {source.name: source for source in report.sources}
    assert set(by_name) == {"syncfeed", "files", "koop"}  # tweedekamer.nl is off by default
    syncfeed, koop = by_name["syncfeed"], by_name["koop"]
    assert syncfeed.stale
    assert syncfeed.failures_since_success == 1
    assert koop.reason == "never polled"
    ok = store.start_run("syncfeed")
    store.finish_run(ok, "ok", {"pages": 4})
    assert not status.current(store, config).sources[0].stale


def test_incident_queues_one_alert_each_way(store: Store) -> None:
    chats = [("console", 0)]
    assert store.record_incident(
        "source:syncfeed", True, "stale", [(c, i, "down") for c, i in chats]
    )
    assert not store.record_incident("source:syncfeed", True, "stale", [("console", 0, "down")])
    assert set(store.open_incidents()) == {"source:syncfeed"}
    assert store.record_incident("source:syncfeed", False, "", [("console", 0, "up")])
    assert not store.record_incident("source:syncfeed", False, "", [("console", 0, "up")])
    assert store.open_incidents() == {}
    assert [m.text for m in store.due_queue("console")] == ["down", "up"]
    # A second outage is a new incident with its own alerts.
    assert store.record_incident("source:syncfeed", True, "stale", [("console", 0, "down")])
    assert store.outbox_counts() == {"pending": 3}


def test_a_started_daemon_is_not_stale_before_its_first_poll(store: Store, config: Config) -> None:
    assert status.current(store, config).sources[-1].reason == "never polled"
    store.start_run(status.DAEMON_JOB)  # what `kamerwacht run` records when it starts
    report = status.current(store, config)
    assert report.ok, report.problems()


def test_overdue_question_sets_are_flagged_once_per_deadline(store: Store) -> None:
    from monitor.models import QuestionSet

    today = dt.date(2026, 11, 26)
    with store.session() as session:
        session.add_all([
            QuestionSet(number="2026Z00001", title="Late", status="tabled",
                        deadline_on=dt.date(2026, 11, 20)),
            QuestionSet(number="2026Z00002", title="Old and late", status="delayed",
                        deadline_on=dt.date(2026, 1, 5)),
            QuestionSet(number="2026Z00003", title="Answered", status="answered",
                        deadline_on=dt.date(2026, 11, 1)),
            QuestionSet(number="2026Z00004", title="Not yet due", status="tabled",
                        deadline_on=dt.date(2026, 12, 1)),
        ])  # fmt: skip
    assert store.overdue_counts(today) == {"overdue": 2, "due_within_7_days": 1}
    store.quiet_before = dt.date(2026, 10, 27)  # what the daemon sets from alerts.max_age_days
    first = store.record_overdue(today)
    assert len(first) == 2
    assert store.record_overdue(today) == []
    changes = {c.question_set: c for c in store.change_records()}
    assert changes["2026Z00001"].event.value == "overdue"
    assert not changes["2026Z00001"].silent
    assert changes["2026Z00002"].silent  # a deadline long past: recorded, not alerted
    (message,) = store.due_queue("console")
    assert "Answer overdue" in message.text
    assert "2026Z00001" in message.text


def test_status_command_prints_json_and_exits_1_when_unhealthy(
    tmp_path: Path, store: Store, config: Config
) -> None:
    path = tmp_path / "config.toml"  # the fixture's config, with a poll slower than a CLI start
    path.write_text(path.read_text().replace("poll_interval = 1.0", "poll_interval = 60.0"))

    def run() -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.toml"),
             "status", "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return done.returncode, json.loads(done.stdout)

    code, data = run()
    assert code == 1
    assert data["problems"] == {
        "source:syncfeed": "never polled", "source:files": "never polled",
        "source:koop": "never polled",
    }  # fmt: skip
    assert set(data) >= {"sources", "outbox", "cursors", "questions", "incidents"}
    store.start_run(status.DAEMON_JOB)
    for job in ("syncfeed", "files", "koop"):
        store.finish_run(store.start_run(job), "ok", {})
    code, data = run()
    assert code == 0
    assert data["status"] == "ok"
    assert data["sources"]["syncfeed"]["lag_seconds"] < 60
