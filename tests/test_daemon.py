"""`kamerwacht run` as a real process: alerts in time, one daemon per database, clean SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from monitor import config as config_module
from monitor import jobs
from monitor.daemon import AlreadyRunning, DatabaseLock
from monitor.replay import Fault, ReplayServer, ReplayState, load_timeline
from monitor.store import Store
from tests.conftest import fetch, write_config
from tests.test_sources import crawl_and_ingest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def daemon_config(tmp_path: Path, server: ReplayServer, interval: float) -> tuple[Path, int]:
    """The shared test config with the web app on a free port and both sources on `interval`."""
    port = free_port()
    path = write_config(tmp_path, server)
    text = path.read_text(encoding="utf-8")
    text = text.replace("poll_interval = 1.0", f"poll_interval = {interval}")
    text = text.replace("[sources.koop]", f"[sources.koop]\npoll_interval = {interval}")
    text = text.replace(
        "[web]\nenabled = false",
        f'[web]\nenabled = true\nport = {port}\npublic_url = "http://127.0.0.1:{port}"',
    )
    path.write_text(text, encoding="utf-8")
    return path, port


def kamerwacht(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        capture_output=True, text=True, timeout=120, env=_env(),
    )  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("KAMERWACHT_TELEGRAM_TOKEN", None)  # the console notifier, not Telegram
    return env


class DaemonProcess:
    """`kamerwacht run` in a child process; its output is collected by reader threads."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [
            threading.Thread(target=self._drain, args=(stream, sink), daemon=True)
            for stream, sink in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _drain(stream: object, sink: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink.append(line)

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> float:
        """Seconds until `condition` held; fails with the daemon's output after `timeout`."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if condition():
                return time.monotonic() - start
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{what}: not within {timeout} s\n{self.stdout}\n{self.stderr}")

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=90)

    def kill(self) -> None:
        """Make sure the process is gone and its pipes are read to the end and closed."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for reader in self.readers:
            reader.join(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def upstream() -> Iterator[ReplayServer]:
    with ReplayServer(ReplayState(page_size=3)) as server:
        yield server


def started(daemon: DaemonProcess) -> bool:
    return "daemon=started" in daemon.stderr


def test_daemon_alerts_a_nader_antwoord_within_two_polls_and_stops_cleanly(
    tmp_path: Path, upstream: ReplayServer, migrated: Engine
) -> None:
    # Two intervals must cover the jitter, a feed crawl and a KOOP crawl even on a loaded machine.
    interval = 15.0
    config_path, port = daemon_config(tmp_path, upstream, interval)
    stages = load_timeline()
    for stage in stages[:-1]:  # tabled, delayed, answered: read silently on the first sync
        upstream.state.apply(stage)
    daemon = DaemonProcess(config_path)
    try:
        daemon.wait_for(lambda: started(daemon), 30, "daemon start")
        daemon.wait_for(
            lambda: re.search(r"job=koop status=ok .*versions=[1-9]", daemon.stderr) is not None,
            4 * interval, "first sync with the KOOP texts",
        )  # fmt: skip
        assert "Kamerwacht alert" not in daemon.stdout, "the first sync must be silent"

        second = kamerwacht(config_path, "run")
        assert second.returncode == 1
        assert "already running" in second.stderr

        upstream.state.apply(stages[-1])  # the nader antwoord of 2021-10-13
        seconds = daemon.wait_for(
            lambda: "Answer changed" in daemon.stdout, 2 * interval + 1, "the correction alert"
        )
        print(f"nader antwoord alerted {seconds:.1f} s after publication (interval {interval} s)")
        assert seconds <= 2 * interval
        assert "geen toestemming gegeven" in daemon.stdout
        code, _, body = fetch(f"http://127.0.0.1:{port}/healthz")
        assert code == 200, body
        assert json.loads(body)["status"] == "ok"
    finally:
        code = daemon.terminate() if daemon.process.poll() is None else daemon.process.returncode
        daemon.kill()
    assert code == 0, daemon.stderr
    assert "daemon=stopped" in daemon.stderr
    assert "Traceback" not in daemon.stderr
    assert daemon.stdout.count("Answer changed") == 1
    lock = DatabaseLock(migrated, config_module.load(config_path, environ={}).data_path)
    lock.acquire()  # released by the stopped daemon
    lock.release()


def test_stale_source_raises_one_operator_alert_each_way(
    tmp_path: Path, upstream: ReplayServer, migrated: Engine
) -> None:
    # Longer than a crawl takes on a loaded machine, so a healthy feed never looks stale.
    interval = 5.0
    config_path, port = daemon_config(tmp_path, upstream, interval)
    upstream.state.apply(load_timeline()[0])
    healthz = f"http://127.0.0.1:{port}/healthz"
    daemon = DaemonProcess(config_path)
    try:
        daemon.wait_for(lambda: "job=syncfeed status=ok" in daemon.stderr, 30, "first poll")
        assert fetch(healthz)[0] == 200
        upstream.state.fault(Fault(prefix="/SyncFeed", count=1_000_000, status=503))
        daemon.wait_for(
            lambda: "Kamerwacht trouble: source syncfeed" in daemon.stdout, 20 * interval,
            "the onset alert",
        )  # fmt: skip
        code, _, body = fetch(healthz)
        assert code == 503
        assert "source:syncfeed" in json.loads(body)["problems"]
        report = kamerwacht(config_path, "status")
        assert report.returncode == 1, report.stdout + report.stderr
        assert "syncfeed" in report.stdout
        assert "STALE" in report.stdout
        assert "Open incident: source:syncfeed" in report.stdout

        with upstream.state.lock:
            upstream.state.faults.clear()  # the source answers again
        daemon.wait_for(
            lambda: "Kamerwacht recovered: source syncfeed" in daemon.stdout, 10 * interval,
            "the recovery alert",
        )  # fmt: skip
        assert fetch(healthz)[0] == 200
        report = kamerwacht(config_path, "status")
        assert report.returncode == 0, report.stdout + report.stderr
        assert "STALE" not in report.stdout
        time.sleep(2 * interval)  # any repeated alert would show up by now
    finally:
        code = daemon.terminate() if daemon.process.poll() is None else daemon.process.returncode
        daemon.kill()
    assert code == 0, daemon.stderr
    assert daemon.stdout.count("Kamerwacht trouble") == 1
    assert daemon.stdout.count("Kamerwacht recovered") == 1


def test_lock_refuses_a_second_holder_and_is_free_after_release(
    tmp_path: Path, migrated: Engine
) -> None:
    first = DatabaseLock(migrated, tmp_path / "data")
    first.acquire()
    second = DatabaseLock(migrated, tmp_path / "data")
    with pytest.raises(AlreadyRunning, match="already running"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline and "scrapy" in cmdline:
                found.append(int(entry.name))
    return found


def test_sigterm_during_a_crawl_stops_the_spider_and_records_the_run(
    tmp_path: Path, upstream: ReplayServer, migrated: Engine
) -> None:
    config_path, _ = daemon_config(tmp_path, upstream, 30.0)
    upstream.state.apply(load_timeline()[0])
    upstream.state.fault(Fault(prefix="/SyncFeed", count=100, mode="stall", seconds=4.0))
    daemon = DaemonProcess(config_path)
    try:
        daemon.wait_for(lambda: any("/SyncFeed" in r for r in upstream.state.requests), 30,
                        "the spider's first feed request")  # fmt: skip
        assert _processes_mentioning(str(tmp_path)), "no crawl process is running"
        started_stop = time.monotonic()
        code = daemon.terminate()
        stopped_in = time.monotonic() - started_stop
    finally:
        daemon.kill()
    assert code == 0, daemon.stderr
    assert stopped_in < 4.0, f"shutdown waited for the stalled crawl ({stopped_in:.1f} s)"
    assert _processes_mentioning(str(tmp_path)) == []
    assert "job=syncfeed status=cancelled" in daemon.stderr
    with migrated.connect() as connection:
        runs = connection.exec_driver_sql("SELECT job, status FROM job_runs").all()
    assert sorted(tuple(run) for run in runs) == [("daemon", "ok"), ("syncfeed", "cancelled")]


def test_texts_left_unfetched_by_a_killed_run_are_fetched_on_the_first_poll_after_restart(
    tmp_path: Path, upstream: ReplayServer, migrated: Engine
) -> None:
    # The previous process read the feed (tabled, delayed, answered) and died before its text
    # crawl; the feed now has nothing new, and the text sources' own interval is long.
    for stage in load_timeline()[:3]:
        upstream.state.apply(stage)
    config_path, _ = daemon_config(tmp_path, upstream, 1.0)
    config_path.write_text(
        config_path.read_text(encoding="utf-8").replace(
            "[sources.koop]\npoll_interval = 1.0", "[sources.koop]\npoll_interval = 3600"
        ),
        encoding="utf-8",
    )
    config = config_module.load(config_path, environ={})
    store = Store(migrated, jobs.make_planner(config, telegram=False))
    asyncio.run(crawl_and_ingest(config, store, "syncfeed"))
    assert store.counts()["versions"] == 0
    daemon = DaemonProcess(config_path)
    try:
        seconds = daemon.wait_for(
            lambda: store.counts()["versions"] >= 2, 60, "the answer's texts after the restart"
        )
    finally:
        code = daemon.terminate() if daemon.process.poll() is None else daemon.process.returncode
        daemon.kill()
    print(f"texts fetched {seconds:.1f} s after the restart (text interval 3600 s)")
    assert code == 0, daemon.stderr
    with migrated.connect() as connection:
        renditions = connection.exec_driver_sql("SELECT DISTINCT rendition FROM versions").all()
    assert {r for (r,) in renditions} >= {"file-text", "koop-xml"}
