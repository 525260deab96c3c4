"""The analysts' read-only web app (Starlette + Jinja2): changes, question sets, diffs, health."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from monitor import diff, render, segment, status
from monitor.config import Config
from monitor.records import ChangeRecord, EventKind, ParseError
from monitor.store import Store

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class _SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response


def local_time(value: str) -> str:
    """An ISO UTC timestamp shown in Europe/Amsterdam time."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M")


def first_sentences(change: ChangeRecord) -> list[tuple[str, str]]:
    """(before, after) sentence pairs of a correction's substantive changes, for list rows."""
    pairs: list[tuple[str, str]] = []
    for question in change.changed_questions():
        for sentence in question.get("sentences", []):
            if sentence.get("kinds") != ["editorial"]:
                pairs.append((sentence.get("old", ""), sentence.get("new", "")))
    return pairs


def create_app(store: Store, config: Config) -> Starlette:
    env = Environment(
        loader=PackageLoader("monitor", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local_time"] = local_time

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status_code=status)

    def changes(request: Request) -> HTMLResponse:
        records = store.change_records(limit=200)
        rows = [(c, first_sentences(c)) for c in records]
        return page("changes.html", rows=rows, title="Changes")

    def change(request: Request) -> HTMLResponse:
        try:
            change_id = int(request.path_params["change_id"])
        except ValueError:
            return page("error.html", 404, title="Not found", message="No such change.")
        found = store.change_records(ids=[change_id])
        if not found:
            return page("error.html", 404, title="Not found", message="No such change.")
        record = found[0]
        diff_fragment = Markup("")
        if record.event is EventKind.CORRECTED:
            detail = record.detail
            try:
                old_body, old_rendition, old_name = store.version_body(
                    int(detail["base_version_id"])
                )
                new_body, new_rendition, new_name = store.version_body(int(detail["version_id"]))
                result = diff.compare(
                    segment.parse(old_body, old_rendition),
                    segment.parse(new_body, new_rendition),
                    carry_forward=old_name != new_name,
                )
                diff_fragment = Markup(render.diff_html(result))  # noqa: S704 (escaped in render)
            except (KeyError, ParseError) as exc:
                diff_fragment = Markup(f"<p>Diff unavailable: {render.escape(str(exc))}</p>")  # noqa: S704
        return page("change.html", title=f"Change {record.id}", change=record, diff=diff_fragment)

    def question(request: Request) -> HTMLResponse:
        number = str(request.path_params["number"])[:20]
        found = store.question_set(number)
        if found is None:
            return page("error.html", 404, title="Not found", message="No such question set.")
        related = [c for c in store.change_records(limit=500) if c.question_set == number]
        versions = store.versions_of(number)
        return page("question.html", title=number, qs=found, changes=related, versions=versions)

    def healthz(request: Request) -> JSONResponse:
        """JSON health; 503 when a source is stale or the outbox is stuck (for probes)."""
        report = status.current(store, config)
        return JSONResponse(report.to_json(), status_code=200 if report.ok else 503)

    routes: list[BaseRoute] = [
        Route("/", changes),
        Route("/changes", changes),
        Route("/changes/{change_id}", change),
        Route("/questions/{number}", question),
        Route("/healthz", healthz),
    ]
    routes.append(Mount("/static", StaticFiles(packages=[("monitor", "static")]), name="static"))
    return Starlette(routes=routes, middleware=[Middleware(_SecurityHeaders)])
