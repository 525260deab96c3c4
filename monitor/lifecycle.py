"""The question lifecycle: document roles, KOOP ids, answer deadlines and citation links."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from monitor.records import DocumentRole, ParsedDocument
from monitor.segment import cited_publications

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


# --- deadlines and overdue question sets -----------------------------------------------------

OPEN_STATUSES = ("tabled", "delayed")


@dataclass(frozen=True, slots=True)
class DeadlineState:
    """Where an unanswered question set stands against its answer deadline on a given day."""

    number: str
    title: str
    status: str
    tabled_on: dt.date | None
    deadline_on: dt.date | None
    overdue: bool
    days_late: int

    @property
    def delayed(self) -> bool:
        return self.status == "delayed"


def deadline_state(
    number: str,
    title: str,
    status: str,
    tabled_on: dt.date | None,
    deadline_on: dt.date | None,
    today: dt.date,
) -> DeadlineState | None:
    """The deadline state of a question set that still awaits its answer, else None.

    >>> s = deadline_state("2021Z1", "t", "delayed", dt.date(2021, 8, 27), None, dt.date(2021, 10, 9))
    >>> (s.deadline_on.isoformat(), s.overdue, s.days_late)
    ('2021-10-08', True, 1)
    """
    if status not in OPEN_STATUSES:
        return None
    if deadline_on is None and tabled_on is not None:
        deadline_on = deadline(tabled_on, delayed=status == "delayed")
    late = (today - deadline_on).days if deadline_on else 0
    return DeadlineState(number, title, status, tabled_on, deadline_on, late > 0, max(late, 0))


# --- links between documents ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """A citation from a document to an Aanhangsel publication (a KOOP `ah-tk` id).

    `amends`: a nader antwoord's header names the answer it corrects or completes;
    `see_also`: any other header citation ("Zie ook Aanhangsel Handelingen …", e.g. the delay
    notice); `cites`: a citation in the questions or answers themselves, as a follow-up question
    set citing an earlier answer does.
    """

    kind: Literal["amends", "see_also", "cites"]
    koop_id: str


def links_of(parsed: ParsedDocument, role: DocumentRole, own_koop_id: str = "") -> tuple[Link, ...]:
    """Every citation of a parsed document, classified by where it stands and what it is."""
    found: dict[str, Link] = {}
    for koop in parsed.cited:
        if koop == own_koop_id:
            continue
        kind: Literal["amends", "see_also"] = (
            "amends" if role is DocumentRole.NADER_ANSWER else "see_also"
        )
        found.setdefault(koop, Link(kind, koop))
    body = " ".join(i.text for i in (*parsed.questions, *parsed.answers))
    for koop in cited_publications(" ".join((*parsed.preamble, body))):
        if koop != own_koop_id:
            found.setdefault(koop, Link("cites", koop))
    return tuple(found.values())


def amended_answer(links: tuple[Link, ...], answers: dict[str, str]) -> str | None:
    """The KOOP id a nader antwoord amends: the latest cited id that is an answer of the set.

    `answers` maps the KOOP ids of the set's (nader) answers to their document numbers; a delay
    notice cited beside the answer ("Zie ook … nr. 4076") is not what is amended.
    """
    candidates = [link.koop_id for link in links if link.kind == "amends"]
    known = [k for k in candidates if k in answers]
    return known[-1] if known else None


# --- the timeline of one question set (read model for the CLI, web and bot) --------------------


@dataclass(frozen=True, slots=True)
class TimelineVersion:
    """One stored rendition version of a document; `new_text` when its parsed items differ from
    the document's previous parsed version (a switch of rendition alone is not new text)."""

    id: int
    rendition: str
    fetched_at: str
    sha256: str
    parse_status: str
    parse_error: str
    new_text: bool


@dataclass(frozen=True, slots=True)
class TimelineLink:
    """A resolved citation: the cited KOOP id and, when we hold it, its document and set."""

    kind: str
    koop_id: str
    document: str = ""
    question_set: str = ""
    role: str = ""


@dataclass(frozen=True, slots=True)
class TimelineDocument:
    number: str
    koop_id: str
    role: str
    soort: str
    title: str
    dated_on: str
    deleted: bool
    versions: tuple[TimelineVersion, ...]
    links: tuple[TimelineLink, ...]
    # From the latest parsed version: which question numbers it answers, which questions it
    # repeats without answering, and how many unnumbered passages await review.
    answered: tuple[str, ...] = ()
    unanswered: tuple[str, ...] = ()
    orphans: tuple[str, ...] = ()
    unmatched: int = 0


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    id: int
    event: str
    created_at: str
    document: str
    summary: str
    severity: str
    kinds: tuple[str, ...]
    silent: bool


@dataclass(frozen=True, slots=True)
class Timeline:
    """A question set with every document, rendition, version, event and citation link."""

    number: str
    title: str
    status: str
    askers: tuple[str, ...]
    addressee: str
    tabled_on: str
    deadline_on: str
    documents: tuple[TimelineDocument, ...]
    events: tuple[TimelineEvent, ...]
    cited_by: tuple[TimelineLink, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_ROLE_NAMES = {
    "questions": "questions",
    "delay_notice": "delay notice",
    "answer": "answer",
    "nader_answer": "nader answer",
    "withdrawal": "withdrawal",
}


def timeline_text(timeline: Timeline, today: dt.date) -> str:
    """A plain-text rendering of a timeline for the terminal."""
    t = timeline
    lines = [f"{t.number}  {t.title}"]
    status = f"status: {t.status}"
    if t.tabled_on:
        status += f" · tabled {t.tabled_on}"
    if t.deadline_on:
        status += f" · deadline {t.deadline_on}"
        if any(d.role == DocumentRole.DELAY_NOTICE.value for d in t.documents):
            status += " (extended by the delay notice)"
        state = deadline_state(
            t.number, t.title, t.status, parse_date(t.tabled_on), parse_date(t.deadline_on),
            today,
        )  # fmt: skip
        if state and state.overdue:
            status += f" · OVERDUE by {state.days_late} days"
    lines.append(status)
    if t.askers:
        lines.append(f"asked by: {', '.join(t.askers)}")
    if t.addressee:
        lines.append(f"addressed to: {t.addressee}")
    lines.append("")
    lines.append("Documents:")
    for d in t.documents:
        ident = "  ".join(x for x in (d.number, d.koop_id) if x)
        gone = "  [deleted upstream]" if d.deleted else ""
        lines.append(
            f"  {d.dated_on or '?':10}  {_ROLE_NAMES.get(d.role, d.role):13} {ident}{gone}"
        )
        lines.append(f"              {d.soort}: {d.title}")
        for link in d.links:
            target = ", ".join(x for x in (link.document, link.question_set, link.role) if x)
            lines.append(
                f"              {link.kind.replace('_', ' ')} {link.koop_id}"
                + (f" ({target})" if target else " (not in the archive)")
            )
        if d.answered or d.unanswered or d.unmatched or d.orphans:
            parts = [f"answers {', '.join(d.answered) or 'none'}"]
            if d.unanswered:
                parts.append(f"questions left unanswered: {', '.join(d.unanswered)}")
            if d.orphans:
                parts.append(f"answers without a question: {', '.join(d.orphans)}")
            if d.unmatched:
                parts.append(f"{d.unmatched} unnumbered passages for review")
            lines.append(f"              {'; '.join(parts)}")
        for n, v in enumerate(d.versions, 1):
            flag = "  new text" if v.new_text else ""
            error = f" ({v.parse_error})" if v.parse_error else ""
            lines.append(
                f"              version {n}: {v.rendition:9} fetched {v.fetched_at[:19]}  "
                f"sha256 {v.sha256[:12]}  parse {v.parse_status}{error}{flag}"
            )
        if not d.versions:
            lines.append("              no text fetched yet")
    if t.cited_by:
        lines.append("")
        lines.append("Cited by:")
        for link in t.cited_by:
            lines.append(f"  {link.question_set}  {link.document}  cites {link.koop_id}")
    lines.append("")
    lines.append("Events:")
    for e in t.events:
        kinds = f" [{', '.join(e.kinds)}]" if e.kinds else ""
        severity = f" {e.severity}" if e.severity != "none" else ""
        quiet = " (silent)" if e.silent else ""
        lines.append(
            f"  #{e.id:<4} {e.created_at[:19]}  {e.event:9}{severity}{kinds}  "
            f"{e.document}  {e.summary}{quiet}"
        )
    return "\n".join(lines)
