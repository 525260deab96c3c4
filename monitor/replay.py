"""A loopback server that replays every upstream source in its exact wire format.

It serves the SyncFeed (Atom pages, `Resources/{guid}` files with their ContentLength), the
tweedekamer.nl kamervragen listing and detail pages (current design), and KOOP (publication XML,
`metadata.xml`, the SRU endpoint, soft 404s). It backs `kamerwacht demo`, the end-to-end tests
and the benchmarks: a timeline of stages is published step by step, and the real spiders crawl it
over HTTP. Faults (5xx bursts, truncated bodies, stalls) can be injected per path prefix.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
import time
import tomllib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ATOM = "http://www.w3.org/2005/Atom"
TKDATA = "http://www.tweedekamer.nl/xsd/tkData/v1-0"
FIRST_SKIPTOKEN = 16_000_000


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """One entity to publish on the feed (a tombstone when `deleted`)."""

    category: str
    guid: str
    fields: dict[str, str] = field(default_factory=dict)
    refs: dict[str, list[str]] = field(default_factory=dict)
    deleted: bool = False
    updated: str = ""


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of a timeline: entities appended to the feed and publications made available."""

    name: str
    say: str
    entities: tuple[EntitySpec, ...]
    publications: dict[str, bytes]
    resources: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    pages: dict[tuple[str, str], bytes] = field(default_factory=dict)


def load_timeline(path: Path | None = None) -> list[Stage]:
    """The bundled seed-case timeline (or another in the same format)."""
    folder: Any = resources.files("monitor") / "demo_data" if path is None else path.parent
    text = (folder / ("timeline.toml" if path is None else path.name)).read_text(encoding="utf-8")

    def read(name: str) -> bytes:
        data: bytes = (folder / name).read_bytes()
        return data

    data = tomllib.loads(text)
    stages = []
    for raw in data["stage"]:
        entities = tuple(
            EntitySpec(
                category=e["category"],
                guid=e["guid"],
                fields={k: str(v) for k, v in e.get("fields", {}).items()},
                refs={k: list(v) for k, v in e.get("refs", {}).items()},
                deleted=bool(e.get("deleted", False)),
                updated=str(e.get("updated", "")),
            )
            for e in raw.get("entities", [])
        )
        publications = {p["id"]: read(p["file"]) for p in raw.get("publications", [])}
        files = {r["guid"]: (r["content_type"], read(r["file"])) for r in raw.get("resources", [])}
        pages = {(p["zaak"], p["did"]): read(p["file"]) for p in raw.get("pages", [])}
        stages.append(
            Stage(raw["name"], raw.get("say", raw["name"]), entities, publications, files, pages)
        )
    return stages


def _lower_camel(category: str) -> str:
    return category[:1].lower() + category[1:]


def render_entity(
    spec: EntitySpec, prefix: str = "tk", resource: tuple[str, bytes] | None = None
) -> str:
    """The tkData v1-0 XML of one entity, with namespace-qualified global attributes."""
    name = _lower_camel(spec.category)
    stamp = spec.updated or "2021-10-13T10:00:00"
    attrs = (
        f'xmlns="{TKDATA}" xmlns:{prefix}="{TKDATA}" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="{spec.guid}" '
        f'{prefix}:bijgewerkt="{stamp}" {prefix}:verwijderd="{"true" if spec.deleted else "false"}"'
    )
    if resource is not None and not spec.deleted:
        attrs += (
            f' {prefix}:contentType="{resource[0]}" {prefix}:contentLength="{len(resource[1])}"'
        )
    if spec.deleted:
        return f"<{name} {attrs}/>"
    children = []
    for ref_name, guids in spec.refs.items():
        children += [f'<{ref_name} ref="{g}"/>' for g in guids]
    for key, value in spec.fields.items():
        if value == "":
            children.append(f'<{key} xsi:nil="true"/>')
        else:
            children.append(f"<{key}>{html.escape(value, quote=False)}</{key}>")
    return f"<{name} {attrs}>{''.join(children)}</{name}>"


@dataclass
class _Entry:
    token: int
    spec: EntitySpec
    updated: str
    xml: str


@dataclass
class Fault:
    """Answer the next `count` requests under `prefix` with `status`, a truncated body, or a stall."""

    prefix: str
    count: int
    status: int = 503
    mode: str = "status"  # "status", "truncate", "stall", "empty", "reset"
    seconds: float = 5.0


class ReplayState:
    """What the fake upstream currently publishes; thread-safe."""

    def __init__(self, page_size: int = 250) -> None:
        self.lock = threading.Lock()
        self.page_size = page_size
        self.next_token = FIRST_SKIPTOKEN
        self.feeds: dict[str, list[_Entry]] = {}
        self.publications: dict[str, bytes] = {}
        self.moved: dict[str, str] = {}  # publication id → the path it now redirects to (301)
        self.resources: dict[str, tuple[str, bytes]] = {}
        self.pages: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.robots = b"User-agent: *\nAllow: /\n"
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self.clock = 0

    def add(self, spec: EntitySpec) -> int:
        with self.lock:
            self.next_token += 1
            self.clock += 1
            updated = spec.updated or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            prefix = "ns1" if spec.category in ("ZaakActor", "DocumentVersie") else "tk"
            resource = self.resources.get(spec.guid) if spec.category == "Document" else None
            entry = _Entry(self.next_token, spec, updated, render_entity(spec, prefix, resource))
            self.feeds.setdefault(spec.category, []).append(entry)
            return entry.token

    def apply(self, stage: Stage) -> None:
        with self.lock:
            # Files first: a Document entry announces its file's ContentLength.
            self.resources.update(stage.resources)
            for key, body in stage.pages.items():
                self.set_page(key, body)
        for spec in stage.entities:
            self.add(spec)
        with self.lock:
            self.publications.update(stage.publications)

    def set_page(self, key: tuple[str, str], body: bytes) -> None:
        """Publish (or change) a tweedekamer.nl detail page; caller holds the lock."""
        self.pages[key] = (body, time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))

    def fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.prefix) and fault.count > 0:
                    fault.count -= 1
                    return fault
            return None

    def page(self, category: str, after: int | None) -> tuple[list[_Entry], int | None]:
        with self.lock:
            entries = [e for e in self.feeds.get(category, []) if after is None or e.token > after]
            chosen = entries[: self.page_size]
            return chosen, (chosen[-1].token if chosen else None)


def render_feed(
    base: str, category: str, entries: list[_Entry], next_token: int | None, self_url: str
) -> bytes:
    """One Atom page of the SyncFeed."""
    feed_url = f"{base}/SyncFeed/2.0/Feed"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="{ATOM}">',
        f"<title>Gegevensmagazijn SyncFeed (category: {category})</title>",
        f"<id>{html.escape(self_url)}</id>",
        f"<updated>{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}</updated>",
        f'<link rel="self" href="{html.escape(self_url)}"/>',
    ]
    if next_token is not None:
        parts.append(
            f'<link rel="next" href="{feed_url}?category={category}&amp;skiptoken={next_token}"/>'
        )
    for entry in entries:
        guid = entry.spec.guid
        parts += [
            "<entry>",
            f"<title>{guid}</title>",
            f"<id>{base}/SyncFeed/2.0/Entiteiten/{guid}</id>",
            "<author><name>Tweede Kamer der Staten-Generaal</name></author>",
            f"<updated>{entry.updated}</updated>",
            f'<category term="{_lower_camel(category)}"/>',
            f'<link rel="next" href="{feed_url}?category={category}&amp;skiptoken={entry.token}"/>',
        ]
        if category == "Document" and not entry.spec.deleted:
            parts.append(f'<link rel="enclosure" href="{base}/SyncFeed/2.0/Resources/{guid}"/>')
        parts += [f'<content type="application/xml">{entry.xml}</content>', "</entry>"]
    parts.append("</feed>")
    return "\n".join(parts).encode("utf-8")


_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TK_NOT_FOUND = (
    b"<!DOCTYPE html><html lang='nl'><head><title>Pagina niet gevonden | Tweede Kamer der "
    b"Staten-Generaal</title></head><body><main><h1>Pagina niet gevonden</h1></main></body></html>"
)
_META = re.compile(rb'<meta\s+name="([^"]+)"\s+scheme="([^"]*)"\s+content="([^"]*)"\s*/>')
_TITLE = re.compile(rb'<meta name="dcterms.title" content="([^"]*)"')
_DATE = re.compile(rb'<time[^>]*datetime="([^"]+)"')
_SOORT = re.compile(rb'<span class="u-text-primary u-font-normal">([^<]*)</span>')


def _card_of(zaak: str, did: str, body: bytes) -> tuple[str, str]:
    """(date, card HTML) of one listed document, read from its detail page."""
    title = (_TITLE.search(body) or [b"", b""])[1].decode()
    date = (_DATE.search(body) or [b"", b""])[1].decode()
    soort = (_SOORT.search(body) or [b"", b""])[1].decode().strip().rstrip(":").strip()
    card = (
        '<div class="m-card"><div class="m-card__main">'
        f'<h4 class="u-mt-0"><a href="/kamerstukken/kamervragen/detail?id={zaak}&amp;did={did}">'
        f"{title}</a></h4>"
        f'<time class="u-text-primary" datetime="{date}">{date}</time>'
        f'<p class="u-text-dark-gray">{html.escape(soort)} | {zaak} | {did}</p>'
        f'<a class="m-button m-button--only-icon" href="/downloads/document?id={did}" '
        f'aria-label="Download {did}"></a>'
        "</div></div>"
    )
    return date, card


def render_listing(cards: list[str], page: int, more: bool) -> str:
    """One page of the tweedekamer.nl kamervragen search results (current design)."""
    nxt = (
        f'<a class="m-pagination__link" rel="next" href="/kamerstukken/kamervragen?qry=%2A'
        f"&amp;fld_tk_categorie=Kamerstukken&amp;fld_prl_kamerstuk=Kamervragen"
        f'&amp;srt=date%3Adesc%3Adate&amp;page={page + 1}">Volgende</a>'
        if more
        else ""
    )
    return (
        "<!DOCTYPE html><html lang='nl'><head><meta charset='utf-8'>"
        "<title>Kamervragen | Tweede Kamer der Staten-Generaal</title></head><body><main>"
        f"<h1>Kamervragen</h1><div class='m-search-results'>{''.join(cards)}</div>"
        f"<nav class='m-pagination'>{nxt}</nav></main></body></html>"
    )


def render_metadata(publication: bytes) -> bytes:
    """`metadata.xml` (root `metadata_gegevens`) from the `<meta>` block of a publication."""
    rows = [
        f'  <metadata name="{n.decode()}" scheme="{s.decode()}" content="{c.decode()}" />'
        for n, s, c in _META.findall(publication)
    ]
    return ("<metadata_gegevens>\n" + "\n".join(rows) + "\n</metadata_gegevens>\n").encode()


def _meta_of(publication: bytes) -> dict[str, str]:
    return {n.decode(): c.decode() for n, _, c in _META.findall(publication)}


_CQL = re.compile(
    r'(dt\.available|dt\.modified|dt\.identifier|w\.publicatienaam)\s*(>=|==|=)\s*("[^"]*"|\S+)'
)


def render_sru(base: str, publications: dict[str, bytes], query: dict[str, str]) -> bytes:
    """A `searchRetrieveResponse` over the published KOOP items, for a small CQL subset."""
    sru = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
    head = f'<?xml version="1.0" encoding="UTF-8"?><sru:searchRetrieveResponse xmlns:sru="{sru}"><sru:version>2.0</sru:version>'
    cql = query.get("query", "")
    clauses = _CQL.findall(cql)
    if query.get("operation") != "searchRetrieve" or not clauses:
        return (
            head + "<sru:numberOfRecords>0</sru:numberOfRecords><sru:diagnostics><diagnostic>"
            f"<message>Unsupported query: {html.escape(cql)}</message></diagnostic>"
            "</sru:diagnostics></sru:searchRetrieveResponse>"
        ).encode()
    found = []
    for identifier, body in sorted(publications.items()):
        meta = _meta_of(body)
        values = {
            "dt.available": meta.get("DCTERMS.available", ""),
            "dt.modified": meta.get("DCTERMS.modified", meta.get("DCTERMS.available", "")),
            "dt.identifier": identifier,
            "w.publicatienaam": meta.get("OVERHEIDop.publicationName", ""),
        }
        ok = all(
            values[index] >= value.strip('"') if op == ">=" else values[index] == value.strip('"')
            for index, op, value in clauses
        )
        if ok:
            found.append((identifier, meta))
    start = max(1, int(query.get("startRecord", "1") or 1))
    size = max(1, min(1000, int(query.get("maximumRecords", "10") or 10)))
    chosen = found[start - 1 : start - 1 + size]
    records = []
    for position, (identifier, meta) in enumerate(chosen, start):
        vj = meta.get("OVERHEIDop.vergaderjaar", "").replace("-", "")
        work = f"{base}/frbr/officielepublicaties/{identifier.split('-')[0]}-tk/{vj}/{identifier}/1"
        items = (
            "".join(
                f'<itemUrl manifestation="{m}">{work}/{m}/{identifier}.{m}</itemUrl>'
                for m in ("html", "pdf")
            )
            + f'<itemUrl manifestation="metadata">{work}/metadata/metadata.xml</itemUrl><itemUrl manifestation="xml">{work}/xml/{identifier}.xml</itemUrl>'
        )
        records.append(
            "<sru:record><sru:recordSchema>http://standaarden.overheid.nl/sru/</sru:recordSchema>"
            "<sru:recordPacking>xml</sru:recordPacking><sru:recordData><gzd><originalData><meta>"
            f"<owmskern><identifier>{identifier}</identifier><title>{html.escape(meta.get('DC.title', identifier))}</title>"
            f'<type scheme="OVERHEIDop.Parlementair">Aanhangsel van de Handelingen</type>'
            f"<modified>{values_or(meta, 'DCTERMS.modified', 'DCTERMS.available')}</modified></owmskern>"
            f"<owmsmantel><available>{meta.get('DCTERMS.available', '')}</available></owmsmantel>"
            f"<tpmeta><product-area>officielepublicaties</product-area><publicatienaam>{html.escape(meta.get('OVERHEIDop.publicationName', ''))}</publicatienaam>"
            f"<vergaderjaar>{meta.get('OVERHEIDop.vergaderjaar', '')}</vergaderjaar><vraagnummer>{meta.get('OVERHEIDop.vraagnummer', '')}</vraagnummer></tpmeta>"
            f"</meta></originalData><enrichedData><url>{work}/xml/{identifier}.xml</url>"
            f"<preferredUrl>{base}/zoek/{identifier}.html</preferredUrl>{items}</enrichedData></gzd>"
            f"</sru:recordData><sru:recordPosition>{position}</sru:recordPosition></sru:record>"
        )
    tail = ""
    if start - 1 + size < len(found):
        tail = f"<sru:nextRecordPosition>{start + size}</sru:nextRecordPosition>"
    return (
        head
        + f"<sru:numberOfRecords>{len(found)}</sru:numberOfRecords><sru:records>"
        + "".join(records)
        + "</sru:records>"
        + tail
        + "</sru:searchRetrieveResponse>"
    ).encode()


def values_or(meta: dict[str, str], *names: str) -> str:
    return next((meta[n] for n in names if meta.get(n)), "")


class _Handler(BaseHTTPRequestHandler):
    server: ReplayHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        with state.lock:
            state.requests.append(self.path)
        fault = state.take_fault(parts.path)
        if fault is not None and self._apply_fault(fault):
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        base = self.server.base_url
        path = parts.path
        if path == "/robots.txt":
            self._send(200, state.robots, "text/plain")
        elif path == "/SyncFeed/2.0/Feed":
            category = query.get("category", "")
            try:
                after = int(query["skiptoken"]) if "skiptoken" in query else None
            except ValueError:
                self._send(
                    400,
                    b"<Error><Message>An error has occurred.</Message></Error>",
                    "application/xml",
                )
                return
            entries, next_token = state.page(category, after)
            body = render_feed(base, category, entries, next_token, base + self.path)
            self._send(200, body, "application/atom+xml; charset=utf-8")
        elif path.startswith("/SyncFeed/2.0/Resources/"):
            self._resource(path.rsplit("/", 1)[-1])
        elif path == "/kamerstukken/kamervragen/detail":
            self._detail(query.get("id", ""), query.get("did", ""))
        elif path == "/kamerstukken/kamervragen":
            self._send(200, self._listing(query), "text/html; charset=utf-8")
        elif path.endswith("/metadata.xml") and path.startswith(("/frbr/", "/zoek/")):
            self._metadata(path.rsplit("/", 2)[-2] if path.startswith("/zoek/") else path)
        elif path.startswith("/frbr/officielepublicaties/") and path.endswith(".xml"):
            self._publication(path.rsplit("/", 1)[-1][: -len(".xml")])
        elif path.startswith("/zoek/") and path.endswith(".xml"):
            self._publication(path[len("/zoek/") : -len(".xml")])
        elif path == "/sru":
            self._send(200, self._sru(query), "text/xml; charset=utf-8")
        elif path == "/Errors/404.htm":
            self._send(200, b"<html><body><h1>Pagina niet gevonden</h1></body></html>", "text/html")
        else:
            self._send(404, b"not found", "text/plain")

    def _resource(self, guid: str) -> None:
        if not _GUID.match(guid):
            self._send(
                400, b"<Error><Message>An error has occurred.</Message></Error>", "application/xml"
            )
            return
        with self.server.state.lock:
            found = self.server.state.resources.get(guid)
        if found is None:
            self._send(404, b"<Error><Message>Not found.</Message></Error>", "application/xml")
            return
        self._send(200, found[1], found[0])

    def _detail(self, zaak: str, did: str) -> None:
        state = self.server.state
        with state.lock:
            found = state.pages.get((zaak, did)) or next(
                (page for (_, d), page in state.pages.items() if d == did and zaak == did), None
            )
        if found is None:
            self._send(404, _TK_NOT_FOUND, "text/html; charset=utf-8")
            return
        body, last_modified = found
        etag = 'W/"' + hashlib.sha256(body).hexdigest()[:24] + '"'
        validators = {"ETag": etag, "Last-Modified": last_modified}
        if self.headers.get("If-None-Match") == etag or (
            self.headers.get("If-None-Match") is None
            and self.headers.get("If-Modified-Since") == last_modified
        ):
            self.send_response(304)
            for key, value in validators.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send(200, body, "text/html; charset=utf-8", validators)

    def _listing(self, query: dict[str, str]) -> bytes:
        """The kamervragen search listing: 15 cards per page, newest first."""
        state = self.server.state
        with state.lock:
            pages = [(key, body) for key, (body, _) in state.pages.items()]
        cards = sorted(
            (_card_of(z, d, body) for (z, d), body in pages), key=lambda c: c[0], reverse=True
        )
        try:
            number = max(1, int(query.get("page", "1")))
        except ValueError:
            number = 1
        chosen = cards[(number - 1) * 15 : number * 15]
        return render_listing([c[1] for c in chosen], number, len(cards) > number * 15).encode()

    def _metadata(self, path: str) -> None:
        identifier = path if not path.startswith("/frbr/") else path.split("/")[-4]
        with self.server.state.lock:
            body = self.server.state.publications.get(identifier)
        if body is None:
            self._soft_404()
            return
        self._send(200, render_metadata(body), "application/xml; charset=utf-8")

    def _sru(self, query: dict[str, str]) -> bytes:
        with self.server.state.lock:
            publications = dict(self.server.state.publications)
        return render_sru(self.server.base_url, publications, query)

    def _soft_404(self) -> None:
        self.send_response(302)
        self.send_header("Location", f"{self.server.base_url}/Errors/404.htm")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _publication(self, identifier: str) -> None:
        with self.server.state.lock:
            body = self.server.state.publications.get(identifier)
            moved = self.server.state.moved.get(identifier)
        if moved is not None:
            self.send_response(301)
            self.send_header("Location", f"{self.server.base_url}{moved}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if body is None:
            # KOOP answers a missing publication with a redirect to an error page (a soft 404).
            self._soft_404()
            return
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send(200, body, "application/xml; charset=utf-8", {"ETag": etag})

    def _apply_fault(self, fault: Fault) -> bool:
        if fault.mode == "status":
            self._send(
                fault.status,
                b"<Error><Message>An error has occurred.</Message></Error>",
                "application/xml",
            )
        elif fault.mode == "empty":
            self._send(200, b"", "application/xml")
        elif fault.mode == "stall":
            time.sleep(fault.seconds)
            return False
        elif fault.mode == "reset":
            self.close_connection = True
            self.connection.close()
        elif fault.mode == "truncate":
            self.server.truncate_next = True
            return False
        return True

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        if self.server.truncate_next and status == 200:
            self.server.truncate_next = False
            body = body[: max(1, len(body) // 2)]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


class ReplayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ReplayState, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.state = state
        self.truncate_next = False
        self.base_url = f"http://{host}:{self.server_address[1]}"


class ReplayServer:
    """Runs a `ReplayHTTPServer` in a background thread; use as a context manager."""

    def __init__(self, state: ReplayState | None = None, port: int = 0) -> None:
        self.state = state or ReplayState()
        self.httpd = ReplayHTTPServer(self.state, port=port)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return self.httpd.base_url

    def source_settings(self) -> dict[str, str]:
        """Config values that point every source at this server."""
        return {
            "syncfeed": f"{self.url}/SyncFeed/2.0",
            "repository_url": self.url,
            "sru_url": f"{self.url}/sru",
            "zoek_url": f"{self.url}/zoek",
            "tweedekamer": self.url,
        }

    def __enter__(self) -> ReplayServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
