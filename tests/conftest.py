"""Shared fixtures: a migrated database, a store, the replay server and configs pointing at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from monitor import config as config_module
from monitor import jobs, schema
from monitor.config import Config
from monitor.replay import ReplayServer, ReplayState
from monitor.store import Store

DEMO_DATA = Path(__file__).parent.parent / "monitor" / "demo_data"
FIXTURES = Path(__file__).parent / "fixtures"


def database_url(tmp_path: Path) -> str:
    """SQLite in the test's folder, or the PostgreSQL server named by KAMERWACHT_TEST_PG_URL."""
    return os.environ.get("KAMERWACHT_TEST_PG_URL") or f"sqlite:///{tmp_path / 'kamerwacht.db'}"


def reset_postgres(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = database_url(tmp_path)
    eng = schema.make_engine(url)
    if eng.dialect.name == "postgresql":
        reset_postgres(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def migrated(engine: Engine) -> Engine:
    schema.upgrade(engine)
    return engine


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer(ReplayState(page_size=3)) as server:
        yield server


def write_config(tmp_path: Path, server: ReplayServer, extra: str = "") -> Path:
    urls = server.source_settings()
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
data_dir = "{tmp_path / "data"}"
database_url = "{database_url(tmp_path)}"
[sources.syncfeed]
base_url = "{urls["syncfeed"]}"
poll_interval = 1.0
[sources.koop]
repository_url = "{urls["repository_url"]}"
zoek_url = "{urls["zoek_url"]}"
sru_url = "{urls["sru_url"]}"
[crawl]
download_delay = 0.0
autothrottle = false
retry_times = 1
timeout = 5.0
[web]
enabled = false
[alerts]
max_age_days = 0
outbox_interval = 0.5
{extra}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def config(tmp_path: Path, replay: ReplayServer) -> Config:
    return config_module.load(write_config(tmp_path, replay), environ={})


@pytest.fixture
def store(migrated: Engine, config: Config) -> Store:
    return Store(migrated, jobs.make_planner(config, telegram=False))


class LiveServer:
    """A uvicorn server in a background thread (no signal handlers), for web and browser tests."""

    def __init__(self, app: object) -> None:
        import socket
        import threading

        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )  # type: ignore[arg-type]
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


def fetch(url: str) -> tuple[int, dict[str, str], str]:
    """GET a URL from a live server: status, headers, text (4xx/5xx returned, not raised)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode("utf-8")
