"""The analysts' read-only web app (Starlette + Jinja2): changes, question sets, diffs, evidence.

Every route is a GET; every piece of upstream text reaches the page through Jinja2 autoescaping
or `monitor.render` (which escapes), and the Content-Security-Policy allows no script at all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from monitor import browse, diff, feeds, render, segment, status
from monitor.config import Config, topics_of
from monitor.records import (
    ChangeKind,
    ChangeRecord,
    EventKind,
    ParseError,
    Severity,
)
from monitor.store import SNIPPET_END, SNIPPET_START, IntegrityError, Store

AMSTERDAM = browse.AMSTERDAM
PAGE_SIZE = 100
_SCAN_LIMIT = 5000  # changes read per feed request; filters run over these

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
RAW_EXTENSIONS = {"koop-xml": "xml", "koop-html": "html", "tk-html": "html"}


class _SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response


def local_time(value: str) -> str:
    """An ISO UTC timestamp shown in Europe/Amsterdam time (a bare date is left as it is)."""
    if len(value) <= 10:
        return value
    moment = browse.local_moment(value)
    return moment.strftime("%d-%m-%Y %H:%M %Z") if moment else value


def time_tag(value: str) -> Markup:
    """A <time> element: machine-readable ISO value, Amsterdam time shown."""
    return Markup('<time datetime="{}">{}</time>').format(value, local_time(value))


def marked_snippet(snippet: str) -> Markup:
    """A search snippet escaped, with the store's match markers turned into <mark>."""
    safe = str(escape(snippet))
    return Markup(  # noqa: S704 (escaped above; only our own markers become tags)
        safe.replace(SNIPPET_START, "<mark>").replace(SNIPPET_END, "</mark>")
    )


def web_link(url: str) -> str:
    """An upstream URL if it is http(s), else "" (a `javascript:` source URL never becomes a link).

    >>> web_link("https://zoek.officielebekendmakingen.nl/ah-tk-20212022-472.xml"), web_link("javascript:x")
    ('https://zoek.officielebekendmakingen.nl/ah-tk-20212022-472.xml', '')
    """
    return url if url.lower().startswith(("http://", "https://")) else ""


def templates() -> Environment:
    """The autoescaping Jinja2 environment of the app's templates, with its filters."""
    env = Environment(
        loader=PackageLoader("monitor", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local_time"] = local_time
    env.filters["time"] = time_tag
    env.filters["snippet"] = marked_snippet
    env.filters["web_link"] = web_link
    env.globals["kinds"] = [k.value for k in ChangeKind]
    env.globals["severities"] = [s.value for s in Severity]
    env.globals["events"] = [e.value for e in EventKind]
    return env


def create_app(
    store: Store, config: Config, today: Callable[[], dt.date] | None = None
) -> Starlette:
    """The read-only web app over `store`; `today` (Amsterdam date) is replaceable for tests."""
    env = templates()
    topics = topics_of(config)
    env.globals["topics"] = [t.name for t in topics]
    base_url = config.web.public_url.rstrip("/")

    def current_day() -> dt.date:
        return today() if today else dt.datetime.now(AMSTERDAM).date()

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status_code=status)

    def not_found(message: str) -> HTMLResponse:
        return page("error.html", 404, title="Not found", message=message)

    def filtered_changes(request: Request) -> tuple[browse.ChangeFilter, list[ChangeRecord]]:
        chosen = browse.ChangeFilter.from_params(request.query_params, topics)
        return chosen, select(chosen)

    def select(chosen: browse.ChangeFilter) -> list[ChangeRecord]:
        """The newest changes that pass `chosen`."""
        records = store.change_records(limit=_SCAN_LIMIT)
        needs_facets = chosen.topic or chosen.ministry or chosen.member or chosen.party
        facets = store.question_set_facets(c.question_set for c in records) if needs_facets else {}
        return [
            c for c in records if chosen.matches(c, _facet_dict(facets.get(c.question_set)), topics)
        ]

    async def changes(request: Request) -> HTMLResponse:
        chosen, kept = await asyncio.to_thread(filtered_changes, request)
        offset = _int(request.query_params.get("offset"), 0)
        shown = kept[offset : offset + PAGE_SIZE]
        query = urlencode(chosen.params())
        more = (
            "?" + urlencode({**chosen.params(), "offset": offset + PAGE_SIZE})
            if len(kept) > offset + PAGE_SIZE
            else ""
        )
        return page(
            "changes.html",
            title="Changes",
            rows=[(c, browse.sentence_pairs(c)) for c in shown],
            filter=chosen,
            total=len(kept),
            query=query,
            more=more,
        )

    async def changes_atom(request: Request) -> Response:
        chosen, kept = await asyncio.to_thread(filtered_changes, request)
        query = urlencode(chosen.params())
        suffix = f"?{query}" if query else ""
        title = "Kamerwacht: changes" + (f" ({query})" if query else "")
        return _atom(kept[:PAGE_SIZE], title, f"/changes.atom{suffix}", f"/changes{suffix}")

    async def topic_atom(request: Request) -> Response:
        name = str(request.path_params["name"])
        if name not in {t.name for t in topics}:
            return not_found("No such topic.")
        kept = await asyncio.to_thread(select, browse.ChangeFilter(topic=name))
        return _atom(
            kept[:PAGE_SIZE], f"Kamerwacht: topic {name}", f"/topics/{quote(name)}.atom",
            "/changes?" + urlencode({"topic": name}),
        )  # fmt: skip

    def _atom(kept: list[ChangeRecord], title: str, feed_path: str, page_path: str) -> Response:
        body = feeds.atom(
            kept,
            title=title,
            feed_url=base_url + feed_path,
            page_url=base_url + page_path,
            base_url=base_url,
            now=dt.datetime.now(dt.UTC),
        )
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    async def changes_json(request: Request) -> Response:
        _, kept = await asyncio.to_thread(filtered_changes, request)
        return Response(
            feeds.changes_json(kept, base_url), media_type="application/json; charset=utf-8"
        )

    async def changes_csv(request: Request) -> Response:
        _, kept = await asyncio.to_thread(filtered_changes, request)
        return _download(feeds.changes_csv(kept, base_url), "text/csv", "kamerwacht-changes.csv")

    async def change(request: Request) -> HTMLResponse:
        change_id = int(request.path_params["change_id"])
        found = await asyncio.to_thread(store.change_records, [change_id])
        if not found:
            return not_found("No such change.")
        record = found[0]
        context: dict[str, Any] = {"evidence": []}
        if record.event is EventKind.CORRECTED:
            detail = record.detail
            old_id = _int(str(detail.get("base_version_id", "")), 0)
            new_id = _int(str(detail.get("version_id", "")), 0)
            context = await asyncio.to_thread(
                diff_context, old_id, new_id, request.query_params.get("view", "inline"),
                request.query_params.get("all") == "1",
            )  # fmt: skip
        return page(
            "change.html",
            title=f"Change {record.id}",
            change=record,
            permalink=f"{base_url}/changes/{record.id}",
            **context,
        )

    def diff_context(old_id: int, new_id: int, view: str, show_all: bool) -> dict[str, Any]:
        """Everything the diff partial needs for two stored versions."""
        old = store.version_evidence(old_id)
        new = store.version_evidence(new_id)
        context: dict[str, Any] = {
            "old": old, "new": new, "view": "side" if view == "side" else "inline",
            "show_all": show_all, "evidence": [e for e in (old, new) if e is not None],
            "result": None, "problem": "",
        }  # fmt: skip
        if old is None or new is None:
            context["problem"] = "One of the two versions is not in the archive."
            return context
        try:
            old_body, old_rendition, old_name = store.version_body(old_id)
            new_body, new_rendition, new_name = store.version_body(new_id)
            result = diff.compare(
                segment.parse(old_body, old_rendition),
                segment.parse(new_body, new_rendition),
                carry_forward=old_name != new_name,
            )
        except (KeyError, ParseError, IntegrityError) as exc:
            context["problem"] = f"Diff unavailable: {exc}"
            return context
        context["result"] = result
        context["questions"] = result.questions if show_all else result.changed
        context["inline"] = Markup(  # noqa: S704 (render escapes every upstream text)
            render.diff_html(result, include_unchanged=show_all)
        )
        return context

    async def diff_page(request: Request) -> HTMLResponse:
        params = request.query_params
        old_ref, new_ref = params.get("old", "").strip(), params.get("new", "").strip()
        if not old_ref or not new_ref:
            return page("diff.html", title="Compare versions", old_ref=old_ref, new_ref=new_ref)
        old_id = await asyncio.to_thread(_version_ref, old_ref)
        new_id = await asyncio.to_thread(_version_ref, new_ref)
        if old_id is None or new_id is None:
            return page(
                "diff.html", 404, title="Compare versions", old_ref=old_ref, new_ref=new_ref,
                problem="Give two version ids or document numbers that are in the archive.",
            )  # fmt: skip
        context = await asyncio.to_thread(
            diff_context, old_id, new_id, params.get("view", "inline"), params.get("all") == "1"
        )
        return page(
            "diff.html", title="Compare versions", old_ref=old_ref, new_ref=new_ref,
            base_query=urlencode({"old": old_ref, "new": new_ref}), **context,
        )  # fmt: skip

    def _version_ref(ref: str) -> int | None:
        """A version id, or a document number / KOOP id meaning its latest parsed version."""
        if ref.isdigit():
            return int(ref) if store.version_evidence(int(ref)) else None
        return store.latest_version_id(ref[:60])

    async def version(request: Request) -> HTMLResponse:
        evidence = await asyncio.to_thread(
            store.version_evidence, int(request.path_params["version_id"])
        )
        if evidence is None:
            return not_found("No such version.")
        return page("version.html", title=f"Version {evidence.id}", v=evidence)

    async def version_raw(request: Request) -> Response:
        version_id = int(request.path_params["version_id"])
        evidence = await asyncio.to_thread(store.version_evidence, version_id)
        if evidence is None:
            return not_found("No such version.")
        try:
            body, _, _ = await asyncio.to_thread(store.version_body, version_id)
        except IntegrityError:
            return page(
                "error.html", 500, title="Integrity error",
                message="The stored body no longer matches its hash.",
            )  # fmt: skip
        name = _safe_name(evidence.document_number or evidence.koop_id or "document")
        extension = RAW_EXTENSIONS.get(evidence.rendition, "txt")
        # Served as an opaque download: upstream HTML must never render on our origin.
        response = _download(body, "application/octet-stream", f"{name}-v{evidence.id}.{extension}")
        response.headers["X-Content-SHA256"] = evidence.blob_sha256
        return response

    async def question_index(request: Request) -> HTMLResponse:
        numbers = await asyncio.to_thread(store.question_set_numbers)
        facets = await asyncio.to_thread(store.question_set_facets, numbers[:500])
        day = current_day()
        rows = [
            (facets[n], browse.overdue(facets[n].status, facets[n].deadline_on, day))
            for n in numbers[:500]
            if n in facets
        ]
        return page("questions.html", title="Question sets", rows=rows)

    def question_data(number: str) -> dict[str, Any] | None:
        found = store.question_set(number)
        if found is None:
            return None
        related = store.changes_of(number)
        versions = store.versions_of(number)
        items = store.items_of(number)
        citations = _citations(found["documents"], versions)
        return {
            "qs": found,
            "changes": related,
            "versions": versions,
            "items": items,
            "rows": browse.answers_by_number(items),
            "timeline": browse.timeline(found["documents"], versions, related, citations),
            "overdue": browse.overdue(found["status"], found["deadline_on"], current_day()),
        }

    def _citations(
        documents: list[dict[str, Any]], versions: list[Any]
    ) -> dict[str, list[tuple[str, str]]]:
        """Per document, the publications its latest version cites, with their question set."""
        latest: dict[str, Any] = {}
        for v in versions:
            if v.parse_status == "ok":
                latest[v.document_number] = v
        out: dict[str, list[tuple[str, str]]] = {}
        for number, v in latest.items():
            try:
                body, rendition, _ = store.version_body(v.id)
                cited = segment.parse(body, rendition).cited
            except (KeyError, ParseError, IntegrityError):
                continue
            out[number] = [(c, store_owner(c)) for c in cited]
        return out

    def store_owner(koop_id: str) -> str:
        version_id = store.latest_version_id(koop_id)
        if version_id is None:
            return ""
        evidence = store.version_evidence(version_id)
        return evidence.question_set if evidence else ""

    async def question(request: Request) -> HTMLResponse:
        number = str(request.path_params["number"])[:20]
        data = await asyncio.to_thread(question_data, number)
        if data is None:
            return not_found("No such question set.")
        return page("question.html", title=number, **data)

    async def question_json(request: Request) -> Response:
        number = str(request.path_params["number"])[:20]
        data = await asyncio.to_thread(question_data, number)
        if data is None:
            return JSONResponse({"error": "no such question set"}, status_code=404)
        out = {
            **data["qs"],
            "overdue": data["overdue"].overdue,
            "overdue_days": data["overdue"].days,
            "permalink": f"{base_url}/questions/{number}",
            "versions": [
                {**dataclasses.asdict(v), "evidence": f"{base_url}/versions/{v.id}"}
                for v in data["versions"]
            ],
            "items": [_item_row(number, i) for i in data["items"]],
            "changes": [feeds.change_dict(c, base_url) for c in data["changes"]],
        }
        return Response(
            json.dumps(out, ensure_ascii=False, indent=1),
            media_type="application/json; charset=utf-8",
        )

    async def question_csv(request: Request) -> Response:
        number = str(request.path_params["number"])[:20]
        found = await asyncio.to_thread(store.question_set, number)
        if found is None:
            return not_found("No such question set.")
        items = await asyncio.to_thread(store.items_of, number)
        text = feeds.items_csv(_item_row(number, i) for i in items)
        return _download(text, "text/csv", f"kamerwacht-{_safe_name(number)}.csv")

    async def question_atom(request: Request) -> Response:
        number = str(request.path_params["number"])[:20]
        found = await asyncio.to_thread(store.question_set, number)
        if found is None:
            return not_found("No such question set.")
        related = await asyncio.to_thread(store.changes_of, number)
        return _atom(
            related, f"Kamerwacht: {number} {found['title']}", f"/questions/{number}.atom",
            f"/questions/{number}",
        )  # fmt: skip

    async def search(request: Request) -> HTMLResponse:
        query = request.query_params.get("q", "").strip()[:200]
        hits = await asyncio.to_thread(store.search, query) if query else []
        return page("search.html", title="Search", q=query, hits=hits)

    routes: list[BaseRoute] = [
        Route("/", changes),
        Route("/changes", changes),
        Route("/changes.atom", changes_atom),
        Route("/changes.json", changes_json),
        Route("/changes.csv", changes_csv),
        Route("/changes/{change_id:int}", change),
        Route("/topics/{name}.atom", topic_atom),
        Route("/questions", question_index),
        Route("/questions/{number}.atom", question_atom),
        Route("/questions/{number}.json", question_json),
        Route("/questions/{number}.csv", question_csv),
        Route("/questions/{number}", question),
        Route("/diff", diff_page),
        Route("/versions/{version_id:int}", version),
        Route("/versions/{version_id:int}/raw", version_raw),
        Route("/search", search),
        Route("/healthz", healthz_endpoint(store, config)),
    ]
    routes.append(Mount("/static", StaticFiles(packages=[("monitor", "static")]), name="static"))

    async def missing(request: Request, exc: Exception) -> Response:
        return not_found("There is no page here.")

    return Starlette(
        routes=routes,
        middleware=[Middleware(_SecurityHeaders)],
        exception_handlers={404: missing},
    )


def healthz_endpoint(store: Store, config: Config) -> Callable[[Request], Any]:
    """The health check for probes: sources, outbox and overdue state (see `monitor.status`)."""

    def healthz(request: Request) -> JSONResponse:
        """JSON health; 503 when a source is stale or the outbox is stuck (for probes)."""
        report = status.current(store, config)
        return JSONResponse(report.to_json(), status_code=200 if report.ok else 503)

    return healthz


def _facet_dict(facets: Any) -> dict[str, Any] | None:
    if facets is None:
        return None
    return {
        "askers": facets.askers,
        "addressee": facets.addressee,
        "topic_fields": facets.topic_fields,
    }


def _item_row(number: str, item: Any) -> dict[str, Any]:
    return {
        "question_set": number,
        "number": ",".join(item.numbers),
        "role": item.role,
        "label": item.label,
        "document": item.document_number,
        "document_role": item.document_role,
        "dated_on": item.dated_on,
        "version_id": item.version_id,
        "rendition": item.rendition,
        "text": item.text,
    }


def _int(value: str | None, default: int) -> int:
    try:
        return max(0, int(value or ""))
    except ValueError:
        return default


def _safe_name(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", value)[:80] or "document"


def _download(body: str | bytes, media_type: str, filename: str) -> Response:
    charset = "; charset=utf-8" if isinstance(body, str) else ""
    return Response(
        body,
        media_type=media_type + charset,
        headers={"Content-Disposition": f'attachment; filename="{_safe_name(filename)}"'},
    )
