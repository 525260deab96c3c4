"""Spider for the Tweede Kamer SyncFeed: one Atom page after another, per category.

Source:
    https://gegevensmagazijn.tweedekamer.nl/SyncFeed/2.0/Feed?category=<Category>&skiptoken=<n>
    (Atom 1.0; each entry carries the full current state of one entity in tkData v1-0 XML).

Caveats:
    The feed is an append-only log: the same entity recurs whenever it changes, and data repairs
    re-emit thousands of unchanged entities, so consumers upsert by GUID and compare state.
    Deleted entities arrive as tombstones (`verwijderd="true"`, no children). Attribute prefixes
    vary (`tk:`, `ns1:`), so parsing is namespace-aware and never by prefix. A page is only
    reported (as a `feed_page` record, which moves the cursor) after all its entries, and a page
    that cannot be parsed yields a `crawl_problem` instead, so the cursor never passes bad data.
    Entries have no sequence number of their own and their clocks are not strictly ordered (data
    repairs re-emit old entities), so a start date is located by bisecting skiptokens on the
    first entry's `updated` of each probed page: good enough to skip years, never used to order.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import scrapy
from lxml import etree
from scrapy.http import Response

from monitor.records import CrawlProblem, FeedEntity, FeedPage, FeedSeek
from spiders.base import KamerwachtSpider

ATOM = "http://www.w3.org/2005/Atom"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


class FeedError(ValueError):
    """Raised by `parse_feed` when a page is not a readable Atom feed."""


def _local(name: object) -> str:
    return name.rsplit("}", 1)[-1] if isinstance(name, str) else ""


def _attribute(element: etree._Element, local: str) -> str | None:
    for key, value in element.attrib.items():
        if _local(key) == local:
            return str(value)
    return None


def skiptoken_of(url: str | None) -> int | None:
    """The integer skiptoken in a feed URL, if any."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("skiptoken")
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError:
        return None


def parse_entity(element: etree._Element) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Fields (text children) and references (children with a `ref`) of one tkData entity."""
    fields: dict[str, str] = {}
    refs: dict[str, list[str]] = {}
    for child in element:
        name = _local(child.tag)
        if not name:
            continue
        ref = child.get("ref")
        if ref is not None:
            refs.setdefault(name, []).append(ref.lower())
            continue
        if _attribute(child, "nil") == "true":
            continue
        fields[name] = (child.text or "").strip()
    return fields, refs


def _feed_root(body: bytes) -> etree._Element:
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"not well-formed XML: {exc}") from exc
    if root is None or _local(root.tag) != "feed":
        raise FeedError("not an Atom feed")
    return root


def parse_feed(body: bytes, page_url: str, category: str) -> tuple[list[FeedEntity], str | None]:
    """All entities of one feed page, and the URL of the next page (None at the end)."""
    if not body.strip():
        raise FeedError("empty body")
    root = _feed_root(body)
    entities: list[FeedEntity] = []
    for entry in root.findall(f"{{{ATOM}}}entry"):
        content = entry.find(f"{{{ATOM}}}content")
        entity = next(iter(content), None) if content is not None else None
        title = (entry.findtext(f"{{{ATOM}}}title") or "").strip().lower()
        if entity is None:
            raise FeedError(f"entry {title or '?'} has no entity content")
        guid = (entity.get("id") or title).lower()
        deleted = (_attribute(entity, "verwijderd") or "false").lower() == "true"
        fields, refs = ({}, {}) if deleted else parse_entity(entity)
        for name in ("contentType", "contentLength"):
            value = None if deleted else _attribute(entity, name)
            if value is not None:
                fields[name] = value
        enclosure = next(
            (
                link.get("href")
                for link in entry.findall(f"{{{ATOM}}}link")
                if link.get("rel") == "enclosure"
            ),
            None,
        )
        entities.append(
            FeedEntity(
                category=category,
                guid=guid,
                updated=(entry.findtext(f"{{{ATOM}}}updated") or "").strip(),
                bijgewerkt=_attribute(entity, "bijgewerkt"),
                deleted=deleted,
                fields=fields,
                refs=refs,
                enclosure=enclosure,
                page_url=page_url,
                raw=etree.tostring(entity, encoding="unicode"),
            )
        )
    next_url = next(
        (link.get("href") for link in root.findall(f"{{{ATOM}}}link") if link.get("rel") == "next"),
        None,
    )
    return entities, next_url


def parse_marks(body: bytes) -> list[tuple[int | None, str]]:
    """(skiptoken of the entry's own `next` link, `updated`) of every entry on a page."""
    root = _feed_root(body)
    marks = []
    for entry in root.findall(f"{{{ATOM}}}entry"):
        link = next(
            (x.get("href") for x in entry.findall(f"{{{ATOM}}}link") if x.get("rel") == "next"),
            None,
        )
        marks.append((skiptoken_of(link), (entry.findtext(f"{{{ATOM}}}updated") or "").strip()))
    return marks


@dataclass
class Seek:
    """Bisection for the first skiptoken whose entries are at or after `since` (pure state).

    Gallops up from the first page until a probe lands past the date (or past the end of the
    feed), then halves the interval: about 2·log2(n / page) requests for n entries.

    >>> seek = Seek("2021-08-01")
    >>> seek.observe(None, [(10, "2019-01-01T00:00:00Z"), (11, "2019-01-02T00:00:00Z")])
    >>> seek.probe()
    1035
    """

    since: str
    lo: int | None = None
    hi: int | None = None
    step: int = 1024
    requests: int = 0
    found: int | None = None
    done: bool = False
    history: list[int] = field(default_factory=list)

    def observe(self, token: int | None, marks: list[tuple[int | None, str]]) -> None:
        """Record what the page after `token` (None: the first page) held."""
        self.requests += 1
        since = self.since
        if not marks and token is None:  # an empty feed
            self.found, self.done = None, True
            return
        if not marks:  # past the end of the feed
            self.hi = token if self.hi is None or (token or 0) < self.hi else self.hi
        elif marks[0][1] >= since:
            if token is None:  # the feed begins after the date: read it all
                self.found, self.done = None, True
                return
            self.hi = token if self.hi is None else min(self.hi, token)
        elif marks[-1][1] < since:
            last = marks[-1][0]
            self.lo = max(self.lo or 0, last if last is not None else (token or 0) + 1)
        else:  # the date falls inside this page
            before = [t for t, updated in marks if updated < since and t is not None]
            self.found, self.done = (before[-1] if before else token), True
            return
        if self.lo is not None and self.hi is not None and self.hi - self.lo <= 1:
            self.found, self.done = self.lo, True
        if self.lo is None and self.hi is not None:  # nothing before the date
            self.found, self.done = None, True

    def probe(self) -> int:
        """The next skiptoken to request."""
        assert self.lo is not None, "observe the first page before probing"
        if self.hi is None:
            token = self.lo + self.step
            self.step *= 2
        else:
            token = (self.lo + self.hi) // 2
        self.history.append(token)
        return token


@dataclass
class Progress:
    """Entries done, rate and time left for a long sync, judged by how far `updated` has come.

    >>> progress = Progress(started=0.0, since="2021-08-01T00:00:00Z")
    >>> progress.update(500, "2023-08-01T00:00:00Z")
    >>> progress.line("Document", now=10.0).split(", about")[0]
    'Document: 500 entries, 50/s, at 2023-08-01'
    """

    started: float
    since: str = ""
    entries: int = 0
    latest: str = ""
    shown: float = 0.0

    def update(self, entries: int, latest: str) -> None:
        self.entries += entries
        self.latest = latest or self.latest
        if not self.since:
            self.since = latest

    def line(self, category: str, now: float) -> str:
        elapsed = max(now - self.started, 1e-6)
        rate = self.entries / elapsed
        eta = ""
        fraction = _fraction(self.since, self.latest, now)
        if fraction is not None and 0 < fraction < 1:
            eta = f", about {_duration(elapsed * (1 - fraction) / fraction)} left"
        at = f", at {self.latest[:10]}" if self.latest else ""
        return f"{category}: {self.entries} entries, {rate:.0f}/s{at}{eta}"


def _fraction(since: str, latest: str, now: float) -> float | None:
    try:
        start = dt.datetime.fromisoformat(since.replace("Z", "+00:00")[:25]).timestamp()
        at = dt.datetime.fromisoformat(latest.replace("Z", "+00:00")[:25]).timestamp()
    except ValueError:
        return None
    total = time.time() - start
    return (at - start) / total if total > 0 else None


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class SyncFeedSpider(KamerwachtSpider):
    """Reads each category from its cursor to the end of the feed (or `max_pages`)."""

    name = "syncfeed"

    def __init__(
        self,
        *args: Any,
        base_url: str = "",
        categories: str = "Zaak,ZaakActor,Document,DocumentVersie",
        cursors: str = "{}",
        max_pages: str = "200",
        since: str = "",
        progress_every: str = "10",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.base_url = self.checked_url("base_url", base_url)
        self.categories = [c.strip() for c in categories.split(",") if c.strip()]
        parsed = self.json_argument("cursors", cursors)
        self.cursors: dict[str, str] = {
            str(k): self.checked_url(f"cursors.{k}", str(v)) for k, v in parsed.items()
        }
        self.max_pages = int(max_pages)
        self.pages_read: dict[str, int] = {}
        self.since = f"{since}T00:00:00Z" if len(since) == 10 else since
        self.progress_every = float(progress_every)
        self.progress: dict[str, Progress] = {}
        self.tty = sys.stderr.isatty()

    def first_url(self, category: str) -> str:
        return self.cursors.get(category) or (
            f"{self.base_url}/Feed?{urlencode({'category': category})}"
        )

    async def start(self) -> Any:
        for category in self.categories:
            if self.since and category not in self.cursors:
                seek = Seek(self.since)
                yield self.probe_request(category, seek, None)
                continue
            yield scrapy.Request(
                self.first_url(category), callback=self.parse_page, cb_kwargs={"category": category}
            )

    def feed_url(self, category: str, token: int | None) -> str:
        query = (
            {"category": category} if token is None else {"category": category, "skiptoken": token}
        )
        return f"{self.base_url}/Feed?{urlencode(query)}"

    def probe_request(self, category: str, seek: Seek, token: int | None) -> scrapy.Request:
        return scrapy.Request(
            self.feed_url(category, token),
            callback=self.parse_probe,
            cb_kwargs={"category": category, "seek": seek, "token": token},
            dont_filter=True,
        )

    def parse_probe(
        self, response: Response, category: str, seek: Seek, token: int | None
    ) -> Iterator[Any]:
        """One bisection step; when done, report the cursor and start reading from it."""
        try:
            marks = parse_marks(response.body)
        except FeedError as exc:
            yield self.item(CrawlProblem("syncfeed", response.url, f"while seeking: {exc}"))
            return
        seek.observe(token, marks)
        if not seek.done:
            yield self.probe_request(category, seek, seek.probe())
            return
        url = None if seek.found is None else self.feed_url(category, seek.found)
        self.logger.info(
            "%s: start date %s is at skiptoken %s, found in %d requests",
            category, self.since, seek.found, seek.requests,
        )  # fmt: skip
        yield self.item(FeedSeek(category, self.since, seek.found, url, seek.requests))
        if url is not None:
            yield self.item(FeedPage(category, response.url, url, seek.found, 0))
        self.progress[category] = Progress(time.monotonic(), self.since)
        yield scrapy.Request(
            url or self.first_url(category),
            callback=self.parse_page,
            cb_kwargs={"category": category},
            dont_filter=True,
        )

    def report(self, category: str, entities: list[FeedEntity], final: bool) -> None:
        """Progress of a long sync: a live line on a terminal, a log line every few seconds."""
        progress = self.progress.setdefault(category, Progress(time.monotonic()))
        progress.update(len(entities), entities[-1].updated if entities else "")
        now = time.monotonic()
        if self.tty:
            sys.stderr.write(
                "\r" + progress.line(category, now).ljust(78) + ("\n" if final else "")
            )
            sys.stderr.flush()
        elif final or now - progress.shown >= self.progress_every:
            progress.shown = now
            self.logger.info("progress %s", progress.line(category, now))

    def parse_page(self, response: Response, category: str) -> Iterator[Any]:
        try:
            entities, next_url = parse_feed(response.body, response.url, category)
        except FeedError as exc:
            self.logger.error("unreadable feed page %s: %s", response.url, exc)
            self.crawler.stats.inc_value("kamerwacht/unreadable_pages")
            yield self.item(CrawlProblem("syncfeed", response.url, str(exc)))
            return
        for entity in entities:
            yield self.item(entity)
        if next_url and not self.host_allowed(next_url) and self.allowed_hosts:
            yield self.item(
                CrawlProblem(
                    "syncfeed", response.url, f"next link leaves allowed hosts: {next_url}"
                )
            )
            next_url = None
        yield self.item(
            FeedPage(category, response.url, next_url, skiptoken_of(next_url), len(entities))
        )
        read = self.pages_read[category] = self.pages_read.get(category, 0) + 1
        more = bool(next_url and entities and read < self.max_pages)
        self.report(category, entities, final=not more)
        if more and next_url:
            yield response.follow(
                next_url, callback=self.parse_page, cb_kwargs={"category": category}
            )
