"""Spider for KOOP official publications: the XML of `ah-tk` answers and `kv-tk` question sets.

Source:
    https://repository.overheid.nl/frbr/officielepublicaties/ah-tk/{vergaderjaar}/{id}/1/xml/{id}.xml
    for Aanhangsel publications (answers, nader antwoorden, delay notices), and
    https://zoek.officielebekendmakingen.nl/{id}.xml for identifiers whose repository path is not
    known (`kv-tk-…`, the question set as tabled). Discovery of changed publications:
    https://repository.overheid.nl/sru?operation=searchRetrieve&query=w.publicatienaam="Kamervragen
    (Aanhangsel)" AND dt.modified>=DATE (a `searchRetrieveResponse`, paged by
    `nextRecordPosition`); `metadata.xml` (`metadata_gegevens`) is read by `parse_metadata`.

Caveats:
    Publications appear days after the answer. A missing publication is often a "soft 404": a
    redirect to an error page (`Errors/404.htm`, `fout404`); both that and a real 404 are
    reported as `not_found` ("not yet published"), never as an error or a deletion. Validators
    (ETag, Last-Modified) come from the daemon's database, so a 304 is `not_modified`. Items never
    fetched are requested directly; items already stored are rechecked only when SRU lists them
    as modified (one search instead of one request per item), and so are `waiting` items (in
    back-off after answering not-found; the daemon asks them again when they are due). The SRU
    connection name and version are not verified against the live service (sources.md §9); an
    SRU diagnostic or an unreadable response falls back to rechecking every stored item
    conditionally.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import scrapy
from lxml import etree
from scrapy.http import Response
from twisted.python.failure import Failure

from monitor.records import CrawlProblem, FetchedBody, Rendition
from spiders.base import SpiderArgumentError, TextSpider, fetched_now, response_validators

_AH_TK = re.compile(r"^ah-tk-(\d{8})-(\d+)$")
_KV_TK = re.compile(r"^kv-tk-\d{4}Z\d{5}$")
_SOFT_404 = re.compile(r"Errors/404|fout404|/404\.htm", re.IGNORECASE)
_REDIRECTS = (301, 302, 303, 307, 308)


def xml_url(identifier: str, repository_url: str, zoek_url: str) -> str:
    """Where the XML rendition of a KOOP publication lives.

    >>> xml_url("ah-tk-20212022-105", "https://repository.overheid.nl", "https://z")
    'https://repository.overheid.nl/frbr/officielepublicaties/ah-tk/20212022/ah-tk-20212022-105/1/xml/ah-tk-20212022-105.xml'
    """
    m = _AH_TK.match(identifier)
    if m:
        return (
            f"{repository_url}/frbr/officielepublicaties/ah-tk/{m[1]}/{identifier}/1/xml/"
            f"{identifier}.xml"
        )
    return f"{zoek_url}/{identifier}.xml"


def publication_order(identifier: str) -> tuple[int, int, str]:
    """Sort key: kv-tk (the questions) first, then ah-tk by session year and number.

    >>> sorted(["ah-tk-20212022-472", "ah-tk-20212022-1050", "kv-tk-2021Z14612"], key=publication_order)
    ['kv-tk-2021Z14612', 'ah-tk-20212022-472', 'ah-tk-20212022-1050']
    """
    m = _AH_TK.match(identifier)
    if m is None:
        return (0, 0, identifier)
    return (int(m[1]), int(m[2]), identifier)


def is_soft_404(url: str) -> bool:
    return bool(_SOFT_404.search(url))


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
AANHANGSEL = "Kamervragen (Aanhangsel)"


class SruError(ValueError):
    """Raised by `parse_sru` for an unreadable response or an SRU diagnostic."""


@dataclass(frozen=True, slots=True)
class SruRecord:
    """One publication listed by an SRU search."""

    identifier: str
    modified: str
    xml_url: str | None


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _first(element: etree._Element, name: str) -> etree._Element | None:
    return next((e for e in element.iter() if _local(e.tag) == name), None)


def sru_url(base: str, since: str, start: int = 1, size: int = 100) -> str:
    """An SRU search for Aanhangsel publications modified on or after `since` (YYYY-MM-DD)."""
    query = {
        "version": "2.0",
        "operation": "searchRetrieve",
        "x-connection": "officielepublicaties",
        "startRecord": start,
        "maximumRecords": size,
        "query": f'w.publicatienaam="{AANHANGSEL}" AND dt.modified>={since}',
    }
    return f"{base}?{urlencode(query)}"


def parse_sru(body: bytes) -> tuple[list[SruRecord], int | None]:
    """The records of one `searchRetrieveResponse` page and the next start position."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SruError(f"not well-formed XML: {exc}") from exc
    if root is None or _local(root.tag) != "searchRetrieveResponse":
        raise SruError("not an SRU searchRetrieveResponse")
    diagnostic = _first(root, "diagnostics")
    if diagnostic is not None:
        message = " ".join(str(t).strip() for t in diagnostic.itertext() if str(t).strip())
        raise SruError(f"SRU diagnostic: {message or 'unknown'}")
    records = []
    for record in (e for e in root.iter() if _local(e.tag) == "record"):
        identifier = _first(record, "identifier")
        if identifier is None or not (identifier.text or "").strip():
            continue
        modified = _first(record, "modified")
        xml_url = next(
            (
                (e.text or "").strip()
                for e in record.iter()
                if _local(e.tag) == "itemUrl" and e.get("manifestation") == "xml"
            ),
            None,
        )
        records.append(
            SruRecord(
                (identifier.text or "").strip(),
                (modified.text or "").strip() if modified is not None else "",
                xml_url,
            )
        )
    following = _first(root, "nextRecordPosition")
    try:
        position = int((following.text or "").strip()) if following is not None else None
    except ValueError:
        position = None
    return records, position


def parse_metadata(body: bytes) -> dict[str, list[str]]:
    """`metadata.xml` (`metadata_gegevens`) as name → values (multi-valued names repeat).

    >>> parse_metadata(b'<metadata_gegevens><metadata name="OVERHEIDop.vraagnummer" '
    ...                b'scheme="" content="2021Z14612"/></metadata_gegevens>')
    {'OVERHEIDop.vraagnummer': ['2021Z14612']}
    """
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SruError(f"metadata.xml is not well-formed: {exc}") from exc
    out: dict[str, list[str]] = {}
    for element in root.iter():
        if _local(element.tag) in ("metadata", "meta") and element.get("name"):
            out.setdefault(str(element.get("name")), []).append(str(element.get("content", "")))
    return out


class KoopSpider(TextSpider):
    """Fetches the XML of each given publication id, conditionally when validators are known."""

    name = "koop"
    custom_settings = {"HTTPERROR_ALLOWED_CODES": [304, 404, 410]}  # noqa: RUF012

    def __init__(
        self,
        *args: Any,
        ids: str = "",
        repository_url: str = "",
        zoek_url: str = "",
        validators: str = "{}",
        sru_url: str = "",
        modified_since: str = "",
        sru_pages: str = "10",
        waiting: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.repository_url = self.checked_url("repository_url", repository_url)
        self.zoek_url = self.checked_url("zoek_url", zoek_url)
        self.sru_url = self.checked_url("sru_url", sru_url) if sru_url else ""
        self.modified_since = modified_since
        self.sru_pages = int(sru_pages)
        self.priority: dict[str, int] = {}
        self.ids = [i.strip() for i in ids.split(",") if i.strip()]
        self.waiting = [i.strip() for i in waiting.split(",") if i.strip()]
        for identifier in (*self.ids, *self.waiting):
            if not (_AH_TK.match(identifier) or _KV_TK.match(identifier)):
                raise SpiderArgumentError(f"ids: {identifier!r} is not an ah-tk or kv-tk id")
        self.validators: dict[str, list[str | None]] = self.json_argument("validators", validators)

    async def start(self) -> Any:
        # Publication order (oldest first) becomes request priority, so with one request per
        # host at a time the bodies arrive, and are stored, in the order they were published:
        # a nader antwoord is then compared with the answer it follows.
        ordered = sorted({*self.ids, *self.waiting}, key=publication_order)
        self.priority = {identifier: len(ordered) - i for i, identifier in enumerate(ordered)}
        wanted = set(self.ids)
        asked = [i for i in ordered if i in wanted]
        fresh = [i for i in asked if not any((self.validators.get(i) or [None, None])[:2])]
        stored = [i for i in asked if i not in fresh]
        # Ids in back-off (not found so far) are not asked this time unless SRU lists them.
        waiting = set(self.waiting) - set(asked)
        for identifier in fresh:
            yield self.publication_request(identifier)
        if (stored or waiting) and self.sru_url and self.modified_since:
            yield scrapy.Request(
                sru_url(self.sru_url, self.modified_since),
                callback=self.parse_search,
                errback=self.search_failed,
                cb_kwargs={"stored": set(stored), "waiting": waiting, "page": 1},
                dont_filter=True,
            )
        else:
            for identifier in stored:
                yield self.publication_request(identifier)

    def parse_search(
        self, response: Response, stored: set[str], waiting: set[str], page: int
    ) -> Iterator[Any]:
        """Fetch only the stored and waiting items SRU lists as modified; on trouble, recheck
        every stored item (waiting ones are asked when their back-off ends)."""
        try:
            records, following = parse_sru(response.body)
        except SruError as exc:
            self.logger.warning("SRU search failed (%s); rechecking every stored item", exc)
            yield self.item(CrawlProblem("koop", response.url, str(exc)))
            for identifier in sorted(stored):
                yield self.publication_request(identifier)
            return
        for record in records:
            if record.identifier in stored or record.identifier in waiting:
                stored.discard(record.identifier)
                waiting.discard(record.identifier)
                yield self.publication_request(record.identifier)
        if following and page < self.sru_pages and (stored or waiting):
            yield scrapy.Request(
                sru_url(self.sru_url, self.modified_since, start=following),
                callback=self.parse_search,
                errback=self.search_failed,
                cb_kwargs={"stored": stored, "waiting": waiting, "page": page + 1},
                dont_filter=True,
            )

    def search_failed(self, failure: Failure) -> Iterator[Any]:
        stored: set[str] = failure.request.cb_kwargs["stored"]  # type: ignore[attr-defined]
        self.logger.warning("SRU search failed: %s", failure.getErrorMessage())
        for identifier in sorted(stored):
            yield self.publication_request(identifier)

    def publication_request(self, identifier: str) -> scrapy.Request:
        headers: dict[str, str] = {}
        etag, last_modified = (self.validators.get(identifier) or [None, None])[:2]
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return scrapy.Request(
            xml_url(identifier, self.repository_url, self.zoek_url),
            headers=headers,
            priority=self.priority.get(identifier, 0),
            callback=self.parse_publication,
            errback=self.failed,
            cb_kwargs={"identifier": identifier},
            # Redirects are read here, not followed: a soft 404 is known from its Location
            # without also fetching the error page (half the requests for a missing item).
            meta={
                "key": identifier,
                "dont_redirect": True,
                "handle_httpstatus_list": [*_REDIRECTS, 304, 404, 410],
            },
            # Every soft 404 redirects to the same error page: without this the duplicate filter
            # would drop all but one of them, and those items would vanish from the crawl.
            dont_filter=True,
        )

    def parse_publication(self, response: Response, identifier: str) -> Iterator[Any]:
        if response.status in _REDIRECTS:
            location = response.headers.get(b"Location")
            target = response.urljoin(location.decode("latin-1")) if location else ""
            if not target or is_soft_404(target):
                yield self.item(self.fetched(identifier, response.url, status="not_found"))
                return
            # A real move: follow it the ordinary way (Scrapy's redirect limit applies).
            yield scrapy.Request(
                target,
                priority=self.priority.get(identifier, 0),
                callback=self.parse_publication,
                errback=self.failed,
                cb_kwargs={"identifier": identifier},
                meta={"key": identifier, "handle_httpstatus_list": [304, 404, 410]},
                dont_filter=True,
            )
            return
        yield self.item(self.record_of(response, identifier))

    def fetched(self, key: str, url: str, **values: Any) -> FetchedBody:
        return FetchedBody("koop", key, Rendition.KOOP_XML, url, fetched_now(), **values)

    def record_of(self, response: Response, identifier: str) -> FetchedBody:
        """Turn one response into a `FetchedBody`, telling soft 404s from real bodies."""
        url = response.url
        if response.status == 304:
            return self.fetched(identifier, url, status="not_modified")
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        if response.status in (404, 410) or is_soft_404(response.url) or "html" in content_type:
            return self.fetched(identifier, url, status="not_found")
        try:
            text = response.body.decode("utf-8")
        except UnicodeDecodeError:
            return self.fetched(identifier, url, status="error", error="body is not UTF-8")
        try:
            etree.fromstring(response.body, _PARSER)
        except etree.XMLSyntaxError as exc:
            # A cut or garbled body stored as a version would never be fetched again: the real
            # publication would be lost. An error is retried on the next poll.
            return self.fetched(
                identifier, url, status="error", error=f"not well-formed XML: {exc}"
            )
        return self.fetched(
            identifier, url, status="ok", body=text, content_type=content_type,
            **response_validators(response),
        )  # fmt: skip
