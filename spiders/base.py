"""The shared spider base: validated arguments, the host allow-list and record output."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from monitor.records import CrawlRecord, FetchedBody, to_dict


class SpiderArgumentError(ValueError):
    """Raised from a spider's `__init__` (i.e. `from_crawler`) when an argument is invalid."""


class KamerwachtSpider(scrapy.Spider):
    """Base for every source: parses `allowed_hosts` and checks each URL argument against it."""

    allowed_hosts: tuple[str, ...] = ()

    def __init__(self, *args: Any, allowed_hosts: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_hosts = tuple(h.strip().lower() for h in allowed_hosts.split(",") if h.strip())
        # Scrapy's OffsiteMiddleware drops every request to a host outside this list, so a link
        # found inside a document can never make a spider fetch an arbitrary address.
        self.allowed_domains = list(self.allowed_hosts)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Any:
        # Long arguments come in a JSON file (`monitor.jobs.spill_arguments`): the OS limits the
        # size of each command-line argument.
        path = kwargs.pop("arguments_file", "")
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    spilled = json.load(handle)
            except (OSError, json.JSONDecodeError) as exc:
                raise SpiderArgumentError(f"arguments_file: cannot read {path!r}: {exc}") from exc
            if not isinstance(spilled, dict) or not all(
                isinstance(v, str) for v in spilled.values()
            ):
                raise SpiderArgumentError("arguments_file: expected a JSON object of strings")
            kwargs = spilled | kwargs
        return super().from_crawler(crawler, *args, **kwargs)

    def checked_url(self, name: str, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SpiderArgumentError(f"{name}: expected an http(s) URL, got {url!r}")
        if self.allowed_hosts and not self.host_allowed(url):
            raise SpiderArgumentError(f"{name}: host {parts.hostname!r} is not in allowed_hosts")
        return url.rstrip("/")

    def host_allowed(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return any(host == h or host.endswith("." + h) for h in self.allowed_hosts)

    @staticmethod
    def json_argument(name: str, value: str) -> Any:
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise SpiderArgumentError(f"{name}: not JSON ({exc})") from exc

    @staticmethod
    def item(record: CrawlRecord) -> dict[str, Any]:
        return to_dict(record)


class TextSpider(KamerwachtSpider):
    """Base for the sources that fetch one text per key (a document, a publication): requests
    carry their key in `meta["key"]`, and a request that fails outright becomes an error record
    for that key, so the store sees every key it asked for."""

    def fetched(self, key: str, url: str, **values: Any) -> FetchedBody:
        """The record of one fetch of `key`; `values` are FetchedBody fields (status, body…)."""
        raise NotImplementedError

    def failed(self, failure: Failure) -> Iterator[dict[str, Any]]:
        request = failure.request  # type: ignore[attr-defined]
        self.logger.warning("could not fetch %s: %s", request.url, failure.getErrorMessage())
        message = failure.getErrorMessage()[:500]
        yield self.item(
            self.fetched(request.meta["key"], request.url, status="error", error=message)
        )


def fetched_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def response_validators(response: Response) -> dict[str, str | None]:
    """The response's ETag and Last-Modified, for the next conditional request."""
    etag = response.headers.get(b"ETag")
    last_modified = response.headers.get(b"Last-Modified")
    return {
        "etag": etag.decode("latin-1") if etag else None,
        "last_modified": last_modified.decode("latin-1") if last_modified else None,
    }
