"""robots.txt for every spider: Scrapy's middleware, fixed so that no early request slips past.

Scrapy 2.19's `RobotsTxtMiddleware` lets the requests that arrive while robots.txt is still being
fetched wait on one shared Deferred; the first waiter's callback returns None, so the third and
later waiters receive None ("no robots.txt") and are sent even when robots.txt forbids them
(seen with three detail pages started at once). Each waiter here gets its own Deferred.
"""

from __future__ import annotations

from typing import Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Request
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class SafeRobotsTxtMiddleware(RobotsTxtMiddleware):
    """`RobotsTxtMiddleware` whose concurrent first requests all wait for the parsed file."""

    async def robot_parser(self, request: Request) -> Any:
        netloc = urlparse_cached(request).netloc
        parser = self._parsers.get(netloc)
        if isinstance(parser, Deferred):
            mine: Deferred[Any] = Deferred()

            def relay(result: Any) -> Any:
                mine.callback(result)
                return result  # pass the parser on to the next waiter

            parser.addCallback(relay)
            return await maybe_deferred_to_future(mine)
        return await super().robot_parser(request)
