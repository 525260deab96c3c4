"""Gather the daemon's health from the store and config: shared by `/healthz`, `status` and alerts."""

from __future__ import annotations

import datetime as dt

from monitor.config import Config
from monitor.health import HealthReport, assess
from monitor.store import Store

DAEMON_JOB = "daemon"
"""The job-run name under which each daemon start is recorded."""


def source_intervals(config: Config) -> dict[str, float]:
    """Poll interval of every enabled source, keyed by its job name."""
    sources = config.sources
    out: dict[str, float] = {}
    if sources.syncfeed.enabled:
        out["syncfeed"] = sources.syncfeed.poll_interval
    # Files and tweedekamer.nl pages are fetched by the text job, on KOOP's schedule.
    if sources.files.enabled:
        out["files"] = sources.koop.poll_interval
    if sources.tweedekamer.enabled:
        out["tweedekamer"] = sources.koop.poll_interval
    if sources.koop.enabled:
        out["koop"] = sources.koop.poll_interval
    return out


def current(
    store: Store, config: Config, now: dt.datetime | None = None, since: dt.datetime | None = None
) -> HealthReport:
    """The health report as of `now`; `since` is the daemon's start (by default the last recorded)."""
    intervals = source_intervals(config)
    if since is None:
        since = store.last_start(DAEMON_JOB)
    return assess(
        store.job_summaries(intervals),
        intervals,
        store.outbox_summary(),
        config.alerts.outbox_interval,
        now or dt.datetime.now(dt.UTC),
        since,
    )
