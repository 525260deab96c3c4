"""Judge the daemon's health from its job-run records: stale sources, a stuck outbox, and alerts."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

STALE_AFTER_INTERVALS = 3
"""A source is stale when it has had no successful poll for this many poll intervals…"""

STALE_GRACE_SECONDS = 30.0
"""… plus this long: a poll itself takes time (a crawl subprocess, then the text sources), which
at short intervals would otherwise look like an outage."""

OUTBOX_STUCK_MIN_SECONDS = 120.0
"""A pending alert older than this (or five outbox intervals, if longer) means a stuck outbox."""


@dataclass(frozen=True, slots=True)
class JobSummary:
    """What the run records say about one job; the input of `assess`."""

    job: str
    first_started_at: dt.datetime | None = None
    last_started_at: dt.datetime | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_success_at: dt.datetime | None = None
    failures_since_success: int = 0


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    pending: int = 0
    dead: int = 0
    sent: int = 0
    oldest_pending_at: dt.datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class SourceHealth:
    name: str
    interval: float
    last_success_at: dt.datetime | None
    last_status: str | None
    last_error: str | None
    failures_since_success: int
    lag_seconds: float | None
    stale: bool
    reason: str


@dataclass(frozen=True, slots=True)
class OutboxHealth:
    pending: int
    dead: int
    oldest_pending_seconds: float | None
    stuck: bool
    reason: str


@dataclass(frozen=True, slots=True)
class HealthReport:
    checked_at: dt.datetime
    sources: tuple[SourceHealth, ...]
    outbox: OutboxHealth

    @property
    def ok(self) -> bool:
        return not self.problems()

    def problems(self) -> dict[str, str]:
        """Subject → reason for everything unhealthy; subjects are `source:<name>` and `outbox`."""
        out = {f"source:{s.name}": s.reason for s in self.sources if s.stale}
        if self.outbox.stuck:
            out["outbox"] = self.outbox.reason
        return out

    def to_json(self) -> dict[str, Any]:
        def stamp(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "status": "ok" if self.ok else "unhealthy",
            "checked_at": stamp(self.checked_at),
            "problems": self.problems(),
            "sources": {
                s.name: {
                    "interval_seconds": s.interval,
                    "last_success_at": stamp(s.last_success_at),
                    "last_status": s.last_status,
                    "last_error": s.last_error,
                    "failures_since_success": s.failures_since_success,
                    "lag_seconds": None if s.lag_seconds is None else round(s.lag_seconds, 1),
                    "stale": s.stale,
                }
                for s in self.sources
            },
            "outbox": {
                "pending": self.outbox.pending,
                "dead": self.outbox.dead,
                "oldest_pending_seconds": (
                    None
                    if self.outbox.oldest_pending_seconds is None
                    else round(self.outbox.oldest_pending_seconds, 1)
                ),
                "stuck": self.outbox.stuck,
            },
        }


def _seconds(delta: dt.timedelta) -> float:
    return max(0.0, delta.total_seconds())


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def assess_source(
    summary: JobSummary, interval: float, now: dt.datetime, since: dt.datetime | None = None
) -> SourceHealth:
    """A source is stale without a successful poll for `STALE_AFTER_INTERVALS` intervals.

    The clock starts at the last success, else at the first recorded run or `since` (the
    daemon's start), so a freshly started daemon is not stale before it could have polled.
    """
    limit = STALE_AFTER_INTERVALS * interval + STALE_GRACE_SECONDS
    starts = [t for t in (summary.first_started_at, since) if t is not None]
    reference = summary.last_success_at or (min(starts) if starts else None)
    lag = _seconds(now - summary.last_success_at) if summary.last_success_at else None
    if reference is None:
        stale, reason = True, "never polled"
    elif _seconds(now - reference) > limit:
        stale = True
        what = (
            f"no successful poll for {_duration(_seconds(now - reference))}"
            if summary.last_success_at
            else f"no successful poll since {_duration(_seconds(now - reference))} ago"
        )
        reason = (
            f"{what} (limit {STALE_AFTER_INTERVALS} × {_duration(interval)}"
            f" + {_duration(STALE_GRACE_SECONDS)})"
        )
        if summary.last_error:
            reason += f"; last error: {summary.last_error[:200]}"
    else:
        stale, reason = False, "ok"
    return SourceHealth(
        name=summary.job,
        interval=interval,
        last_success_at=summary.last_success_at,
        last_status=summary.last_status,
        last_error=summary.last_error,
        failures_since_success=summary.failures_since_success,
        lag_seconds=lag,
        stale=stale,
        reason=reason,
    )


def assess_outbox(summary: OutboxSummary, outbox_interval: float, now: dt.datetime) -> OutboxHealth:
    limit = max(OUTBOX_STUCK_MIN_SECONDS, 5 * outbox_interval)
    age = _seconds(now - summary.oldest_pending_at) if summary.oldest_pending_at else None
    stuck = age is not None and age > limit
    reason = "ok"
    if stuck:
        assert age is not None
        reason = f"{summary.pending} alert(s) pending, the oldest for {_duration(age)}"
        if summary.last_error:
            reason += f"; last error: {summary.last_error[:200]}"
    return OutboxHealth(summary.pending, summary.dead, age, stuck, reason)


def assess(
    jobs: Mapping[str, JobSummary],
    intervals: Mapping[str, float],
    outbox: OutboxSummary,
    outbox_interval: float,
    now: dt.datetime,
    since: dt.datetime | None = None,
) -> HealthReport:
    """The health of every enabled source (named in `intervals`) and of the outbox."""
    sources = tuple(
        assess_source(jobs.get(name) or JobSummary(name), interval, now, since)
        for name, interval in intervals.items()
    )
    return HealthReport(now, sources, assess_outbox(outbox, outbox_interval, now))


@dataclass(frozen=True, slots=True)
class Transition:
    """A subject that became unhealthy (`onset`) or healthy again; one operator alert each."""

    subject: str
    onset: bool
    reason: str


def transitions(report: HealthReport, open_incidents: Iterable[str]) -> list[Transition]:
    """Compare the report with the subjects already alerted about: only changes are returned."""
    problems = report.problems()
    already = set(open_incidents)
    out = [Transition(s, True, r) for s, r in sorted(problems.items()) if s not in already]
    out += [Transition(s, False, "recovered") for s in sorted(already - set(problems))]
    return out


def operator_message(
    transition: Transition, now: dt.datetime, started_at: dt.datetime | None = None
) -> str:
    """The Telegram HTML text of an operator alert (escaped; the console prints it plain)."""
    subject = html.escape(transition.subject.replace("source:", "source "), quote=False)
    if transition.onset:
        return (
            f"<b>Kamerwacht trouble: {subject}</b>\n{html.escape(transition.reason, quote=False)}"
        )
    tail = ""
    if started_at is not None:
        tail = f" after {_duration(_seconds(now - started_at))}"
    return f"<b>Kamerwacht recovered: {subject}</b>\nHealthy again{tail}."
