"""The composition root: one asyncio loop hosting the scheduler, the outbox sender and the web app."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from filelock import FileLock, Timeout
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from monitor import bot, health, jobs, schema, status
from monitor.config import Config
from monitor.notify import Notifier
from monitor.store import Store
from monitor.web import create_app

logger = logging.getLogger(__name__)

_PG_LOCK_KEY = 0x4B414D45  # "KAME": one advisory lock id for every Kamerwacht daemon
_STOP_GRACE = 60.0  # seconds running jobs get to finish their database writes on shutdown


class AlreadyRunning(RuntimeError):
    """Raised by `DatabaseLock.acquire` when another daemon already holds this database's lock."""


class SourceTrouble(RuntimeError):
    """Raised inside a crawl job when the crawl ran but the source gave no usable answer."""


class DatabaseLock:
    """One writer per database: a file lock beside a SQLite database, an advisory lock on PostgreSQL.

    Both are released by the operating system or the server when the process dies, so a crash
    never leaves a stale lock behind.
    """

    def __init__(self, engine: Engine, data_path: Path) -> None:
        self.engine = engine
        self.data_path = data_path
        self._connection: Connection | None = None
        self._file_lock: FileLock | None = None

    def acquire(self) -> None:
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect()
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_LOCK_KEY}
            ).scalar()
            connection.commit()
            if not got:
                connection.close()
                raise AlreadyRunning(
                    "another Kamerwacht daemon is already running on this PostgreSQL database "
                    "(advisory lock held); stop it first"
                )
            self._connection = connection
            return
        self.data_path.mkdir(parents=True, exist_ok=True)
        path = self.data_path / "kamerwacht.lock"
        lock = FileLock(str(path))
        try:
            lock.acquire(timeout=0)
        except Timeout as exc:
            raise AlreadyRunning(
                f"another Kamerwacht daemon is already running on this database (lock {path} "
                "is held); stop it first"
            ) from exc
        self._file_lock = lock

    def release(self) -> None:
        if self._connection is not None:
            # Session locks outlive a pooled connection's close(): unlock explicitly.
            with contextlib.suppress(Exception):
                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                self._connection.commit()
            self._connection.close()
            self._connection = None
        if self._file_lock is not None:
            self._file_lock.release()
            self._file_lock = None


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the daemon owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Service(Protocol):
    """Something long-running on the daemon's loop besides the scheduler (web app, Telegram bot)."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class WebService:
    """The web app under uvicorn, embedded in the daemon's loop."""

    name = "web"

    def __init__(self, store: Store, config: Config) -> None:
        self.server = _EmbeddedServer(
            uvicorn.Config(
                create_app(store, config), host=config.web.host, port=config.web.port,
                log_level="warning", lifespan="off",
            )
        )  # fmt: skip
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started and not self.task.done():
            await asyncio.sleep(0.02)
        if self.task.done():
            self.task.result()  # raises the reason it could not start

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 10)


@dataclass
class DaemonHooks:
    """Optional callbacks for the demo and tests; the daemon works without them."""

    after_cycle: Callable[[], Coroutine[Any, Any, None]] | None = None
    notifiers: Mapping[str, Notifier] = field(default_factory=dict)


def _jitter(interval: float) -> float:
    # Spreads the load of many installations; small enough that intervals stay recognisable.
    return min(interval * 0.1, 30.0)


class Daemon:
    """Runs every job on its schedule until SIGTERM/SIGINT or `stop()`.

    Extra long-running parts (the Telegram bot) are a `Service` appended to `services`: they are
    started after the scheduler and stopped before it. A notifier registered in `notifiers` under
    a channel name receives that channel's outbox messages, operator alerts included.
    """

    def __init__(self, config: Config, hooks: DaemonHooks | None = None, web: bool = True) -> None:
        self.config = config
        self.hooks = hooks or DaemonHooks()
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
        self.lock = DatabaseLock(self.engine, config.data_path)
        # Started in this order after the scheduler, stopped in reverse order before it.
        self.services: list[Service] = []
        self.web_server: _EmbeddedServer | None = None
        if web and config.web.enabled:
            web_service = WebService(self.store, config)
            self.web_server = web_service.server
            self.services.append(web_service)
        if self.bot is not None:
            self.services.append(self.bot)
        self.started_at: dt.datetime | None = None
        # One writer: ingest and process of different sources never overlap.
        self._writer = asyncio.Lock()
        self._texts_lock = asyncio.Lock()
        # The first feed poll after a start always runs the text sources: a text crawl the
        # previous process was killed in would otherwise wait a whole KOOP interval.
        self._texts_due = True
        self._active: set[asyncio.Task[Any]] = set()
        self._crawls: set[asyncio.Task[Any]] = set()

    def stop(self) -> None:
        self.stopping.set()

    # --- jobs ----------------------------------------------------------------------------------

    async def _run_job(
        self, name: str, body: Callable[[], Coroutine[Any, Any, dict[str, Any]]]
    ) -> dict[str, Any] | None:
        """Run one job and record it (start, end, counts, error summary) for health checks."""
        run_id = await asyncio.to_thread(self.store.start_run, name)
        started = asyncio.get_running_loop().time()
        try:
            counts = await body()
        except asyncio.CancelledError:
            await asyncio.to_thread(self.store.finish_run, run_id, "cancelled", {}, "stopped")
            logger.info("job=%s status=cancelled reason=shutdown", name)
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            return None
        except SourceTrouble as exc:
            await asyncio.to_thread(self.store.finish_run, run_id, "error", {}, str(exc))
            logger.warning("job=%s status=error error=%r", name, str(exc))
            return None
        except Exception as exc:
            summary = f"{type(exc).__name__}: {exc}"
            await asyncio.to_thread(self.store.finish_run, run_id, "error", {}, summary)
            logger.error("job=%s status=error error=%r", name, summary[:500])
            logger.debug("job %s traceback", name, exc_info=True)
            return None
        await asyncio.to_thread(self.store.finish_run, run_id, "ok", counts)
        seconds = asyncio.get_running_loop().time() - started
        logger.log(
            logging.INFO if any(v for k, v in counts.items() if k != "source") else logging.DEBUG,
            "job=%s status=ok seconds=%.2f %s",
            name,
            seconds,
            " ".join(f"{k}={v}" for k, v in counts.items() if k != "source"),
        )
        return counts

    async def _tracked(self, body: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Run a scheduled job so that shutdown can wait for it instead of cancelling it."""
        if self.stopping.is_set():
            return
        task = asyncio.current_task()
        assert task is not None
        self._active.add(task)
        try:
            await body()
        finally:
            self._active.discard(task)

    async def _crawl_and_store(self, source: str) -> dict[str, Any]:
        silent = source == "syncfeed" and not await asyncio.to_thread(
            self.store.has_cursor, "syncfeed"
        )
        # The crawl alone is cancellable: shutdown stops the child process, never a write.
        crawl = asyncio.create_task(jobs.crawl_unless_idle(self.config, source, self.store))
        self._crawls.add(crawl)
        try:
            result = await crawl
        finally:
            self._crawls.discard(crawl)
        if result is None:
            # Nothing new upstream; still finish what an interrupted run left (a crash between
            # ingest and process), or it would wait for the next upstream change.
            async with self._writer:
                processed = await asyncio.to_thread(jobs.process, self.store, silent)
            return {
                "source": source,
                "skipped": True,
                "corrections": processed.corrections,
                "lifecycle": processed.lifecycle,
            }
        async with self._writer:
            ingested = await asyncio.to_thread(jobs.ingest_file, self.store, result.path)
            processed = await asyncio.to_thread(jobs.process, self.store, silent)
        counts = {
            "source": source,
            "crawl_seconds": round(result.seconds, 2),
            "pages": ingested.pages,
            "entities": ingested.entities,
            "unchanged": ingested.unchanged,
            "versions": ingested.versions,
            "problems": ingested.problems[:5],
            "corrections": processed.corrections,
            "lifecycle": processed.lifecycle,
            "silent": silent,
        }
        if source == "syncfeed" and ingested.pages == 0:
            # HTTP errors end a Scrapy crawl normally, with nothing read: that is not a success.
            problem = "; ".join(ingested.problems[:3]) or "no feed page could be read"
            raise SourceTrouble(f"syncfeed: {problem}")
        return counts

    async def poll_syncfeed(self) -> None:
        counts = await self._run_job("syncfeed", lambda: self._crawl_and_store("syncfeed"))
        if counts is not None and (counts.get("entities") or self._texts_due):
            self._texts_due = False
            # Lifecycle alerts (new questions, an answer published) go out before the slower
            # text crawls; the texts then follow in the same cycle.
            await self.deliver()
            await self.poll_texts()
        else:
            await self._after_cycle()

    def _text_sources(self) -> list[str]:
        """The sources that fetch document texts, in the order a new answer needs them: the
        file and the tweedekamer.nl page on day one, the KOOP publication when it appears."""
        sources = self.config.sources
        enabled = {
            "files": sources.files.enabled,
            "tweedekamer": sources.tweedekamer.enabled,
            "koop": sources.koop.enabled,
        }
        return [s for s in jobs.SOURCES if enabled.get(s)]

    async def poll_texts(self) -> None:
        # Run by its own schedule and right after a feed poll that saw changes; never both at once.
        async with self._texts_lock:
            if self.stopping.is_set():
                return
            for source in self._text_sources():
                await self._run_job(source, lambda s=source: self._crawl_and_store(s))  # type: ignore[misc]
            await self._after_cycle()

    async def poll(self) -> None:
        """One full cycle at once: the feed, then every text source, then delivery."""
        if self.config.sources.syncfeed.enabled:
            await self._run_job("syncfeed", lambda: self._crawl_and_store("syncfeed"))
        for source in self._text_sources():
            await self._run_job(source, lambda s=source: self._crawl_and_store(s))  # type: ignore[misc]
        await self.deliver()

    async def _after_cycle(self) -> None:
        await self.deliver()
        if self.hooks.after_cycle is not None:
            await self.hooks.after_cycle()

    async def deliver(self) -> None:
        """Drain the outbox; runs are recorded only when a message was due (it runs every second)."""
        if not self.notifiers:
            return
        try:
            async with self._delivering:
                counts = await jobs.deliver(self.store, self.notifiers, self.config)
        except Exception as exc:
            logger.error("job=outbox status=error error=%r", f"{type(exc).__name__}: {exc}")
            return
        if any(counts.values()):
            await asyncio.to_thread(self._record_delivery, counts)
            logger.info("job=outbox status=ok sent=%d failed=%d", counts["sent"], counts["failed"])

    def _record_delivery(self, counts: dict[str, int]) -> None:
        run_id = self.store.start_run("outbox")
        self.store.finish_run(run_id, "ok", dict(counts))

    async def check_overdue(self) -> None:
        """Alert followers of questions past their deadline, unless the feed itself is stale
        (then a missing answer may simply not have been read yet)."""
        report = await asyncio.to_thread(
            status.current, self.store, self.config, None, self.started_at
        )
        if "source:syncfeed" in report.problems():
            return
        today = dt.datetime.now(dt.UTC).date()
        async with self._writer:  # deadlines older than max_age_days are stored silently
            new = await asyncio.to_thread(self.store.record_overdue, today)
        if new:
            logger.info("job=overdue status=ok new=%d", len(new))

    # --- health --------------------------------------------------------------------------------

    def operator_chats(self) -> list[tuple[str, int]]:
        """Where operator alerts go: the admin chats on Telegram, and the console if it is on."""
        chats: list[tuple[str, int]] = []
        if "telegram" in self.notifiers:
            chats += [("telegram", chat) for chat in self.config.telegram.admin_chat_ids]
        if "console" in self.notifiers:
            chats.append(("console", jobs.CONSOLE_CHAT))
        return chats

    async def check_health(self) -> None:
        """Queue one operator alert when a subject turns unhealthy and one when it recovers."""
        report = await asyncio.to_thread(
            status.current, self.store, self.config, None, self.started_at
        )
        incidents = await asyncio.to_thread(self.store.open_incidents)
        for change in health.transitions(report, incidents):
            text = health.operator_message(change, report.checked_at, incidents.get(change.subject))
            messages = [(channel, chat, text) for channel, chat in self.operator_chats()]
            recorded = await asyncio.to_thread(
                self.store.record_incident, change.subject, change.onset, change.reason, messages
            )
            if recorded and change.onset:
                logger.warning("health=onset subject=%s reason=%r", change.subject, change.reason)
            elif recorded:
                logger.info("health=recovered subject=%s", change.subject)

    # --- lifecycle -----------------------------------------------------------------------------

    def _schedule(self, scheduler: AsyncIOScheduler) -> None:
        """Every job, with its interval from config; the feed runs at once on start."""
        now = dt.datetime.now(dt.UTC)
        sources = self.config.sources
        intervals = status.source_intervals(self.config)

        def add(job_id: str, body: Callable[[], Coroutine[Any, Any, Any]], seconds: float,
                first: dt.datetime | None, jitter: float | None = None) -> None:  # fmt: skip
            scheduler.add_job(
                self._tracked, "interval", args=[body], seconds=seconds, id=job_id, name=job_id,
                next_run_time=first, jitter=jitter, replace_existing=True,
            )  # fmt: skip

        if sources.syncfeed.enabled:
            interval = sources.syncfeed.poll_interval
            add("syncfeed", self.poll_syncfeed, interval, now, _jitter(interval))
        if sources.koop.enabled:
            interval = sources.koop.poll_interval
            # With the feed on, the feed's first poll runs KOOP right after itself.
            first = now + dt.timedelta(seconds=interval) if sources.syncfeed.enabled else now
            add("texts", self.poll_texts, interval, first, _jitter(interval))
        add("outbox", self.deliver, self.config.alerts.outbox_interval, None)
        if sources.syncfeed.enabled:
            # Deadlines are days; hourly is plenty. The first check waits for the first poll.
            every = max(3600.0, sources.syncfeed.poll_interval)
            add("overdue", self.check_overdue, every, now + dt.timedelta(seconds=every / 60))
        if intervals:
            check = min(60.0, max(1.0, min(intervals.values()) / 2))
            add("health", self.check_health, check, now + dt.timedelta(seconds=check))

    async def _stop_jobs(self) -> None:
        """Stop crawl child processes, then let jobs finish the writes they are in the middle of."""
        for crawl in list(self._crawls):
            crawl.cancel()
        if self._active:
            _, late = await asyncio.wait(set(self._active), timeout=_STOP_GRACE)
            if late:
                logger.warning(
                    "shutdown: %d job(s) still running after %.0f s", len(late), _STOP_GRACE
                )

    async def run(self) -> None:
        await asyncio.to_thread(schema.require_head, self.engine)
        await asyncio.to_thread(self.lock.acquire)
        self.started_at = dt.datetime.now(dt.UTC)
        # Recorded so `status` and `/healthz` in other processes know when polling began.
        daemon_run = await asyncio.to_thread(self.store.start_run, status.DAEMON_JOB)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        self._schedule(scheduler)
        started: list[Service] = []
        try:
            scheduler.start()
            for service in self.services:  # the web app, and the Telegram bot when configured
                await service.start()
                started.append(service)
                logger.info("service=%s status=started", service.name)
            logger.info("daemon=started database=%s", self.engine.dialect.name)
            await self.stopping.wait()
            logger.info("daemon=stopping")
        finally:
            self.stopping.set()
            scheduler.pause()
            await self._stop_jobs()
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)
            for service in reversed(started):
                try:
                    await service.stop()
                except Exception as exc:
                    logger.error("service=%s status=stop-failed error=%r", service.name, str(exc))
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
            with contextlib.suppress(Exception):  # the database may be what failed
                await asyncio.to_thread(self.store.finish_run, daemon_run, "ok", {})
            self.lock.release()
            self.engine.dispose()
            logger.info("daemon=stopped")
