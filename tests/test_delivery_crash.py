"""Kill the real daemon between the outbox write and the send: after a restart every alert
arrives exactly once, in order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor import config as config_module
from monitor import jobs, schema
from monitor.models import Change, OutboxMessage
from monitor.replay import EntitySpec, ReplayServer, load_timeline
from monitor.store import Store
from tests.conftest import write_config
from tests.fakes.telegram_api import TOKEN, FakeBotAPI

TOPIC_CHAT, FOLLOW_CHAT = 2001, 2002
TITLES = ["New written questions", "Answer delayed", "Answer published", "Answer published",
          "Answer changed"]  # fmt: skip


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def start_daemon(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, KAMERWACHT_TELEGRAM_TOKEN=TOKEN)
    with log.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config_path), "-v", "run"],
            stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip


def count(store: Store, model: type, *where: object) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.mark.slow
def test_killed_daemon_delivers_every_alert_exactly_once_after_restart(
    tmp_path: Path, replay: ReplayServer
) -> None:
    with FakeBotAPI() as fake:
        path = write_config(tmp_path, replay, f'[telegram]\napi_base_url = "{fake.base_url}"\n')
        config = config_module.load(path, environ={})
        engine = schema.make_engine(config.database_url)
        schema.upgrade(engine)
        store = Store(engine, jobs.make_planner(config, telegram=True))
        store.subscribe(TOPIC_CHAT, "topic", "gezichtsherkenning")
        store.subscribe(FOLLOW_CHAT, "follow", "2021Z14612")
        log = tmp_path / "daemon.log"
        stages = load_timeline()

        # The first sync is silent by design: let it read something unrelated.
        replay.state.add(EntitySpec("Zaak", "00000000-0000-4000-8000-000000000001",
                                    {"nummer": "2021Z00001", "soort": "Motie"}))  # fmt: skip
        daemon = start_daemon(path, log)
        try:
            wait_until(lambda: store.has_cursor("syncfeed"), 60, "the first sync")
            fake.faults.hold = threading.Event()
            replay.state.apply(stages[0])
            wait_until(lambda: bool(fake.held), 60, "a send to begin")
            assert count(store, OutboxMessage, OutboxMessage.status == "pending") == 2
        finally:
            daemon.send_signal(signal.SIGKILL)  # no clean-up of any kind
            daemon.wait(10)
        assert daemon.returncode == -signal.SIGKILL
        fake.drop_held()
        assert fake.sent == []

        for stage in stages[1:]:  # upstream goes on while the daemon is down
            replay.state.apply(stage)
        daemon = start_daemon(path, log)
        try:
            wait_until(
                lambda: (
                    len(fake.sent) >= 2 * len(TITLES)
                    and count(store, Change, Change.event == "corrected") == 1
                ),
                120,
                "every alert",
            )
            time.sleep(3)  # more outbox runs: nothing may be sent twice
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
        assert daemon.returncode == 0

        for chat in (TOPIC_CHAT, FOLLOW_CHAT):
            texts = fake.texts(chat)
            assert [t.split("</b>")[0].removeprefix("<b>") for t in texts] == TITLES
            assert len(set(texts)) == len(texts)
            assert "denial_weakened" in texts[-1]
            assert "scope_narrowed" in texts[-1]
        assert count(store, OutboxMessage, OutboxMessage.status != "sent") == 0
        assert TOKEN not in log.read_text(encoding="utf-8")
        engine.dispose()
