"""Spider for tweedekamer.nl: kamervragen detail pages (early answer text) and the listing.

Source:
    https://www.tweedekamer.nl/kamerstukken/kamervragen/detail?id={ZaakNummer}&did={DocumentNummer}
    and the listing https://www.tweedekamer.nl/kamerstukken/kamervragen?qry=%2A&...&page={n},
    in the current (2024–2025) design: `div.m-card` cards, an `h1` whose
    `span.u-text-primary.u-font-normal` holds the Soort, `span.h-visually-hidden` labels
    ("Nummer:", "Datum:") and the full text in `div.m-modal__content`.

Caveats:
    The site is fed by the same API as the SyncFeed and its markup changes; a page without the
    expected blocks is reported as an error (never as an empty or deleted answer). Only the title
    and the document text are kept as the body, so a change of navigation or footer is not a new
    version. Requests are conditional (If-None-Match / If-Modified-Since from our database).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import scrapy
from bs4 import BeautifulSoup, Tag
from scrapy.http import Response

from monitor.records import CrawlProblem, FetchedBody, Rendition
from spiders.base import SpiderArgumentError, TextSpider, fetched_now, response_validators

_DOCUMENT_NUMBER = re.compile(r"^\d{4}D\d{5}$")
_ZAAK_NUMBER = re.compile(r"^\d{4}[ZD]\d{5}$")


class PageError(ValueError):
    """Raised by `parse_detail` when a page lacks the blocks of the current design."""


@dataclass(frozen=True, slots=True)
class DetailPage:
    """What a detail page says about one document, and its text as a small HTML document."""

    soort: str
    title: str
    number: str
    date: str
    content_html: str


@dataclass(frozen=True, slots=True)
class Card:
    """One result card of the kamervragen listing."""

    zaak: str
    did: str
    title: str
    date: str


def _labelled(soup: BeautifulSoup, label: str) -> str:
    for span in soup.select("span.h-visually-hidden"):
        if span.get_text(strip=True).rstrip(":").lower() == label.lower():
            value = span.next_sibling
            while value is not None and not str(value if isinstance(value, str) else "").strip():
                if isinstance(value, Tag):
                    return value.get("datetime") or value.get_text(" ", strip=True)  # type: ignore[return-value]
                value = value.next_sibling
            return str(value or "").strip()
    return ""


def parse_detail(body: bytes) -> DetailPage:
    """Metadata and full text of a kamervragen detail page."""
    soup = BeautifulSoup(body, "lxml")
    heading = soup.select_one("main h1") or soup.select_one("h1")
    content = soup.select_one("div.m-modal__content")
    if heading is None or content is None:
        raise PageError("no h1 or div.m-modal__content: not a detail page of the current design")
    soort_el = heading.select_one("span.u-text-primary.u-font-normal")
    soort = soort_el.get_text(" ", strip=True).rstrip(":").strip() if soort_el else ""
    meta = soup.select_one('meta[name="dcterms.title"]')
    title = str(meta.get("content") or "") if meta is not None else ""
    if not title:
        full = heading.get_text(" ", strip=True)
        title = full.split(":", 1)[-1].strip() if soort else full
    for junk in content.select("script, style, button"):
        junk.decompose()
    html_doc = (
        '<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8"></head><body><main>'
        f"<h1>{heading.decode_contents()}</h1>{content}</main></body></html>"
    )
    return DetailPage(
        soort=soort,
        title=title,
        number=_labelled(soup, "Nummer"),
        date=_labelled(soup, "Datum"),
        content_html=html_doc,
    )


def parse_listing(body: bytes, page_url: str) -> tuple[list[Card], str | None]:
    """The cards of one listing page and the URL of the next page (None on the last)."""
    soup = BeautifulSoup(body, "lxml")
    cards = []
    for card in soup.select("div.m-card"):
        link = card.select_one("h4 a[href]")
        if link is None:
            continue
        query = parse_qs(urlsplit(str(link["href"])).query)
        did = (query.get("did") or [""])[0]
        zaak = (query.get("id") or [""])[0]
        if not _DOCUMENT_NUMBER.match(did):
            continue
        time_el = card.select_one("time.u-text-primary")
        date = str(time_el.get("datetime") or time_el.get_text(strip=True)) if time_el else ""
        cards.append(Card(zaak, did, link.get_text(" ", strip=True), date))
    nxt = soup.select_one('a[rel="next"][href]')
    return cards, (urljoin(page_url, str(nxt["href"])) if nxt is not None else None)


def detail_url(base_url: str, zaak: str, did: str) -> str:
    """The detail page of one document of a Zaak.

    >>> detail_url("https://www.tweedekamer.nl", "2021Z14612", "2021D35707")
    'https://www.tweedekamer.nl/kamerstukken/kamervragen/detail?id=2021Z14612&did=2021D35707'
    """
    return f"{base_url}/kamerstukken/kamervragen/detail?{urlencode({'id': zaak, 'did': did})}"


def listing_url(base_url: str, page: int = 1) -> str:
    query = {
        "qry": "*",
        "fld_tk_categorie": "Kamerstukken",
        "fld_prl_kamerstuk": "Kamervragen",
        "srt": "date:desc:date",
        "page": page,
    }
    return f"{base_url}/kamerstukken/kamervragen?{urlencode(query)}"


class TweedeKamerSpider(TextSpider):
    """Fetches the detail pages of the given documents, and optionally walks the listing."""

    name = "tweedekamer"
    custom_settings = {"HTTPERROR_ALLOWED_CODES": [304, 404, 410]}  # noqa: RUF012

    def __init__(
        self,
        *args: Any,
        base_url: str = "",
        pages: str = "{}",
        listing_pages: str = "0",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.base_url = self.checked_url("base_url", base_url)
        wanted = self.json_argument("pages", pages)
        self.pages: dict[str, dict[str, str | None]] = {}
        for did, spec in wanted.items():
            zaak = str(spec.get("zaak") or did)
            if not _DOCUMENT_NUMBER.match(did) or not _ZAAK_NUMBER.match(zaak):
                raise SpiderArgumentError(f"pages: {did!r}/{zaak!r} is not a document/zaak number")
            self.pages[did] = {**spec, "zaak": zaak}
        self.listing_pages = int(listing_pages)
        self.requested: set[str] = set()

    async def start(self) -> Any:
        for did in sorted(self.pages):
            yield self.detail_request(did)
        if self.listing_pages > 0:
            yield scrapy.Request(
                listing_url(self.base_url), callback=self.parse_listing, cb_kwargs={"page": 1}
            )

    def detail_request(self, did: str) -> scrapy.Request:
        spec = self.pages[did]
        self.requested.add(did)
        headers = {}
        if spec.get("etag"):
            headers["If-None-Match"] = str(spec["etag"])
        if spec.get("last_modified"):
            headers["If-Modified-Since"] = str(spec["last_modified"])
        return scrapy.Request(
            detail_url(self.base_url, str(spec["zaak"]), did),
            headers=headers,
            callback=self.parse_page,
            errback=self.failed,
            cb_kwargs={"did": did},
            meta={"key": did},
        )

    def parse_listing(self, response: Response, page: int) -> Iterator[Any]:
        cards, next_url = parse_listing(response.body, response.url)
        if page == 1 and not cards:
            yield self.item(CrawlProblem("tweedekamer", response.url, "listing has no div.m-card"))
        for card in cards:
            if card.did not in self.requested and _ZAAK_NUMBER.match(card.zaak):
                self.pages.setdefault(card.did, {"zaak": card.zaak})
                yield self.detail_request(card.did)
        if next_url and page < self.listing_pages:
            yield response.follow(next_url, self.parse_listing, cb_kwargs={"page": page + 1})

    def fetched(self, key: str, url: str, **values: Any) -> FetchedBody:
        return FetchedBody(
            "tweedekamer", key, Rendition.TK_HTML, url, fetched_now(), document_number=key,
            **values,
        )  # fmt: skip

    def parse_page(self, response: Response, did: str) -> Iterator[dict[str, Any]]:
        url = response.url
        if response.status == 304:
            yield self.item(self.fetched(did, url, status="not_modified"))
            return
        if response.status in (404, 410):
            yield self.item(self.fetched(did, url, status="not_found"))
            return
        try:
            page = parse_detail(response.body)
            if page.number and page.number != did:
                raise PageError(f"page shows document {page.number}, expected {did}")
        except PageError as exc:
            self.logger.error("unreadable page %s: %s", response.url, exc)
            yield self.item(self.fetched(did, url, status="error", error=str(exc)))
            return
        yield self.item(
            self.fetched(
                did, url, status="ok", body=page.content_html,
                content_type="text/html; charset=utf-8", **response_validators(response),
            )
        )  # fmt: skip
