"""Segmentation of every rendition into numbered items, with the quirks real documents have."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import segment
from monitor.normalize import comparison_key
from monitor.records import ParsedDocument, ParseError, Rendition
from tests.conftest import DEMO_DATA, FIXTURES

SEGMENT = FIXTURES / "segment"

# The same hand-written answer (ah-tk-20212022-901) in every rendition it is published in.
RENDITIONS = {
    "koop-xml": ("ah-tk-20212022-901.xml", Rendition.KOOP_XML),
    "koop-html": ("ah-tk-20212022-901.html", Rendition.KOOP_HTML),
    "tk-html": ("tk-detail-2021Z19001-2021D45001.html", Rendition.TK_HTML),
    "pdf-text": ("ah-tk-20212022-901.pdf.txt", Rendition.FILE_TEXT),
    "docx-text": ("ah-tk-20212022-901.docx.txt", Rendition.TEXT),
}
# A nader antwoord (ah-tk-20212022-950) that repeats every question but answers only some.
NADER = {
    "koop-xml": ("ah-tk-20212022-950.xml", Rendition.KOOP_XML),
    "koop-html": ("ah-tk-20212022-950.html", Rendition.KOOP_HTML),
    "pdf-text": ("ah-tk-20212022-950.pdf.txt", Rendition.FILE_TEXT),
}


def load(name: str, rendition: Rendition, folder: Path = SEGMENT) -> ParsedDocument:
    return segment.parse((folder / name).read_bytes(), rendition)


@pytest.fixture(params=sorted(RENDITIONS))
def answer(request: pytest.FixtureRequest) -> ParsedDocument:
    return load(*RENDITIONS[request.param])


@pytest.fixture(params=sorted(NADER))
def nader(request: pytest.FixtureRequest) -> ParsedDocument:
    return load(*NADER[request.param])


def shape(doc: ParsedDocument) -> list[tuple[str, tuple[str, ...], str]]:
    return [(i.role, i.numbers, comparison_key(i.text)) for i in (*doc.questions, *doc.answers)]


def test_the_same_answer_yields_the_same_items_in_every_rendition() -> None:
    docs = {name: load(*spec) for name, spec in RENDITIONS.items()}
    reference = shape(docs["koop-xml"])
    assert len(reference) == 11
    for name, doc in docs.items():
        assert shape(doc) == reference, name


def test_xml_html_and_pdf_text_give_identical_paragraphs() -> None:
    xml, html, pdf = (load(*RENDITIONS[n]) for n in ("koop-xml", "koop-html", "pdf-text"))
    for other in (html, pdf):
        assert [i.paragraphs for i in other.answers] == [i.paragraphs for i in xml.answers]
        assert [i.paragraphs for i in other.questions] == [i.paragraphs for i in xml.questions]


def test_combined_answer_heading_covers_each_number(answer: ParsedDocument) -> None:
    combined = answer.answer_for("2")
    assert combined is not None
    assert combined.numbers == ("2", "3")
    assert answer.answer_for("3") is combined


def test_answer_on_question_4_5_and_6_covers_all_three(answer: ParsedDocument) -> None:
    item = answer.answer_for("5")
    assert item is not None
    assert item.numbers == ("4", "5", "6")
    assert item.text.startswith("Nee. Bij demonstraties wordt geen gezichtsherkenning ingezet")


def test_see_the_answer_to_question_2_is_a_reference_not_an_answer(answer: ParsedDocument) -> None:
    pair = next(p for p in segment.align(answer).pairs if p.number == "7")
    assert pair.answer is not None
    assert pair.answer.see_also == ("2",)
    assert pair.via == ("2",)


def test_unnumbered_opening_is_the_preamble_not_an_answer(answer: ParsedDocument) -> None:
    assert answer.preamble == (
        "Alle vragen zijn beantwoord vanuit de informatie die de politie en de Koninklijke "
        "Marechaussee mij hebben verstrekt.",
    )
    assert answer.unmatched == ()
    assert all("Alle vragen" not in i.text for i in answer.answers)


def test_footnote_calls_are_dropped_from_the_text(answer: ParsedDocument) -> None:
    question = answer.question_for("1")
    assert question is not None
    assert question.text.endswith("door de politie?")
    four = answer.answer_for("4")
    assert four is not None
    assert four.text.endswith("eerder geïnformeerd.")


def test_footnotes_are_kept_apart(answer: ParsedDocument) -> None:
    assert answer.footnotes == (
        "Bericht op een nieuwssite, oktober 2021.",
        "Kamerstuk 32 761, nr. 191.",
    )


def test_list_items_are_paragraphs_without_bullets(answer: ParsedDocument) -> None:
    item = answer.answer_for("1")
    assert item is not None
    assert item.paragraphs[1:] == (
        "bij het identificeren van verdachten in een opsporingsonderzoek;",
        "bij het zoeken naar vermiste personen;",
        "bij identiteitsvaststelling in de strafrechtketen.",
    )


def test_table_rows_are_paragraphs_with_their_cells(answer: ParsedDocument) -> None:
    item = answer.answer_for("2")
    assert item is not None
    assert item.paragraphs[-3:] == ("Jaar | Zoekvragen in CATCH", "2019 | 1.021", "2020 | 1.145")


def test_pdf_page_furniture_and_hyphenation_are_removed() -> None:
    doc = load(*RENDITIONS["pdf-text"])
    text = " ".join([*doc.header, *(i.text for i in (*doc.questions, *doc.answers))])
    for furniture in ("ISSN", "’s-Gravenhage", "Aanhangsel 2", "ah-tk-20212022-901"):
        assert furniture not in text
    item = doc.answer_for("2")
    assert item is not None
    # "gezichts-" ended page 1; the paragraph goes on after the running head of page 2.
    assert "voordat de gezichtsherkenningssoftware een resultaat mocht opleveren." in item.text
    assert len(item.paragraphs) == 4


def test_a_page_break_between_paragraphs_keeps_them_apart() -> None:
    text = (
        "Antwoord 1\nDe eerste alinea eindigt hier.\n\n"
        "Tweede Kamer, vergaderjaar 2021–2022, Aanhangsel 2\n\nDe tweede alinea begint hier.\n"
    )
    doc = segment.parse(text.encode(), Rendition.FILE_TEXT)
    assert doc.answers[0].paragraphs == (
        "De eerste alinea eindigt hier.",
        "De tweede alinea begint hier.",
    )


def test_nader_answer_repeating_every_question_reports_the_unanswered(
    nader: ParsedDocument,
) -> None:
    alignment = segment.align(nader)
    assert [q.numbers for q in nader.questions] == [("1",), ("2",), ("3",), ("4",)]
    assert [a.numbers for a in nader.answers] == [("2", "3"), ("9",)]
    assert alignment.unanswered == ("1", "4")
    assert nader.cited == ("ah-tk-20212022-901",)


def test_unnumbered_answer_after_numbered_ones_is_unmatched_not_attached(
    nader: ParsedDocument,
) -> None:
    assert nader.unmatched == ("Ik heb hierover ook met de korpschef gesproken.",)
    assert all("korpschef" not in a.text for a in nader.answers)
    assert nader.preamble[0].startswith("In mijn antwoord op vraag 2 en 3 zijn onjuiste")


def test_answer_number_without_a_question_is_reported_as_orphan(nader: ParsedDocument) -> None:
    assert segment.align(nader).orphans == ("9",)


def test_the_seed_nader_answer_keeps_its_combined_answer_and_citations() -> None:
    doc = load("ah-tk-20212022-472.xml", Rendition.KOOP_XML, DEMO_DATA)
    assert doc.answer_for("6") is doc.answer_for("5")
    assert doc.cited == ("ah-tk-20202021-4076", "ah-tk-20212022-105")
    assert segment.align(doc).unanswered == ()


@pytest.mark.parametrize(
    ("label", "numbers"),
    [
        ("Vraag 4, 5 en 6", ("4", "5", "6")),
        ("Antwoord 2 en 3", ("2", "3")),
        ("Antwoord op vragen 2 t/m 4", ("2", "3", "4")),
        ("Antwoord op vraag 10", ("10",)),
        ("Vraag 2a", ("2a",)),
    ],
)
def test_heading_numbers(label: str, numbers: tuple[str, ...]) -> None:
    assert segment.numbers_in(label) == numbers
    assert segment._HEADING.match(label)


@pytest.mark.parametrize(
    "text",
    [
        "Vragen van het lid Kuik (CDA) aan de minister (ingezonden 2 mei 2021).",
        "Antwoord van minister Grapperhaus (ontvangen 14 december 2021).",
        "Vraag het de minister in 2021.",
    ],
)
def test_prose_starting_with_vraag_or_antwoord_is_not_a_heading(text: str) -> None:
    assert segment._HEADING.match(text) is None
    assert segment._INLINE_HEADING.match(text) is None


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("Zie het antwoord op vraag 2.", ("2",)),
        ("Zie antwoord vraag 3.", ("3",)),
        ("Ik verwijs u naar mijn antwoorden op de vragen 4 en 5.", ("4", "5")),
    ],
)
def test_references_to_other_answers(text: str, numbers: tuple[str, ...]) -> None:
    assert segment.see_also(text) == numbers


def test_text_without_any_heading_is_all_unmatched() -> None:
    doc = segment.parse(b"Een brief zonder genummerde vragen.\n\nNog een alinea.", Rendition.TEXT)
    assert doc.questions == doc.answers == ()
    assert doc.unmatched == ("Een brief zonder genummerde vragen.", "Nog een alinea.")


@pytest.mark.parametrize(
    ("body", "rendition"),
    [
        (b"<officiele-publicatie><kamervragen>", Rendition.KOOP_XML),
        (b"\xff\xfe\x00", Rendition.TEXT),
    ],
)
def test_unreadable_input_is_a_parse_error(body: bytes, rendition: Rendition) -> None:
    with pytest.raises(ParseError):
        segment.parse(body, rendition)


def test_question_document_numbered_1_2_3_matches_the_questions_of_the_answer() -> None:
    questions = load("kv-tk-2021Z19001.pdf.txt", Rendition.FILE_TEXT)
    answer = load(*RENDITIONS["koop-xml"])
    assert [(q.numbers, q.paragraphs) for q in questions.questions] == [
        (q.numbers, q.paragraphs) for q in answer.questions
    ]
    assert questions.footnotes == ("Bericht op een nieuwssite, oktober 2021.",)
    assert questions.answers == ()
    assert questions.unmatched == ()


def test_inline_numbered_questions_become_items() -> None:
    text = "Vragen van het lid X.\n\n1. Is dat zo?\n\n2. Waarom niet?\n"
    doc = segment.parse(text.encode(), Rendition.TEXT)
    assert [(q.numbers, q.text) for q in doc.questions] == [
        (("1",), "Is dat zo?"),
        (("2",), "Waarom niet?"),
    ]


def test_a_footnote_call_without_its_note_leaves_no_trace_in_the_text() -> None:
    page = (
        b'<html><body><main><div class="m-modal__content"><p>Vraag 1</p>'
        b"<p>Is dat zo?<sup>1</sup></p><p>Antwoord 1</p><p>Nee.</p></div></main></body></html>"
    )
    doc = segment.parse(page, Rendition.TK_HTML)
    assert [i.text for i in (*doc.questions, *doc.answers)] == ["Is dat zo?", "Nee."]
    assert doc.footnotes == ()


def test_loose_paragraphs_and_nested_lists_in_xml_lose_no_sibling() -> None:
    body = """<?xml version="1.0" encoding="UTF-8"?>
<officiele-publicatie><kamervragen>
  <al>Een alinea buiten elke vraag.</al>
  <vraag><nr>Vraag 1</nr><al>Welke maatregelen neemt u?</al></vraag>
  <antwoord><nr>Antwoord 1</nr><al>Deze:</al>
    <lijst><li><li.nr>a.</li.nr><al>eerste;</al>
      <lijst><li><li.nr>1°</li.nr><al>onderdeel;</al></li></lijst></li>
      <li><li.nr>b.</li.nr><al>tweede.</al></li></lijst>
  </antwoord>
</kamervragen></officiele-publicatie>""".encode()
    doc = segment.parse(body, Rendition.KOOP_XML)
    assert doc.preamble == ("Een alinea buiten elke vraag.",)
    assert [q.numbers for q in doc.questions] == [("1",)]
    (answer,) = doc.answers
    assert answer.paragraphs == ("Deze:", "eerste;", "onderdeel;", "tweede.")
