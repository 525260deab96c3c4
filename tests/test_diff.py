"""The seed case and the basic promises of `monitor.diff`."""

from __future__ import annotations

from monitor import diff, render, segment
from monitor.records import ChangeKind, Rendition, Severity
from tests.conftest import DEMO_DATA

SEED_BEFORE = (
    "Biometrische surveillance, in de zin van real time gezichtsherkenning, wordt op dit moment "
    "in Nederland niet gedaan."
)
SEED_AFTER = (
    "Voor het gebruik van biometrische surveillance in de publieke ruimte door de politie, in de "
    "zin van real time gezichtsherkenning, wordt op dit moment in de politieorganisatie geen "
    "toestemming gegeven."
)


def load(name: str) -> segment.ParsedDocument:
    return segment.parse((DEMO_DATA / name).read_bytes(), Rendition.KOOP_XML)


def test_nader_answer_weakening_the_seed_denial_is_flagged_high() -> None:
    result = diff.compare(
        load("ah-tk-20212022-105.xml"), load("ah-tk-20212022-472.xml"), carry_forward=True
    )
    changed = [q for q in result.questions if q.status == "changed"]
    assert [q.number for q in changed] == ["4"]
    seed = changed[0]
    assert ChangeKind.DENIAL_WEAKENED in seed.kinds
    assert ChangeKind.SCOPE_NARROWED in seed.kinds
    assert seed.severity is Severity.HIGH
    reasons = " ".join(seed.reasons)
    for words in (
        "niet gedaan",
        "geen toestemming gegeven",
        "in de publieke ruimte",
        "door de politie",
    ):
        assert words in reasons
    (sentence,) = seed.sentences
    assert (sentence.old, sentence.new) == (SEED_BEFORE, SEED_AFTER)


def test_questions_whose_answer_did_not_change_are_unchanged() -> None:
    result = diff.compare(
        load("ah-tk-20212022-105.xml"), load("ah-tk-20212022-472.xml"), carry_forward=True
    )
    statuses = {q.number: q.status for q in result.questions}
    assert statuses == {
        "1": "unchanged",
        "2": "unchanged",
        "3": "unchanged",
        "4": "changed",
        "5": "unchanged",
        "6": "unchanged",
    }
    summary = result.to_json()["summary"]
    assert summary == {"changed": 1, "substantive": 1, "editorial": 0, "max_severity": "high"}


def test_spelling_variant_of_real_time_alone_is_editorial() -> None:
    old = segment.parse_text(
        f"Vraag 1\nWordt dit gedaan?\n\nAntwoord 1\n{SEED_BEFORE}", Rendition.TEXT
    )
    new_text = SEED_BEFORE.replace("real time", "real-time").replace(",", " ,", 1)
    new = segment.parse_text(
        f"Vraag 1\nWordt dit gedaan?\n\nAntwoord 1\n{new_text}", Rendition.TEXT
    )
    (question,) = diff.compare(old, new).questions
    assert question.kinds == (ChangeKind.EDITORIAL,)
    assert question.severity is Severity.NONE


def test_missing_answer_in_a_nader_antwoord_carries_the_earlier_answer_forward() -> None:
    old = segment.parse_text(
        "Antwoord 1\nJa.\n\nAntwoord 2\nNee, dat gebeurt niet.", Rendition.TEXT
    )
    new = segment.parse_text("Antwoord 2\nNee, dat gebeurt niet.", Rendition.TEXT)
    assert {q.number: q.status for q in diff.compare(old, new, carry_forward=True).questions} == {
        "1": "unchanged",
        "2": "unchanged",
    }
    assert {q.number: q.status for q in diff.compare(old, new).questions}["1"] == "removed"


def test_moved_sentence_is_a_move_not_a_delete_and_insert() -> None:
    old = segment.parse_text(
        "Antwoord 1\nDe politie gebruikt CATCH. Dat is vastgelegd in de wet. Meer is er niet.",
        Rendition.TEXT,
    )
    new = segment.parse_text(
        "Antwoord 1\nDat is vastgelegd in de wet. De politie gebruikt CATCH. Meer is er niet.",
        Rendition.TEXT,
    )
    (question,) = diff.compare(old, new).questions
    assert [s.op for s in question.sentences] == ["move"]
    assert question.severity is Severity.NONE


def test_standalone_html_escapes_every_piece_of_upstream_text() -> None:
    hostile = '<script>alert("x")</script> & <img src=x onerror=y>'
    old = segment.parse_text(
        f"Vraag 1\n{hostile}?\n\nAntwoord 1\nDat wordt niet gedaan.", Rendition.TEXT
    )
    new = segment.parse_text(
        f"Vraag 1\n{hostile}?\n\nAntwoord 1\nDaarvoor wordt geen toestemming gegeven. {hostile}",
        Rendition.TEXT,
    )
    page = render.standalone_html(diff.compare(old, new), "<b>old</b>.xml", "new.xml")
    assert page.startswith("<!doctype html>")
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;" in page
    assert "&lt;b&gt;old&lt;/b&gt;.xml" in page
    assert "default-src 'none'" in page
    assert "denial_weakened" in page


def test_a_sentence_moved_and_edited_is_one_replacement_at_its_new_place() -> None:
    old = segment.parse_text(
        "Antwoord 1\nDe inspectie heeft het rapport ontvangen. Er zijn 12 meldingen gedaan"
        " bij het meldpunt van de gemeente. Het onderzoek loopt nog.",
        Rendition.TEXT,
    )
    new = segment.parse_text(
        "Antwoord 1\nEr zijn 14 meldingen gedaan bij het meldpunt van de gemeente. De inspectie"
        " heeft het rapport ontvangen. Het onderzoek loopt nog.",
        Rendition.TEXT,
    )
    (question,) = diff.compare(old, new).questions
    assert [(s.op, s.kinds) for s in question.sentences] == [
        ("replace", (ChangeKind.NUMBER_CHANGED,))
    ]
    assert "“12” → “14”" in question.reasons[0]


def test_answers_combined_in_one_rendition_and_split_in_another_are_unchanged() -> None:
    combined = segment.parse_text(
        "Antwoord 5 en 6\nHet gebruik van Clearview AI is niet toegestaan.", Rendition.TEXT
    )
    split = segment.parse_text(
        "Antwoord 5\nHet gebruik van Clearview AI is niet toegestaan.\n\n"
        "Antwoord 6\nZie het antwoord op vraag 5.",
        Rendition.TEXT,
    )
    for old, new in ((combined, split), (split, combined)):
        result = diff.compare(old, new)
        assert {q.number: q.status for q in result.questions} == {
            "5": "unchanged",
            "6": "unchanged",
        }
    changed = segment.parse_text(
        "Antwoord 5\nHet gebruik van Clearview AI is toegestaan.\n\n"
        "Antwoord 6\nZie het antwoord op vraag 5.",
        Rendition.TEXT,
    )
    result = diff.compare(combined, changed)
    assert [(q.number, q.kinds) for q in result.substantive] == [
        ("5", (ChangeKind.NEGATION_FLIPPED,))
    ]


def test_an_unrelated_sentence_replacing_another_is_not_read_as_its_rewrite() -> None:
    old = segment.parse_text("Antwoord 1\nJa. De aanvraag is ontvangen.", Rendition.TEXT)
    new = segment.parse_text("Antwoord 1\nJa. Er is geen besluit genomen.", Rendition.TEXT)
    (question,) = diff.compare(old, new).questions
    assert [s.op for s in question.sentences] == ["delete", "insert"]
    assert ChangeKind.NEGATION_FLIPPED not in question.kinds
