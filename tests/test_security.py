"""Secrets and access: the web app has no write path, links in upstream documents cannot send a
spider to another host, bot commands survive hostile arguments and admin commands stay closed."""

from __future__ import annotations

import asyncio
import io
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from starlette.routing import Mount, Route

from monitor import bot, jobs
from monitor import config as config_module
from monitor.replay import ReplayServer, load_timeline
from monitor.store import Store
from monitor.web import create_app
from tests.conftest import LiveServer, fetch, write_config
from tests.fakes.telegram_api import FakeBotAPI, html_problem
from tests.reliability_log import record
from tests.test_bot import ADMIN, STRANGER, USER, ask, fake, running, tg_config  # noqa: F401
from tests.test_end_to_end import poll

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def table_dump(store: Store) -> str:
    """Every row of every table as text, to look for what must never be stored."""
    out = []
    with store.engine.connect() as connection:
        for table in inspect(store.engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                out.append(" ".join(str(v) for v in row))
    return "\n".join(out)


def request(url: str, method: str) -> int:
    req = urllib.request.Request(url, data=b"x=1", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_every_route_refuses_every_write_method_and_nothing_changes(
    config: Any, store: Store, replay: ReplayServer
) -> None:
    for stage in load_timeline():
        replay.state.apply(stage)
    asyncio.run(poll(config, store, jobs.ConsoleNotifier(io.StringIO())))
    app = create_app(store, config)
    paths = []
    for route in app.routes:
        if isinstance(route, Mount):
            paths.append(route.path + "/x.css")
        elif isinstance(route, Route):
            path = re.sub(r"\{[^}]+:int\}", "1", route.path)
            paths.append(re.sub(r"\{[^}]+\}", "2021Z14612", path))
    before = table_dump(store)
    answers: dict[str, int] = {}
    with LiveServer(app) as web:
        for path in paths:
            for method in WRITE_METHODS:
                answers[f"{method} {path}"] = request(web.url + path, method)
    wrong = {k: v for k, v in answers.items() if v != 405}
    assert wrong == {}
    assert table_dump(store) == before
    record("access", "web: every non-GET method on every route", len(answers),
           "405 every time; no row in any table changed", routes=len(paths))  # fmt: skip


class Trap:
    """An HTTP server on another loopback host that counts every request a spider sends it."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        self.url = f"http://127.0.0.2:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Rewriter:
    """A hostile upstream: the replay server with its bodies rewritten on the way through."""

    def __init__(self, upstream: str, replace: list[tuple[bytes, bytes]]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                try:
                    with urllib.request.urlopen(upstream + self.path, timeout=10) as response:
                        status, body = response.status, response.read()
                        kind = response.headers.get("Content-Type", "application/xml")
                except urllib.error.HTTPError as exc:
                    status, body, kind = exc.code, exc.read(), "text/plain"
                for old, new in replace:
                    body = body.replace(old, new)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def trap() -> Iterator[Trap]:
    server = Trap()
    yield server
    server.close()


async def crawl_through(
    tmp_path: Path, migrated: Any, replay: ReplayServer, hostile: Rewriter, sources: tuple[str, ...]
) -> list[str]:
    path = write_config(tmp_path, replay)
    feed = replay.url + "/SyncFeed"
    path.write_text(path.read_text().replace(feed, hostile.url + "/SyncFeed"))
    config = config_module.load(path, environ={})
    store = Store(migrated, jobs.make_planner(config, telegram=False))
    problems: list[str] = []
    try:
        for source in sources:
            result = await jobs.crawl(config, source, store)
            if result is not None:
                problems += jobs.ingest_file(store, result.path).problems
                jobs.process(store)
    finally:
        hostile.close()
    return problems


def links_pointing_elsewhere(replay: ReplayServer, trap: Trap, rel: str) -> Rewriter:
    """The seed case's feed, served with every `rel` link rewritten to the trap host."""
    for stage in load_timeline()[:3]:
        replay.state.apply(stage)
    link = f'rel="{rel}" href="{{}}'
    return Rewriter(
        replay.url, [(link.format(replay.url).encode(), link.format(trap.url).encode())]
    )


async def test_a_feed_next_link_to_another_host_is_not_followed(
    tmp_path: Path, migrated: Any, replay: ReplayServer, trap: Trap
) -> None:
    hostile = links_pointing_elsewhere(replay, trap, "next")
    problems = await crawl_through(tmp_path, migrated, replay, hostile, ("syncfeed",))
    assert trap.hits == []
    assert any("next link leaves allowed hosts" in p for p in problems), problems
    record("access", "SSRF: SyncFeed `next` links pointing at another host", len(problems),
           "no request reached the other host; each link is a recorded problem")  # fmt: skip


async def test_a_file_enclosure_on_another_host_is_a_recorded_problem_not_a_failed_crawl(
    tmp_path: Path, migrated: Any, replay: ReplayServer, trap: Trap
) -> None:
    hostile = links_pointing_elsewhere(replay, trap, "enclosure")
    problems = await crawl_through(tmp_path, migrated, replay, hostile, ("syncfeed", "files"))
    assert trap.hits == []
    assert any("not in allowed_hosts" in p for p in problems), problems
    record("access", "SSRF: SyncFeed file enclosures pointing at another host", 1,
           "no request reached the other host; the refusal is a recorded problem")  # fmt: skip


HOSTILE_ARGUMENTS = [
    "x" * 5000,
    "<script>alert(1)</script>",
    "'; DROP TABLE subscriptions; --",
    "%s %n {0} {{7*7}} ${7*7}",
    "\u202e\u0000\ufeff",
    "2021Z14612 2021Z14612 " * 50,
    "<b>unclosed",
    "../../etc/passwd",
]


async def test_bot_commands_survive_oversized_malformed_and_injection_shaped_arguments(
    running: Any,  # noqa: F811
    fake: FakeBotAPI,  # noqa: F811
) -> None:
    _, store = running
    commands = [f"/{c.name}" for c in bot.COMMANDS]
    before = table_dump(store)
    replies = 0
    for command in commands:
        for n, argument in enumerate(HOSTILE_ARGUMENTS):
            # One chat per argument: the flood guard would otherwise silence the test.
            reply = await ask(fake, USER + 1000 * (n + 1), f"{command} {argument}")
            assert html_problem(reply) is None
            assert "<script>" not in reply
            replies += 1
    with store.session() as session:
        tables = set(inspect(session.get_bind()).get_table_names())
    assert {"subscriptions", "chats"} <= tables
    assert "operators" in await ask(fake, STRANGER, "/stats")
    assert "question_sets" in await ask(fake, ADMIN, "/stats")
    with store.engine.connect() as connection:
        follows = connection.execute(text("SELECT count(*) FROM subscriptions")).scalar()
    assert before is not None and follows is not None
    record("hostile input", "bot commands with oversized, malformed and injection-shaped "
           "arguments", replies, "a valid Telegram HTML reply every time; no table dropped; "
           "admin command refused to a non-admin chat")  # fmt: skip


async def test_the_bot_token_reaches_no_log_table_or_web_page(
    tg_config: Any, migrated: Any, replay: ReplayServer, fake: FakeBotAPI,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    import logging

    from tests.fakes.telegram_api import TOKEN
    from tests.test_delivery import run_timeline

    caplog.set_level(logging.DEBUG)
    store = Store(migrated, jobs.make_planner(tg_config, telegram=True))
    store.subscribe(2001, "follow", "2021Z14612")
    fake.faults.stall_times, fake.faults.stall_seconds = 1, 0.0  # one failed send, logged
    instance = bot.KamerwachtBot(tg_config, store, TOKEN, request_timeout=1.0, poll_timeout=1)
    await instance.start()
    try:
        await run_timeline(tg_config, store, replay, instance.notifier)
        await jobs.deliver(store, {"telegram": instance.notifier}, tg_config)
    finally:
        await instance.stop()
    assert len(fake.texts(2001)) == 5
    pages = []
    app = create_app(store, tg_config)
    with LiveServer(app) as web:
        for route in app.routes:
            if isinstance(route, Route) and "GET" in (route.methods or ()):
                path = re.sub(r"\{[^}]+:int\}", "1", route.path)
                pages.append(fetch(web.url + re.sub(r"\{[^}]+\}", "2021Z14612", path))[2])
    assert TOKEN not in caplog.text
    assert TOKEN not in table_dump(store)
    assert not [p for p in pages if TOKEN in p]
    record("secrets", "bot token after a delivery run with a failed send", 1,
           "absent from every log record, every table row and every web page",
           log_records=len(caplog.records), web_pages=len(pages))  # fmt: skip
