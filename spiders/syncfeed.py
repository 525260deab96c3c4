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
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import scrapy
from lxml import etree
from scrapy.http import Response

from monitor.records import CrawlProblem, FeedEntity, FeedPage
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


def parse_feed(body: bytes, page_url: str, category: str) -> tuple[list[FeedEntity], str | None]:
    """All entities of one feed page, and the URL of the next page (None at the end)."""
    if not body.strip():
        raise FeedError("empty body")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"not well-formed XML: {exc}") from exc
    if root is None or _local(root.tag) != "feed":
        raise FeedError("not an Atom feed")
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
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.base_url = self.checked_url("base_url", base_url)
        self.categories = [c.strip() for c in categories.split(",") if c.strip()]
        try:
            parsed = json.loads(cursors)
        except json.JSONDecodeError as exc:
            raise ValueError(f"cursors: not JSON ({exc})") from exc
        self.cursors: dict[str, str] = {
            str(k): self.checked_url(f"cursors.{k}", str(v)) for k, v in parsed.items()
        }
        self.max_pages = int(max_pages)
        self.pages_read: dict[str, int] = {}

    def first_url(self, category: str) -> str:
        return self.cursors.get(category) or (
            f"{self.base_url}/Feed?{urlencode({'category': category})}"
        )

    async def start(self) -> Any:
        for category in self.categories:
            yield scrapy.Request(
                self.first_url(category), callback=self.parse_page, cb_kwargs={"category": category}
            )

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
        if next_url and entities and read < self.max_pages:
            yield response.follow(
                next_url, callback=self.parse_page, cb_kwargs={"category": category}
            )
