"""Units of work the scheduler runs: crawl (a subprocess), ingest, process, and outbox delivery."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from lxml import etree

from monitor import diff, notify, segment
from monitor.config import Config, topics_of
from monitor.notify import (
    Button,
    ChatGone,
    Notifier,
    QueuedMessage,
    Rejected,
    RetryLater,
    SubscriptionRecord,
)
from monitor.records import (
    ChangeRecord,
    CrawlProblem,
    CrawlRecord,
    ParsedDocument,
    ParseError,
    from_dict,
)
from monitor.store import IngestResult, PendingVersion, Planner, Store

logger = logging.getLogger(__name__)

CONSOLE_CHAT = 0
SOURCES = ("syncfeed", "files", "tweedekamer", "koop")
_KEEP_CRAWL_FILES = 50


class CrawlFailed(RuntimeError):
    """Raised by `crawl` when the spider process fails or exceeds its time limit."""


@dataclass(frozen=True, slots=True)
class CrawlResult:
    source: str
    path: Path
    returncode: int
    seconds: float
    log_tail: str


def scrapy_settings(config: Config) -> dict[str, str]:
    """Per-run Scrapy settings taken from the config (politeness, identity, limits)."""
    crawl = config.crawl
    return {
        "USER_AGENT": f"Kamerwacht/0.1 (+{crawl.contact})",
        "DOWNLOAD_DELAY": str(crawl.download_delay),
        "AUTOTHROTTLE_ENABLED": str(crawl.autothrottle),
        "AUTOTHROTTLE_START_DELAY": str(max(crawl.download_delay, 0.05)),
        "CONCURRENT_REQUESTS_PER_DOMAIN": str(crawl.concurrent_requests_per_domain),
        "DOWNLOAD_TIMEOUT": str(int(crawl.timeout)),
        "RETRY_TIMES": str(crawl.retry_times),
        "ROBOTSTXT_OBEY": str(crawl.obey_robots_txt),
        "CLOSESPIDER_TIMEOUT": str(int(crawl.crawl_timeout)),
    }


def spider_arguments(
    config: Config, source: str, store: Store, since: str | None = None
) -> dict[str, str] | None:
    """Arguments for one source's spider, or None when there is nothing to crawl.

    `since` (a date) overrides `[sources.syncfeed] start_date` for categories without a cursor.
    """
    hosts = ",".join(config.allowed_hosts)
    if source == "syncfeed":
        feed = config.sources.syncfeed
        return {
            "base_url": feed.base_url,
            "categories": ",".join(feed.categories),
            "cursors": json.dumps(store.cursors("syncfeed")),
            "max_pages": str(feed.max_pages),
            "since": since or feed.start_date,
            "allowed_hosts": hosts,
        }
    if source == "files":
        documents = store.files_to_fetch()
        if not documents:
            return None
        return {"documents": json.dumps(documents), "allowed_hosts": hosts}
    if source == "tweedekamer":
        tk = config.sources.tweedekamer
        pages = store.tk_pages_to_fetch(tk.recheck_days)
        if not pages and tk.listing_pages <= 0:
            return None
        return {
            "base_url": tk.base_url,
            "pages": json.dumps(pages),
            "listing_pages": str(tk.listing_pages),
            "allowed_hosts": hosts,
        }
    if source == "koop":
        koop = config.sources.koop
        store.assign_question_koop_ids()
        wanted = store.koop_ids_to_fetch(
            koop.recheck_days,
            first_interval=dt.timedelta(seconds=koop.poll_interval),
            max_interval=dt.timedelta(hours=koop.missing_max_interval_hours),
            limit=koop.missing_recheck_limit,
        )
        window = koop.sru_window_days
        if not wanted.ids and not (wanted.waiting and window > 0):
            return None
        modified = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=window)
        last = store.last_success("koop")
        if last is not None:
            # After an outage the search must reach back to the last good KOOP poll, or a
            # correction published while we were down would never be listed.
            modified = min(modified, last.date() - dt.timedelta(days=1))
        return {
            "ids": ",".join(sorted(wanted.ids)),
            "waiting": ",".join(wanted.waiting) if window > 0 else "",
            "validators": json.dumps(wanted.ids),
            "repository_url": koop.repository_url,
            "zoek_url": koop.zoek_url,
            "sru_url": koop.sru_url if window > 0 else "",
            "modified_since": modified.isoformat() if window > 0 else "",
            "allowed_hosts": hosts,
        }
    raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")


_ARGUMENT_LIMIT = 32_000  # bytes; Linux refuses to start a program with any argument over 128 KiB


def spill_arguments(arguments: Mapping[str, str], path: Path) -> dict[str, str]:
    """Move long spider arguments (thousands of KOOP ids and their validators) into a JSON file
    the spider reads (`arguments_file`), so a big archive cannot make the crawl fail to start."""
    large = {k: v for k, v in arguments.items() if len(v.encode()) > _ARGUMENT_LIMIT}
    if not large:
        return dict(arguments)
    path.write_text(json.dumps(large), encoding="utf-8")
    small = {k: v for k, v in arguments.items() if k not in large}
    return small | {"arguments_file": str(path)}


def crawl_command(
    source: str, arguments: Mapping[str, str], settings: Mapping[str, str], out: Path
) -> list[str]:
    command = [sys.executable, "-m", "scrapy", "crawl", source, "-O", f"{out}:jsonlines"]
    for key, value in arguments.items():
        command += ["-a", f"{key}={value}"]
    for key, value in settings.items():
        command += ["-s", f"{key}={value}"]
    return command


async def crawl(
    config: Config, source: str, store: Store, since: str | None = None, progress: bool = False
) -> CrawlResult | None:
    """Run one source's spider as a child process writing JSON Lines; None if nothing to do.

    With `progress` the spider's log (and progress line) goes to our standard error as it runs.
    """
    arguments = await asyncio.to_thread(spider_arguments, config, source, store, since)
    if arguments is None:
        return None
    folder = config.data_path / "crawls"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    out = folder / f"{source}-{stamp}.jsonl"
    env = dict(os.environ, SCRAPY_SETTINGS_MODULE="spiders.settings", PYTHONUNBUFFERED="1")
    started = asyncio.get_running_loop().time()
    spilled = out.with_suffix(".arguments.json")
    arguments = spill_arguments(arguments, spilled)
    try:
        process = await asyncio.create_subprocess_exec(
            *crawl_command(source, arguments, scrapy_settings(config), out),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=None if progress else asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        try:
            _, stderr = await asyncio.wait_for(
                process.communicate(), config.crawl.crawl_timeout + 30
            )
        except (TimeoutError, asyncio.CancelledError):
            process.kill()
            await process.wait()
            raise
    finally:
        spilled.unlink(missing_ok=True)
    seconds = asyncio.get_running_loop().time() - started
    tail = (stderr or b"").decode("utf-8", "replace")[-3000:]
    _prune(folder, source)
    if process.returncode != 0:
        raise CrawlFailed(f"{source} crawl exited with {process.returncode}: {tail[-500:]}")
    return CrawlResult(source, out, process.returncode, seconds, tail)


_ATOM_ENTRY = "{http://www.w3.org/2005/Atom}entry"


async def feed_is_idle(config: Config, store: Store) -> bool:
    """True when every SyncFeed category's cursor page has no entries: the poll can skip the
    Scrapy subprocess (about a second of CPU). One GET per category, same identity and allow-list
    as the spider. Anything unexpected (no cursor, an error, an unreadable page) answers False, so
    the real crawl runs and reports it: the probe can save work, never hide a problem."""
    feed = config.sources.syncfeed
    cursors = await asyncio.to_thread(store.cursors, "syncfeed")
    urls = [cursors.get(category) for category in feed.categories]
    allowed = set(config.allowed_hosts)
    if not urls or any(u is None or urlsplit(u).hostname not in allowed for u in urls):
        return False
    headers = {"User-Agent": scrapy_settings(config)["USER_AGENT"]}
    try:
        async with httpx.AsyncClient(headers=headers, timeout=config.crawl.timeout) as client:
            for url in urls:
                assert url is not None
                response = await client.get(url)
                if response.status_code != 200:
                    return False
                root = etree.fromstring(response.content)
                if root.find(_ATOM_ENTRY) is not None:
                    return False
    except (httpx.HTTPError, etree.XMLSyntaxError, ValueError):
        return False
    return True


async def crawl_unless_idle(config: Config, source: str, store: Store) -> CrawlResult | None:
    """`crawl`, except that a SyncFeed poll with nothing new ends after the cheap probe."""
    if source == "syncfeed" and await feed_is_idle(config, store):
        return None
    return await crawl(config, source, store)


def _prune(folder: Path, source: str) -> None:
    files = sorted(folder.glob(f"{source}-*.jsonl"))
    for old in files[:-_KEEP_CRAWL_FILES]:
        old.unlink(missing_ok=True)


def read_records(path: Path) -> Iterator[CrawlRecord]:
    """Records of a JSON Lines crawl file; an unreadable line becomes a `CrawlProblem`."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield from_dict(json.loads(line))
            except (json.JSONDecodeError, ParseError) as exc:
                yield CrawlProblem("ingest", f"{path.name}:{number}", f"unreadable record: {exc}")


def ingest_file(store: Store, path: Path, silent: bool = False) -> IngestResult:
    return store.ingest(read_records(path), silent=silent)


@dataclass(frozen=True, slots=True)
class ProcessResult:
    parsed: int
    unparseable: int
    corrections: int
    lifecycle: int


def process(store: Store, silent: bool = False) -> ProcessResult:
    """Resolve feed entities into the lifecycle, then parse and diff every pending version."""
    lifecycle_changes = store.resolve(silent=silent)
    parsed = unparseable = corrections = 0
    while True:
        batch = store.pending_versions()
        if not batch:
            break
        for pending in batch:
            outcome = _process_version(store, pending, silent)
            if outcome is None:
                unparseable += 1
            else:
                parsed += 1
                corrections += outcome
    return ProcessResult(parsed, unparseable, corrections, len(lifecycle_changes))


def _process_version(store: Store, pending: PendingVersion, silent: bool) -> int | None:
    try:
        parsed = segment.parse(pending.body, pending.rendition, pending.koop_id)
    except ParseError as exc:
        # A parse failure is recorded for review; it never looks like a deleted answer.
        logger.warning("version %s of %s is unparseable: %s", pending.id, pending.koop_id, exc)
        store.mark_unparseable(pending.id, str(exc))
        return None
    if not parsed.questions and not parsed.answers:
        store.mark_unparseable(pending.id, "no numbered questions or answers found")
        return None
    content_hash = hashlib.sha256(
        json.dumps(
            [[i.role, i.numbers, i.paragraphs] for i in (*parsed.questions, *parsed.answers)]
        ).encode()
    ).hexdigest()
    corrections = []
    base = store.comparison_base(pending)
    if base is not None:
        base_id, body, rendition, carry = base
        found = _correction(segment.parse(body, rendition, ""), parsed, carry, base_id, pending.id)
        if found is not None:
            corrections.append(found)
    for later_id, body, rendition in store.later_amendments(pending):
        later = segment.parse(body, rendition, "")
        found = _correction(parsed, later, True, pending.id, later_id)
        if found is not None:
            corrections.append(found)
    return len(store.save_parsed(pending, parsed, content_hash, corrections, silent))


def _correction(
    old: ParsedDocument, new: ParsedDocument, carry: bool, base_id: int, version_id: int
) -> dict[str, Any] | None:
    result = diff.compare(old, new, carry_forward=carry)
    if not result.changed:
        return None
    summary = "; ".join(
        f"question {q.number}: {', '.join(k.value for k in q.kinds) or q.status}"
        for q in result.changed
    )
    return {
        "base_version_id": base_id,
        "version_id": version_id,
        "severity": result.max_severity.value,
        "kinds": [k.value for k in result.kinds],
        "summary": summary,
        "detail": {"diff": result.to_json(), "base_version_id": base_id, "version_id": version_id},
    }


def make_planner(config: Config, telegram: bool) -> Planner:
    """Decide the outbox rows for a new change: Telegram subscribers, and the console if enabled."""
    topics = topics_of(config)

    def plan(
        change: ChangeRecord, fields: dict[str, str], subscriptions: list[SubscriptionRecord]
    ) -> list[tuple[str, int, list[str]]]:
        out: list[tuple[str, int, list[str]]] = []
        if telegram:
            # Recipients are planned in the change's own transaction: a crash loses nothing.
            for recipient in notify.recipients(change, fields, subscriptions, topics):
                parts = notify.render(change, config.web.public_url, recipient.reason)
                out.append(("telegram", recipient.chat_id, parts))
        if config.alerts.console and not telegram:
            out.append(("console", CONSOLE_CHAT, notify.render(change, config.web.public_url)))
        return out

    return plan


class ConsoleNotifier:
    """Prints alerts to standard output: the notifier used when no Telegram token is configured."""

    def __init__(self, stream: object = None) -> None:
        self.stream = stream or sys.stdout

    async def send(self, chat_id: int, text: str, buttons: Sequence[Button] = ()) -> None:
        write = getattr(self.stream, "write")  # noqa: B009 (any text stream)
        write("\n=== Kamerwacht alert ===\n" + notify.plain(text) + "\n")
        flush = getattr(self.stream, "flush", None)
        if flush:
            flush()


DIGEST_PERIOD = dt.timedelta(days=1)
_DELIVERY_BUDGET = 50.0  # seconds one delivery run may take before leaving the rest to the next


async def deliver(
    store: Store,
    notifiers: Mapping[str, Notifier],
    config: Config | None = None,
    limit: int = 500,
    concurrency: int = 16,
) -> dict[str, int]:
    """Send due outbox messages, in order per chat, several chats at a time.

    Muted chats are held until the mute ends; digest chats get one message per period; more
    than `[alerts] max_per_run` alerts for one chat become one summary. Flood control defers
    without counting an attempt; network errors are retried with back-off; a chat that blocked
    the bot is deactivated; a message the channel refuses for good is given up ("dead").
    """
    config = config or Config()
    counts = {"sent": 0, "failed": 0}  # other outcomes appear when they happen
    started = asyncio.get_running_loop().time()
    for channel, notifier in notifiers.items():
        while asyncio.get_running_loop().time() - started < _DELIVERY_BUDGET:
            batch = await asyncio.to_thread(store.due_queue, channel, limit)
            if not batch:
                break
            collapsed = counts.get("collapsed", 0)
            plan = await asyncio.to_thread(_shape, store, channel, batch, config, counts)
            gate = asyncio.Semaphore(concurrency)
            await asyncio.gather(
                *(
                    _send_chat(store, notifier, messages, config, gate, counts)
                    for messages in plan.values()
                )
            )
            if len(batch) < limit and counts.get("collapsed", 0) == collapsed:
                break  # nothing left; new summaries are sent by one more pass
    return counts


def _count(counts: dict[str, int], outcome: str, n: int) -> None:
    counts[outcome] = counts.get(outcome, 0) + n


def _shape(
    store: Store,
    channel: str,
    batch: list[QueuedMessage],
    config: Config,
    counts: dict[str, int],
) -> dict[int, list[QueuedMessage]]:
    """Group due messages by chat, holding muted and digest chats and collapsing bursts.

    Returns the messages to send now; collapsed summaries are written to the outbox (and sent
    on the next pass), so a crash cannot lose or double them.
    """
    now = dt.datetime.now(dt.UTC)
    by_chat: dict[int, list[QueuedMessage]] = {}
    for message in batch:
        by_chat.setdefault(message.chat_id, []).append(message)
    ready: dict[int, list[QueuedMessage]] = {}
    for chat_id, messages in by_chat.items():
        first = messages[0]
        alerts = [m for m in messages if m.change_id is not None]
        if first.muted_until is not None and first.muted_until > now:
            store.defer_messages([m.id for m in messages], first.muted_until, "chat muted")
            _count(counts, "deferred", len(messages))
            continue
        if first.digest and alerts:
            due_at = (first.digest_sent_at or now) + DIGEST_PERIOD
            if first.digest_sent_at is not None and due_at > now:
                store.defer_messages([m.id for m in alerts], due_at, "waiting for the digest")
                _count(counts, "deferred", len(alerts))
            else:
                _collapse(
                    store, channel, chat_id, alerts, config, "digest", "Your Kamerwacht digest"
                )
                store.mark_digest_sent(chat_id)
                _count(counts, "collapsed", len(alerts))
            messages = [m for m in messages if m.change_id is None]
        else:
            fresh = {m.change_id for m in alerts if m.attempts == 0}
            if len(fresh) > config.alerts.max_per_run:
                burst = [m for m in alerts if m.attempts == 0]
                heading = f"{len(fresh)} new alerts at once"
                _collapse(store, channel, chat_id, burst, config, "burst", heading)
                _count(counts, "collapsed", len(burst))
                gone = {m.id for m in burst}
                messages = [m for m in messages if m.id not in gone]
        if messages:
            ready[chat_id] = messages
    return ready


def _collapse(
    store: Store,
    channel: str,
    chat_id: int,
    messages: list[QueuedMessage],
    config: Config,
    kind: str,
    heading: str,
) -> None:
    ids = sorted({m.change_id for m in messages if m.change_id is not None})
    changes = sorted(store.change_records(ids, limit=len(ids)), key=lambda c: c.id)
    text = notify.summarize(heading, changes, config.web.public_url)
    key = f"{kind}:{chat_id}:{max(m.id for m in messages)}"
    store.collapse_messages(channel, chat_id, [m.id for m in messages], key, text)


async def _send_chat(
    store: Store,
    notifier: Notifier,
    messages: list[QueuedMessage],
    config: Config,
    gate: asyncio.Semaphore,
    counts: dict[str, int],
) -> None:
    """One chat's messages in order; the first failure holds back the rest, keeping the order."""
    async with gate:
        for index, message in enumerate(messages):
            rest = [m.id for m in messages[index:]]
            buttons = (
                notify.buttons(message.change_id, message.question_set, config.web.public_url)
                if message.first_part
                else []
            )
            try:
                await notifier.send(message.chat_id, message.text, buttons)
            except RetryLater as exc:
                if exc.after is not None:
                    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=exc.after)
                    await asyncio.to_thread(store.defer_messages, rest, until, str(exc))
                    _count(counts, "deferred", len(rest))
                else:
                    await _failed(store, message, str(exc), config, counts, rest[1:])
                return
            except ChatGone as exc:
                await asyncio.to_thread(store.deactivate_chat, message.chat_id, str(exc))
                logger.info("chat %s is gone (%s): deactivated", message.chat_id, exc)
                _count(counts, "blocked", 1)
                return
            except Rejected as exc:
                logger.error("outbox message %s refused for good: %s", message.id, exc)
                await asyncio.to_thread(store.mark_failed, message.id, str(exc), None)
                counts["failed"] += 1
                continue
            except Exception as exc:  # any other notifier failure: keep the message, retry later
                logger.warning("sending outbox message %s failed: %r", message.id, exc)
                await _failed(store, message, repr(exc), config, counts, rest[1:])
                return
            await asyncio.to_thread(store.mark_sent, message.id)
            counts["sent"] += 1


async def _failed(
    store: Store,
    message: QueuedMessage,
    error: str,
    config: Config,
    counts: dict[str, int],
    behind: list[int],
) -> None:
    """Back off a failed message; the chat's later messages wait as long, to keep their order."""
    attempts = message.attempts + 1
    retry = (
        min(3600.0, 5.0 * 2**message.attempts) if attempts < config.alerts.max_attempts else None
    )
    await asyncio.to_thread(store.mark_failed, message.id, error, retry)
    counts["failed"] += 1
    if retry is not None and behind:
        until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=retry)
        note = "waiting for an earlier message"
        await asyncio.to_thread(store.defer_messages, behind, until, note)
