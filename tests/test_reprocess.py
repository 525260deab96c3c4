"""`kamerwacht reprocess`: stored bodies re-parsed after a parser fix, old changes never re-alerted."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from monitor import jobs
from monitor.config import Config
from monitor.daemon import DatabaseLock
from monitor.records import EventKind
from monitor.replay import ReplayServer, load_timeline
from monitor.reprocess import reprocess
from monitor.store import Store
from tests.conftest import write_config
from tests.test_end_to_end import poll


async def seed(config: Config, store: Store, replay: ReplayServer) -> None:
    console = jobs.ConsoleNotifier(io.StringIO())
    for stage in load_timeline():
        replay.state.apply(stage)
        await poll(config, store, console)


async def test_reprocess_reclassifies_old_and_stores_new_corrections_without_alerting(
    config: Config, store: Store, replay: ReplayServer
) -> None:
    await seed(config, store, replay)
    correction = store.change_records()[0]
    assert correction.event is EventKind.CORRECTED
    # What an older, weaker classifier would have stored.
    with store.session() as session:
        session.execute(
            text("UPDATE changes SET kinds = :k, severity = 'low' WHERE id = :id"),
            {"k": '["content_added"]', "id": correction.id},
        )
    outbox_before = store.outbox_counts()
    changes_before = store.counts()["changes"]
    result = reprocess(store)
    assert result.versions == store.counts()["versions"]
    assert (result.refreshed, result.new_changes, result.unparseable) == (1, 0, 0)
    refreshed = store.change_records(ids=[correction.id])[0]
    assert {"denial_weakened", "scope_narrowed"} <= {k.value for k in refreshed.kinds}
    assert refreshed.severity.value == "high"
    assert store.outbox_counts() == outbox_before
    assert store.counts()["changes"] == changes_before

    # A correction found only after a parser fix (seeded in the same archive: crawls are slow).
    correction = store.change_records()[0]
    version_id = correction.detail["version_id"]
    # The nader antwoord as an older parser left it: unreadable, so no correction was found.
    with store.session() as session:
        session.execute(text("DELETE FROM outbox WHERE change_id = :id"), {"id": correction.id})
        session.execute(text("DELETE FROM changes WHERE id = :id"), {"id": correction.id})
        session.execute(text("DELETE FROM items WHERE version_id = :id"), {"id": version_id})
        session.execute(
            text("UPDATE versions SET parse_status = 'error' WHERE id = :id"), {"id": version_id}
        )
    outbox_before = store.outbox_counts()
    result = reprocess(store, "2021Z14612")
    assert result.new_changes == 1
    found = store.change_records()[0]
    assert found.event is EventKind.CORRECTED
    assert found.silent
    assert "denial_weakened" in {k.value for k in found.kinds}
    assert store.outbox_counts() == outbox_before


def test_reprocess_refuses_to_run_beside_the_daemon(
    tmp_path: Path, store: Store, replay: ReplayServer
) -> None:
    config_path = write_config(tmp_path, replay)
    lock = DatabaseLock(store.engine, tmp_path / "data")
    lock.acquire()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config_path), "reprocess"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        lock.release()
    assert run.returncode == 1
    assert "already running" in run.stderr
