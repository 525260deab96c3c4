"""The analysts' workbench over the seed case run through the real pipeline: filters, question
sets, diffs, evidence, search, Atom feeds and exports."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
import pytest

from monitor import config as config_module
from monitor import feeds, jobs, schema
from monitor.config import Config
from monitor.replay import EntitySpec, ReplayServer, ReplayState, Stage, load_timeline
from monitor.store import Store
from monitor.web import create_app
from tests.conftest import LiveServer, database_url, reset_postgres, write_config
from tests.test_end_to_end import poll

SEED = "2021Z14612"
LATE = "2021Z99001"  # tabled, never answered: overdue in the tests' "today"
HOSTILE = "<script>alert(1)</script>"
TODAY = dt.date(2021, 11, 1)

LATE_STAGE = Stage(
    name="late",
    say="Questions nobody answers",
    entities=(
        EntitySpec(
            "Zaak", "9f0e2d4a-3c61-4f0e-9a7c-2021a9900100",
            {"nummer": LATE, "soort": "Schriftelijke vragen", "gestartOp": "2021-09-01T00:00:00+02:00",
             "onderwerp": "Vragen over camera's met gezichtsherkenning op stations", "vergaderjaar": "2021-2022"},
        ),
        EntitySpec(
            "ZaakActor", "9f0e2d4a-3c61-4f0e-9a7c-2021a9900101",
            {"actorNaam": "A. Kamerlid", "actorFractie": "SP", "relatie": "Indiener"},
            {"zaak": ["9f0e2d4a-3c61-4f0e-9a7c-2021a9900100"]},
        ),
        EntitySpec(
            "ZaakActor", "9f0e2d4a-3c61-4f0e-9a7c-2021a9900102",
            {"actorNaam": "Minister van Infrastructuur en Waterstaat", "relatie": "Gericht aan",
             "functie": "minister van Infrastructuur en Waterstaat"},
            {"zaak": ["9f0e2d4a-3c61-4f0e-9a7c-2021a9900100"]},
        ),
        EntitySpec(
            "Document", "9f0e2d4a-3c61-4f0e-9a7c-2021d9900100",
            {"soort": "Schriftelijke vragen", "documentNummer": "2021D99001", "titel": "Schriftelijke vragen",
             "onderwerp": "Vragen van het lid Kamerlid over camera's met gezichtsherkenning op stations",
             "datum": "2021-09-01T00:00:00+02:00", "vergaderjaar": "2021-2022"},
            {"zaak": ["9f0e2d4a-3c61-4f0e-9a7c-2021a9900100"]},
        ),
    ),
    publications={},
)  # fmt: skip


@dataclass(frozen=True)
class Archive:
    config: Config
    store: Store
    replay_url: str


def hostile_timeline() -> list[Stage]:
    """The seed timeline whose nader antwoord adds a sentence carrying markup as text."""
    stages = load_timeline()
    out = []
    for stage in stages:
        publications = dict(stage.publications)
        if "ah-tk-20212022-472" in publications:
            xml = publications["ah-tk-20212022-472"].decode()
            xml = xml.replace(
                "<al>Ja.</al>",
                "<al>Ja. Het bericht citeerde de code &lt;script&gt;alert(1)&lt;/script&gt; letterlijk.</al>",
                1,
            )
            publications["ah-tk-20212022-472"] = xml.encode()
        out.append(dataclasses.replace(stage, publications=publications))
    return out


def build_archive(folder: Path, stages: list[Stage]) -> Iterator[Archive]:
    """Publish `stages` one by one on the replay server and poll the real pipeline after each."""
    with ReplayServer(ReplayState(page_size=3)) as replay:
        config = config_module.load(write_config(folder, replay), environ={})
        engine = schema.make_engine(database_url(folder))
        if engine.dialect.name == "postgresql":
            reset_postgres(engine)
        schema.upgrade(engine)
        store = Store(engine, jobs.make_planner(config, telegram=False))
        for stage in stages:
            replay.state.apply(stage)
            asyncio.run(poll(config, store, jobs.ConsoleNotifier(io.StringIO())))
        try:
            yield Archive(config, store, replay.url)
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    yield from build_archive(tmp_path_factory.mktemp("workbench"), [*load_timeline(), LATE_STAGE])


@dataclass(frozen=True)
class Reply:
    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.content)


class Client:
    """A small HTTP client over urllib (Starlette's Client wants a package we don't ship)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, method: str, path: str, params: dict[str, str] | None = None) -> Reply:
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url, method=method, data=b"" if method != "GET" else None)
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return Reply(response.status, _lower(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, _lower(exc.headers), exc.read())

    def get(self, path: str, params: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, params)


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@pytest.fixture(scope="module")
def client(archive: Archive) -> Iterator[Client]:
    with LiveServer(create_app(archive.store, archive.config, today=lambda: TODAY)) as web:
        yield Client(web.url)


def correction_id(store: Store) -> int:
    return next(c.id for c in store.change_records() if c.event.value == "corrected")


def test_changes_feed_lists_newest_first_with_before_and_after(client: Client) -> None:
    page = client.get("/changes").text
    events = re.findall(r'<tr class="change event-(\w+)">', page)
    assert events == ["tabled", "corrected", "answered", "answered", "delayed", "tabled"]
    assert "wordt op dit moment in Nederland niet gedaan" in page
    assert "geen toestemming gegeven" in page
    assert 'lang="nl"' in page


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("kind=denial_weakened", ["geen toestemming gegeven"], ["Vragen over camera"]),
        ("severity=high", ["denial_weakened"], ["Vragen over camera"]),
        ("event=tabled", ["Vragen over camera", SEED], ["geen toestemming gegeven"]),
        ("party=SP", [LATE], [SEED]),
        ("member=ginneken", [SEED], [LATE]),
        ("ministry=Infrastructuur", [LATE], [SEED]),
        ("topic=gezichtsherkenning", [SEED, LATE], []),
        ("since=2000-01-01&until=2000-12-31", ["Nothing detected yet for these filters"], [SEED]),
    ],
)
def test_changes_feed_filters(
    client: Client, query: str, shown: list[str], hidden: list[str]
) -> None:
    response = client.get(f"/changes?{query}")
    assert response.status_code == 200
    table = response.text.split('<table id="changes">')[1]
    for text in shown:
        assert text in response.text
    for text in hidden:
        assert text not in table


def test_a_bad_filter_value_is_ignored_with_a_note(client: Client) -> None:
    page = client.get("/changes?kind=nonsense&since=yesterday").text
    assert "Ignored filter: kind: unknown value" in page
    assert "geen toestemming gegeven" in page


def test_change_permalink_shows_kinds_reasons_evidence_and_both_views(
    archive: Archive, client: Client
) -> None:
    cid = correction_id(archive.store)
    inline = client.get(f"/changes/{cid}").text
    assert f'<link rel="canonical" href="{archive.config.web.public_url}/changes/{cid}">' in inline
    assert "<del>Nederland niet gedaan</del>" in inline
    assert "denial_weakened" in inline
    assert "scope_narrowed" in inline
    assert "geen toestemming" in inline.split('class="reasons"')[1]  # a reason names the words
    assert "/versions/" in inline
    assert "download" in inline
    side = client.get(f"/changes/{cid}?view=side").text
    before_cell, after_cell = (
        side.split('<tr class="op-replace">')[1].split("</tr>")[0].split("</td>")[:2]
    )
    assert "<del>Nederland niet gedaan</del>" in before_cell
    assert "<ins>" not in before_cell
    assert "<ins>de politieorganisatie geen toestemming gegeven</ins>" in after_cell
    assert "<del>" not in after_cell


def test_diff_page_compares_two_documents_by_number_or_version(
    archive: Archive, client: Client
) -> None:
    by_number = client.get("/diff?old=2021D35707&new=2021D38311")
    assert by_number.status_code == 200
    assert "<del>Nederland niet gedaan</del>" in by_number.text
    versions = archive.store.versions_of(SEED)
    answer, nader = (v.id for v in versions if v.document_number in ("2021D35707", "2021D38311"))
    by_id = client.get(f"/diff?old={answer}&new={nader}&view=side&all=1")
    assert "<ins>de politieorganisatie geen toestemming gegeven</ins>" in by_id.text
    assert "unchanged" in by_id.text  # all=1 also lists the answers that stayed the same
    assert client.get("/diff?old=2021D00000&new=2021D38311").status_code == 404
    assert client.get("/diff").status_code == 200  # the empty form


def test_question_set_page_shows_timeline_and_answers_per_number(client: Client) -> None:
    page = client.get(f"/questions/{SEED}").text
    timeline = page.split('id="timeline"')[1].split('id="answers"')[0]
    steps = [
        "Questions tabled",
        "Delay notice",
        "Answer",
        "Nader answer",
        "Version fetched",
        "Answer changed",
    ]
    positions = [timeline.index(step) for step in steps]
    assert positions[:4] == sorted(positions[:4])
    assert "cites ah-tk-20212022-105" in timeline
    answers = page.split('id="answers"')[1].split('id="changes"')[0]
    question4 = answers.split('id="n4"')[1].split("</section>")[0]
    assert "in Nederland niet gedaan" in question4  # the first answer
    assert "geen toestemming gegeven" in question4  # and the nader answer
    assert "Compare the last two answers" in question4
    assert "answer changed" in question4
    assert "answer changed" not in answers.split('id="n2"')[1].split("</section>")[0]
    assert "overdue" not in page.split('id="timeline"')[0]


def test_unanswered_question_set_past_its_deadline_is_overdue(client: Client) -> None:
    page = client.get(f"/questions/{LATE}").text
    assert "overdue by 40 days" in page  # deadline 22 Sep (tabled 1 Sep), "today" 1 Nov
    assert "overdue 40 days" in client.get("/questions").text


def test_version_evidence_and_raw_download_match_the_stored_hash(
    archive: Archive, client: Client
) -> None:
    version = next(v for v in archive.store.versions_of(SEED) if v.document_number == "2021D38311")
    page = client.get(f"/versions/{version.id}").text
    assert version.blob_sha256 in page
    assert version.source_url.startswith(archive.replay_url)
    assert version.source_url in page
    assert "koop-xml" in page
    raw = client.get(f"/versions/{version.id}/raw")
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-disposition"].startswith("attachment;")
    assert hashlib.sha256(raw.content).hexdigest() == version.blob_sha256
    assert raw.headers["x-content-sha256"] == version.blob_sha256
    assert client.get("/versions/999999").status_code == 404


def test_search_finds_old_and_new_answer_text_with_marked_snippets(client: Client) -> None:
    page = client.get("/search", params={"q": "geen toestemming"}).text
    assert "<mark>toestemming</mark>" in page  # "geen" is a stop word on PostgreSQL
    assert f"/questions/{SEED}#n4" in page
    old = client.get("/search", params={"q": '"niet gedaan"'}).text
    assert "1 result " in old  # only the first answer said it
    assert "2021D35707" in old
    assert "0 results" in client.get("/search", params={"q": "xylofoon"}).text
    # FTS syntax in the input is just text, never an error
    assert client.get("/search", params={"q": 'NEAR( "" * OR -'}).status_code == 200


def test_atom_feeds_parse_as_atom(archive: Archive, client: Client) -> None:
    cid = correction_id(archive.store)
    for path in (
        "/changes.atom",
        "/topics/gezichtsherkenning.atom",
        f"/questions/{SEED}.atom",
        "/changes.atom?kind=denial_weakened",
    ):
        response = client.get(path)
        assert response.headers["content-type"].startswith("application/atom+xml")
        parsed = feedparser.parse(response.content)
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        assert parsed.version == "atom10"
        assert parsed.entries, path
    feed = feedparser.parse(client.get("/changes.atom?kind=denial_weakened").content)
    (entry,) = feed.entries
    assert entry.id == entry.link == f"{archive.config.web.public_url}/changes/{cid}"
    assert "denial_weakened" in {t.term for t in entry.tags}
    assert "geen toestemming gegeven" in entry.content[0].value
    assert client.get("/topics/nonsense.atom").status_code == 404


def test_change_exports_round_trip_between_json_and_csv(archive: Archive, client: Client) -> None:
    as_json = client.get("/changes.json").json()["changes"]
    as_csv = client.get("/changes.csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert feeds.read_changes_csv(as_csv.text) == as_json
    assert [c["id"] for c in as_json] == [c.id for c in archive.store.change_records()]
    seed = next(c for c in as_json if c["event"] == "corrected")
    assert "denial_weakened" in seed["kinds"]
    assert any("geen toestemming gegeven" in a for a in seed["after"])


def test_question_set_exports_carry_every_item_and_version(
    archive: Archive, client: Client
) -> None:
    data = client.get(f"/questions/{SEED}.json").json()
    assert data["number"] == SEED
    assert {v["id"] for v in data["versions"]} == {v.id for v in archive.store.versions_of(SEED)}
    rows = feeds.read_items_csv(client.get(f"/questions/{SEED}.csv").text)
    assert rows == data["items"]
    assert any("geen toestemming gegeven" in r["text"] for r in rows if r["role"] == "answer")
    assert client.get("/questions/2000Z00000.json").status_code == 404


def test_csv_cells_that_look_like_formulas_are_defused_and_read_back() -> None:
    rows = [
        dict.fromkeys(feeds.ITEM_COLUMNS, "")
        | {"version_id": 1, "text": "=HYPERLINK(1)", "label": "'quoted"}
    ]
    text = feeds.items_csv(rows)
    assert next(csv.DictReader(io.StringIO(text)))["text"] == "'=HYPERLINK(1)"
    (back,) = feeds.read_items_csv(text)
    assert back["text"] == "=HYPERLINK(1)"
    assert back["label"] == "'quoted"


def test_the_app_has_no_write_endpoints_and_shows_no_secrets(
    archive: Archive, client: Client
) -> None:
    for path in ("/", "/changes", f"/questions/{SEED}", "/search", "/diff", "/changes.json"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert client.request(method, path).status_code == 405, (method, path)
    health = json.dumps(client.get("/healthz").json())
    assert "token" not in health.lower()
    assert archive.config.storage.database_url not in health
    assert client.get("/no/such/page").status_code == 404
    csp = client.get("/").headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # no script source at all
