"""Hostile input for the spiders' own parsers (tweedekamer.nl HTML, SRU, metadata.xml, SyncFeed
marks, downloaded files) and for Telegram output: a result or the parser's documented error,
never anything else; alert text is always valid Telegram HTML with upstream markup escaped."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from monitor import notify
from monitor.records import ChangeKind, ChangeRecord, EventKind, Severity
from monitor.replay import load_timeline, render_metadata, render_sru
from spiders.files import FileError, extract_text
from spiders.koop import SruError, parse_metadata, parse_sru
from spiders.syncfeed import FeedError, parse_marks
from spiders.tweedekamer import PageError, parse_detail, parse_listing
from tests.conftest import DEMO_DATA
from tests.fakes.telegram_api import html_problem
from tests.reliability_log import record
from tests.test_fuzz import FUZZ

PAGE = next(iter(load_timeline()[2].pages.values()), b"<html></html>")
PUBLICATION = (DEMO_DATA / "ah-tk-20212022-105.xml").read_bytes()
SRU = render_sru("http://x", {"ah-tk-20212022-105": PUBLICATION},
                 {"operation": "searchRetrieve", "query": "dt.identifier=ah-tk-20212022-105"})  # fmt: skip
METADATA = render_metadata(PUBLICATION)
PDF = (DEMO_DATA / "2021D35707.pdf").read_bytes()
XSS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"'><svg onload=alert(1)>",
       "javascript:alert(1)", "&lt;b&gt;", "<b>", "</i>", "&", "<a href='x'>"]  # fmt: skip
counts: dict[str, int] = {}


def mangled(seed: bytes) -> Any:
    """A real body cut anywhere, with hostile fragments spliced in."""
    fragments = st.sampled_from([b"<", b">", b"</div>", b"&bogus;", b"\x00", b"\xff",
                                 b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>",
                                 *(x.encode() for x in XSS)])  # fmt: skip
    return st.tuples(
        st.integers(0, len(seed)), st.lists(fragments, max_size=12), st.integers(0, len(seed))
    ).map(lambda t: seed[: t[0]] + b"".join(t[1]) + seed[t[2] :])


def count(name: str) -> None:
    counts[name] = counts.get(name, 0) + 1


@FUZZ
@given(mangled(PAGE) | st.binary(max_size=1500))
def test_tweedekamer_page_parsers_fail_only_with_page_error(body: bytes) -> None:
    count("tweedekamer.nl detail and listing HTML")
    with contextlib.suppress(PageError):
        page = parse_detail(body)
        assert "<script" not in page.content_html.lower().split("</h1>", 1)[-1]
    cards, following = parse_listing(body, "https://www.tweedekamer.nl/kamerstukken/kamervragen")
    assert all(c.did for c in cards)
    assert following is None or following.startswith("http")


@FUZZ
@given(mangled(SRU) | mangled(METADATA) | st.binary(max_size=1500))
def test_sru_and_metadata_parsers_fail_only_with_sru_error(body: bytes) -> None:
    count("KOOP SRU response and metadata.xml")
    with contextlib.suppress(SruError):
        parse_sru(body)
    with contextlib.suppress(SruError):
        parse_metadata(body)


@FUZZ
@given(st.binary(max_size=2000))
def test_feed_marks_fail_only_with_feed_error(body: bytes) -> None:
    count("SyncFeed page marks (seek)")
    with contextlib.suppress(FeedError):
        parse_marks(body)


@FUZZ
@given(mangled(PDF[:4000]) | st.binary(max_size=3000), st.sampled_from(["application/pdf",
       "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ""]))  # fmt: skip
def test_downloaded_files_fail_only_with_file_error(body: bytes, content_type: str) -> None:
    count("downloaded PDF/DOCX files")
    with contextlib.suppress(FileError):
        extract_text(body, content_type)


hostile_text = st.lists(st.sampled_from(XSS) | st.text(max_size=40), max_size=8).map("".join)


@FUZZ
@given(hostile_text, hostile_text, hostile_text, hostile_text, hostile_text)
def test_alert_text_is_valid_telegram_html_whatever_upstream_says(
    title: str, summary: str, reason: str, old: str, new: str
) -> None:
    count("Telegram alert text (title, summary, reason, before/after sentences)")
    detail = {"diff": {"questions": [{
        "number": "1", "status": "changed", "severity": "high", "reasons": [reason], "answer_old": old,
        "answer_new": new, "sentences": [{"old": old, "new": new, "kinds": ["denial_weakened"],
                                          "reason": reason}]}]}}  # fmt: skip
    for event in (EventKind.CORRECTED, EventKind.ANSWERED):
        change = ChangeRecord(1, "k", event, title[:20] or "2021Z14612", title, "2021D1",
                              (ChangeKind.DENIAL_WEAKENED,), Severity.HIGH, summary, detail,
                              "2021-01-01T00:00:00+00:00")  # fmt: skip
        for message in notify.render(change, "https://kamerwacht.example", reason):
            assert html_problem(message) is None, message
            assert "<script" not in message and "<img" not in message and "<svg" not in message


def test_zz_record_parser_fuzz_figures() -> None:
    """Runs last in this module: one table row per parser with the examples tried."""
    time.sleep(0)
    for name, n in sorted(counts.items()):
        record("hostile input", f"fuzz: {name}", n,
               "a result or the documented error; never a crash; escaped output")  # fmt: skip
