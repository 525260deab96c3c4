"""Hostile input: every parser and the diff/classifier either return a result or raise their
documented error (`ParseError`, `FeedError`), never anything else."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import classify, diff, normalize, records, segment
from monitor.records import ParseError, Rendition
from spiders.syncfeed import FeedError, parse_feed
from tests.conftest import DEMO_DATA

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEED_XML = (DEMO_DATA / "ah-tk-20212022-105.xml").read_bytes()

xml_fragments = st.sampled_from(
    [b"<vraag>", b"</vraag>", b"<antwoord>", b"</antwoord>", b"<nr>Vraag 1</nr>", b"<al>", b"</al>",
     b"<noot>", b"&amp;", b"&bogus;", b"<![CDATA[x]]>", b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>",
     b"&e;", b"\x00", b"\xff\xfe", "é".encode(), b"<kamervragen>", b"</kamervragen>", b"<script>alert(1)</script>"]
)  # fmt: skip


@FUZZ
@given(st.lists(xml_fragments, max_size=30), st.integers(min_value=0, max_value=len(SEED_XML)))
def test_koop_xml_parser_never_crashes_on_mangled_input(pieces: list[bytes], cut: int) -> None:
    body = SEED_XML[:cut] + b"".join(pieces)
    try:
        parsed = segment.parse(body, Rendition.KOOP_XML)
    except ParseError:
        return
    assert all(item.numbers for item in (*parsed.questions, *parsed.answers))


def test_external_entities_are_never_resolved() -> None:
    body = (
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/hostname'>]>"
        b"<officiele-publicatie><kamervragen><antwoord><nr>Antwoord 1</nr><al>&e;</al></antwoord>"
        b"</kamervragen></officiele-publicatie>"
    )
    try:
        parsed = segment.parse(body, Rendition.KOOP_XML)
    except ParseError:
        return
    from pathlib import Path

    hostname = Path("/etc/hostname").read_text(encoding="utf-8").strip()
    assert hostname not in " ".join(parsed.answers[0].paragraphs if parsed.answers else ())


@FUZZ
@given(st.binary(max_size=2000))
def test_html_and_text_parsers_never_crash(body: bytes) -> None:
    for rendition in (Rendition.KOOP_HTML, Rendition.TK_HTML, Rendition.TEXT, Rendition.FILE_TEXT):
        with contextlib.suppress(ParseError):
            segment.parse(body, rendition)


@FUZZ
@given(st.text(max_size=3000))
def test_syncfeed_page_parser_fails_only_with_feed_error(text: str) -> None:
    with contextlib.suppress(FeedError):
        parse_feed(text.encode("utf-8", "surrogatepass"), "http://127.0.0.1/Feed", "Document")


@FUZZ
@given(
    st.dictionaries(
        st.text(max_size=15),
        st.one_of(st.none(), st.text(max_size=20), st.integers(), st.booleans()),
        max_size=8,
    )
)
def test_crawl_records_are_validated(data: dict[str, object]) -> None:
    for kind in ("feed_entity", "feed_page", "fetched_body", "crawl_problem", "x"):
        with contextlib.suppress(ParseError):
            records.from_dict({**data, "record": kind})


_PIECES = st.sampled_from(
    [
        "niet ",
        "geen ",
        "toestemming ",
        "op dit moment ",
        "door de politie ",
        "in Nederland ",
        "onjuist ",
        "100 ",
        "o.a. ",
        "wordt ",
        "gedaan. ",
        "« ",
        "» ",
        "\u00ad",
        "\n",
        "- ",
        "1.000 ",
    ]
) | st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.;:-'\"0123456789", max_size=12)
sentences = st.lists(_PIECES, max_size=25).map("".join)


@FUZZ
@given(sentences, sentences)
def test_classifier_always_returns_kinds_with_reasons(old: str, new: str) -> None:
    result = classify.classify(old, new)
    assert result.kinds
    assert len(result.reasons) >= 1
    if normalize.comparison_key(old) == normalize.comparison_key(new):
        assert result.kinds == (records.ChangeKind.EDITORIAL,)


@FUZZ
@given(st.lists(sentences, min_size=1, max_size=5), st.lists(sentences, min_size=1, max_size=5))
def test_document_diff_is_total_and_identity_is_unchanged(old: list[str], new: list[str]) -> None:
    def document(answers: list[str]) -> records.ParsedDocument:
        items = tuple(
            records.Item("answer", (str(i),), f"Antwoord {i}", (text,))
            for i, text in enumerate(answers, 1)
        )
        return records.ParsedDocument("x", Rendition.TEXT, "", (), items)

    a, b = document(old), document(new)
    assert all(q.status == "unchanged" for q in diff.compare(a, a).questions)
    result = diff.compare(a, b)
    assert result.to_json()["summary"]["changed"] == len(result.changed)
