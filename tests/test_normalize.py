"""Normalization and sentence splitting: what makes two renditions of one answer comparable."""

from __future__ import annotations

import pytest

from monitor import sentences
from monitor.normalize import answer_paragraphs, clean, clean_paragraph, comparison_key

SEED = "Biometrische surveillance, in de zin van real time gezichtsherkenning, wordt niet gedaan."


@pytest.mark.parametrize(
    "variant",
    [
        SEED.replace("real time", "realtime"),
        SEED.replace("real time", "real-time"),
        SEED.replace("real time", "«real time»"),
        SEED.replace("real time", "“real time”"),
        SEED.replace("real time", "‘real time’"),
        SEED.replace("gezichtsherkenning", "gezichts-\nherkenning"),
        SEED.replace("gezichtsherkenning", "gezichtsher\u00adkenning"),
        SEED.replace(" ", "  ").replace(", in", ",\nin"),
        SEED.replace("gedaan.", "gedaan.1"),
        SEED.replace("surveillance,", "surveillance2,"),
        SEED.replace("niet", "\u00a0niet"),
    ],
)
def test_editorial_variants_share_one_comparison_key(variant: str) -> None:
    assert comparison_key(variant) == comparison_key(SEED)


@pytest.mark.parametrize(
    "changed",
    [SEED.replace("niet", "wel"), SEED.replace("real time", "achteraf"), SEED + " Nu wel.",
     SEED.replace("surveillance", "surveillance 2")],
)  # fmt: skip
def test_changed_words_or_numbers_change_the_comparison_key(changed: str) -> None:
    assert comparison_key(changed) != comparison_key(SEED)


def test_pdf_page_furniture_inside_a_paragraph_is_dropped() -> None:
    text = (
        "Dat wordt op dit\nTweede Kamer, vergaderjaar 2021–2022, Aanhangsel\n2\n"
        "ah-tk-20212022-105 ISSN 0920 - 2080 ’s-Gravenhage 2021\nmoment niet ge-\ndaan."
    )
    assert clean(text) == "Dat wordt op dit moment niet gedaan."


def test_a_paragraph_cut_by_a_page_break_is_joined_and_footnote_texts_dropped() -> None:
    paragraphs = [
        "De Wet goed verhuurderschap is op 1 juli 2023 in werking getreden.1 Gemeenten",
        "Pagina 2 van 4",
        "kunnen sindsdien een vergunning eisen.",
        "1 Stb. 2023, 130.",
        "2 https://www.example.nl/",
        "Nieuwe alinea.",
    ]
    assert answer_paragraphs(paragraphs) == (
        "De Wet goed verhuurderschap is op 1 juli 2023 in werking getreden. Gemeenten kunnen "
        "sindsdien een vergunning eisen.",
        "Nieuwe alinea.",
    )


def test_a_numbered_sentence_is_not_mistaken_for_a_footnote() -> None:
    paragraphs = ["Er zijn drie zaken.", "12 zaken zijn afgerond."]
    assert answer_paragraphs(paragraphs) == tuple(paragraphs)


@pytest.mark.parametrize("bullet", ["• ", "- ", "– ", "▪ ", "1. ", "a) "])
def test_list_bullets_are_dropped(bullet: str) -> None:
    assert clean_paragraph(f"{bullet}de politie;") == "de politie;"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dat is o.a. door de politie gedaan, t.a.v. art. 5 AVG. Zie nr. 12.",
         ["Dat is o.a. door de politie gedaan, t.a.v. art. 5 AVG.", "Zie nr. 12."]),
        ("Er waren 1.200 meldingen, d.w.z. 3,5 procent. In 2021 was dat 4.5 procent.",
         ["Er waren 1.200 meldingen, d.w.z. 3,5 procent.", "In 2021 was dat 4.5 procent."]),
        ("De brief van 3 jan. 2021 (t.a.v. mevr. De Vries) kwam aan. Daarna niets.",
         ["De brief van 3 jan. 2021 (t.a.v. mevr. De Vries) kwam aan.", "Daarna niets."]),
        ("Zie Kamerstuk 26 643, nr. 123. Het kost ca. € 2,3 mln. per jaar.",
         ["Zie Kamerstuk 26 643, nr. 123.", "Het kost ca. € 2,3 mln. per jaar."]),
        ("Nee. Bestaat er een plan? Ja!", ["Nee.", "Bestaat er een plan?", "Ja!"]),
    ],
)  # fmt: skip
def test_dutch_sentences_survive_abbreviations_and_numbers(text: str, expected: list[str]) -> None:
    assert sentences.split(text) == expected


@pytest.mark.parametrize("typeset", ["270\u202f000", "270\u00a0000", "270.000", "270000"])
def test_typeset_thousands_are_one_number(typeset: str) -> None:
    assert comparison_key(f"Het gaat om € {typeset} per jaar.") == comparison_key(
        "Het gaat om 270.000 euro per jaar."
    )
