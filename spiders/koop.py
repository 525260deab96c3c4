"""Spider for KOOP official publications: the XML of `ah-tk` answers and `kv-tk` question sets.

Source:
    https://repository.overheid.nl/frbr/officielepublicaties/ah-tk/{vergaderjaar}/{id}/1/xml/{id}.xml
    for Aanhangsel publications (answers, nader antwoorden, delay notices), and
    https://zoek.officielebekendmakingen.nl/{id}.xml for identifiers whose repository path is not
    known (`kv-tk-…`).

Caveats:
    Publications appear days after the answer. A missing publication is often a "soft 404": a
    redirect to an error page (`Errors/404.htm`, `fout404`); both that and a real 404 are
    reported as `not_found` ("not yet published"), never as an error or a deletion. Validators
    (ETag, Last-Modified) come from the daemon's database, so a 304 is `not_modified`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from monitor.records import FetchedBody, Rendition
from spiders.base import KamerwachtSpider, SpiderArgumentError

_AH_TK = re.compile(r"^ah-tk-(\d{8})-(\d+)$")
_KV_TK = re.compile(r"^kv-tk-\d{4}Z\d{5}$")
_SOFT_404 = re.compile(r"Errors/404|fout404|/404\.htm", re.IGNORECASE)


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


def is_soft_404(url: str) -> bool:
    return bool(_SOFT_404.search(url))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class KoopSpider(KamerwachtSpider):
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
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.repository_url = self.checked_url("repository_url", repository_url)
        self.zoek_url = self.checked_url("zoek_url", zoek_url)
        self.ids = [i.strip() for i in ids.split(",") if i.strip()]
        for identifier in self.ids:
            if not (_AH_TK.match(identifier) or _KV_TK.match(identifier)):
                raise SpiderArgumentError(f"ids: {identifier!r} is not an ah-tk or kv-tk id")
        try:
            self.validators: dict[str, list[str | None]] = json.loads(validators)
        except json.JSONDecodeError as exc:
            raise SpiderArgumentError(f"validators: not JSON ({exc})") from exc

    async def start(self) -> Any:
        for identifier in self.ids:
            headers: dict[str, str] = {}
            etag, last_modified = (self.validators.get(identifier) or [None, None])[:2]
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            yield scrapy.Request(
                xml_url(identifier, self.repository_url, self.zoek_url),
                headers=headers,
                callback=self.parse_publication,
                errback=self.failed,
                cb_kwargs={"identifier": identifier},
                meta={"identifier": identifier},
            )

    def parse_publication(self, response: Response, identifier: str) -> Iterator[dict[str, Any]]:
        yield self.item(self.record_of(response, identifier))

    @staticmethod
    def record_of(response: Response, identifier: str) -> FetchedBody:
        """Turn one response into a `FetchedBody`, telling soft 404s from real bodies."""
        base = FetchedBody(
            "koop", identifier, Rendition.KOOP_XML, response.url, _now(), status="not_modified"
        )
        if response.status == 304:
            return base
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        if response.status in (404, 410) or is_soft_404(response.url) or "html" in content_type:
            return dataclasses.replace(base, status="not_found")
        etag = response.headers.get(b"ETag")
        last_modified = response.headers.get(b"Last-Modified")
        try:
            text = response.body.decode("utf-8")
        except UnicodeDecodeError:
            return dataclasses.replace(base, status="error", error="body is not UTF-8")
        return dataclasses.replace(
            base,
            status="ok",
            body=text,
            content_type=content_type,
            etag=etag.decode("latin-1") if etag else None,
            last_modified=last_modified.decode("latin-1") if last_modified else None,
        )

    def failed(self, failure: Failure) -> Iterator[dict[str, Any]]:
        request = failure.request  # type: ignore[attr-defined]
        identifier = request.meta["identifier"]
        self.logger.warning("could not fetch %s: %s", request.url, failure.getErrorMessage())
        yield self.item(
            FetchedBody(
                "koop", identifier, Rendition.KOOP_XML, request.url, _now(), "error",
                error=failure.getErrorMessage()[:500],
            )
        )  # fmt: skip
