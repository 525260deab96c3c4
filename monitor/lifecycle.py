"""The question lifecycle: document roles from their soort, KOOP ids, and answer deadlines."""

from __future__ import annotations

import datetime as dt
import re

from monitor.records import DocumentRole

QUESTION_SOORT = "Schriftelijke vragen"
ANSWER_SOORT = "Antwoord schriftelijke vragen"
NADER_SOORT = "Antwoord schriftelijke vragen (nader)"
DELAY_SOORT = "Mededeling (uitstel antwoord)"
NOTICE_SOORT = "Mededeling"

ANSWER_TERM = dt.timedelta(weeks=3)
DELAY_TERM = dt.timedelta(weeks=3)

_WITHDRAWN = re.compile(r"ingetrokken|intrekken|intrekking", re.IGNORECASE)


def role_of(soort: str, subject: str = "") -> DocumentRole:
    """The lifecycle role of a document, from its exact Document.Soort.

    >>> role_of("Antwoord schriftelijke vragen (nader)")
    <DocumentRole.NADER_ANSWER: 'nader_answer'>
    >>> role_of("Mededeling", "Intrekken schriftelijke vragen over ...")
    <DocumentRole.WITHDRAWAL: 'withdrawal'>
    """
    soort = soort.strip()
    if soort == QUESTION_SOORT:
        return DocumentRole.QUESTIONS
    if soort == ANSWER_SOORT:
        return DocumentRole.ANSWER
    if soort == NADER_SOORT:
        return DocumentRole.NADER_ANSWER
    if soort == DELAY_SOORT:
        return DocumentRole.DELAY_NOTICE
    if soort == NOTICE_SOORT and _WITHDRAWN.search(subject):
        return DocumentRole.WITHDRAWAL
    return DocumentRole.OTHER


def is_relevant(soort: str, subject: str = "") -> bool:
    """Whether a Document belongs to the written-questions lifecycle."""
    return role_of(soort, subject) is not DocumentRole.OTHER


def koop_id(vergaderjaar: str, aanhangselnummer: str) -> str | None:
    """The KOOP `ah-tk` id from a document's session year and 9-digit Aanhangselnummer.

    >>> koop_id("2021-2022", "212200105")
    'ah-tk-20212022-105'
    """
    years = re.fullmatch(r"(\d{4})-(\d{4})", vergaderjaar.strip())
    number = re.fullmatch(r"\d{9}", aanhangselnummer.strip())
    if not years or not number:
        return None
    return f"ah-tk-{years[1]}{years[2]}-{int(aanhangselnummer[-5:])}"


def deadline(tabled_on: dt.date, delayed: bool) -> dt.date:
    """Three weeks after tabling, three more after a delay notice."""
    return tabled_on + ANSWER_TERM + (DELAY_TERM if delayed else dt.timedelta())


def parse_date(value: str | None) -> dt.date | None:
    """The date part of an upstream date or datetime string, or None."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None
