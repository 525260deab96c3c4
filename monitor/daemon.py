"""The composition root: one asyncio loop hosting the scheduler, the outbox sender and the web app."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from filelock import FileLock, Timeout
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from monitor import bot, jobs, schema
from monitor.config import Config
from monitor.notify import Notifier
from monitor.store import Store
from monitor.web import create_app

logger = logging.getLogger(__name__)

_PG_LOCK_KEY = 0x4B414D45  # "KAME": one advisory lock id for every Kamerwacht daemon


class AlreadyRunning(RuntimeError):
    """Raised by `Daemon.run` when another daemon already holds this database's lock."""


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the daemon owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class DaemonHooks:
    """Optional callbacks for the demo and tests; the daemon works without them."""

    after_cycle: Callable[[], Coroutine[Any, Any, None]] | None = None
    notifiers: Mapping[str, Notifier] = field(default_factory=dict)


class Daemon:
    """Runs every job on its schedule until SIGTERM/SIGINT or `stop()`."""

    def __init__(self, config: Config, hooks: DaemonHooks | None = None, web: bool = True) -> None:
        self.config = config
        self.hooks = hooks or DaemonHooks()
        self.web_enabled = web and config.web.enabled
        self.stopping = asyncio.Event()
        self.engine: Engine = schema.make_engine(config.database_url)
        quiet = None
        if config.alerts.max_age_days > 0:
            quiet = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=config.alerts.max_age_days)
        token = bot.read_token(config.telegram)
        self.store = Store(self.engine, jobs.make_planner(config, telegram=bool(token)), quiet)
        self.notifiers: dict[str, Notifier] = dict(self.hooks.notifiers)
        self.bot = bot.KamerwachtBot(config, self.store, token) if token else None
        if self.bot is not None:
            self.notifiers.setdefault("telegram", self.bot.notifier)
        self._delivering = asyncio.Lock()  # poll and the outbox job both deliver: never at once
        if config.alerts.console and "console" not in self.notifiers:
            self.notifiers["console"] = jobs.ConsoleNotifier()
        self.web_server: _EmbeddedServer | None = None
        self._lock_connection: Connection | None = None
        self._file_lock: FileLock | None = None

    def stop(self) -> None:
        self.stopping.set()

    # --- locking -----------------------------------------------------------------------------

    def _lock(self) -> None:
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect()
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_LOCK_KEY}
            ).scalar()
            if not got:
                connection.close()
                raise AlreadyRunning("another Kamerwacht daemon is running on this database")
            self._lock_connection = connection
            return
        self.config.data_path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.config.data_path / "kamerwacht.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout as exc:
            raise AlreadyRunning(
                f"another Kamerwacht daemon is running on {self.config.data_path} (lock held)"
            ) from exc
        self._file_lock = lock

    def _unlock(self) -> None:
        if self._lock_connection is not None:
            self._lock_connection.close()
        if self._file_lock is not None:
            self._file_lock.release()

    # --- jobs ----------------------------------------------------------------------------------

    async def _run_job(
        self, name: str, body: Callable[[], Coroutine[Any, Any, dict[str, Any]]]
    ) -> None:
        run_id = await asyncio.to_thread(self.store.start_run, name)
        try:
            counts = await body()
        except asyncio.CancelledError:
            await asyncio.to_thread(self.store.finish_run, run_id, "cancelled", {}, "stopped")
            raise
        except Exception as exc:
            logger.exception("job %s failed", name)
            await asyncio.to_thread(self.store.finish_run, run_id, "error", {}, repr(exc))
            return
        await asyncio.to_thread(self.store.finish_run, run_id, "ok", counts)
        logger.log(
            logging.INFO if any(counts.values()) else logging.DEBUG, "job %s done: %s", name, counts
        )

    async def _crawl_and_store(self, source: str) -> dict[str, Any]:
        silent = source == "syncfeed" and not await asyncio.to_thread(
            self.store.has_cursor, "syncfeed"
        )
        result = await jobs.crawl(self.config, source, self.store)
        if result is None:
            return {"source": source, "skipped": True}
        ingested = await asyncio.to_thread(jobs.ingest_file, self.store, result.path)
        processed = await asyncio.to_thread(jobs.process, self.store, silent)
        return {
            "source": source,
            "seconds": round(result.seconds, 2),
            "entities": ingested.entities,
            "unchanged": ingested.unchanged,
            "versions": ingested.versions,
            "problems": ingested.problems[:5],
            "corrections": processed.corrections,
            "lifecycle": processed.lifecycle,
            "silent": silent,
        }

    async def poll(self) -> None:
        """The feed first; then KOOP at once, so new answers get their text in the same cycle."""
        if self.config.sources.syncfeed.enabled:
            await self._run_job("syncfeed", lambda: self._crawl_and_store("syncfeed"))
        if self.config.sources.koop.enabled:
            await self._run_job("koop", lambda: self._crawl_and_store("koop"))
        await self.deliver()
        if self.hooks.after_cycle is not None:
            await self.hooks.after_cycle()

    async def deliver(self) -> None:
        """Drain the outbox; runs are recorded only when a message was due (it runs every second)."""
        if not self.notifiers:
            return
        try:
            async with self._delivering:
                if self.bot is not None:
                    admins = self.config.telegram.admin_chat_ids
                    await asyncio.to_thread(jobs.plan_source_alerts, self.store, admins)
                counts = await jobs.deliver(self.store, self.notifiers, self.config)
        except Exception:
            logger.exception("outbox delivery failed")
            return
        if any(counts.values()):
            await asyncio.to_thread(self._record_delivery, counts)

    def _record_delivery(self, counts: dict[str, int]) -> None:
        run_id = self.store.start_run("outbox")
        self.store.finish_run(run_id, "ok", dict(counts))

    # --- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.to_thread(schema.require_head, self.engine)
        await asyncio.to_thread(self._lock)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        now = dt.datetime.now(dt.UTC)
        scheduler.add_job(
            self.poll, "interval", seconds=self.config.sources.syncfeed.poll_interval,
            id="poll", next_run_time=now, jitter=None,
        )  # fmt: skip
        scheduler.add_job(
            self.deliver, "interval", seconds=self.config.alerts.outbox_interval, id="outbox"
        )
        web_task = None
        try:
            if self.bot is not None:
                await self.bot.start()
            scheduler.start()
            if self.web_enabled:
                app = create_app(self.store, self.config)
                self.web_server = _EmbeddedServer(
                    uvicorn.Config(
                        app, host=self.config.web.host, port=self.config.web.port,
                        log_level="warning", lifespan="off",
                    )
                )  # fmt: skip
                web_task = asyncio.create_task(self.web_server.serve())
            logger.info("daemon started")
            await self.stopping.wait()
            logger.info("daemon stopping")
        finally:
            scheduler.pause()
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)
            if self.bot is not None:
                try:
                    await self.bot.stop()
                except Exception:  # stopping must go on: the web server and locks still need it
                    logger.exception("stopping the telegram bot failed")
            if self.web_server is not None:
                self.web_server.should_exit = True
            if web_task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(web_task, 10)
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
            self._unlock()
            self.engine.dispose()
            logger.info("daemon stopped")
