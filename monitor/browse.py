"""What the workbench shows, as pure functions: change filters, overdue state, answers per number."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any
from zoneinfo import ZoneInfo

from monitor.config import TopicConfig
from monitor.records import ChangeKind, ChangeRecord, EventKind, Severity
from monitor.topics import match

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
OPEN_STATUSES = ("tabled", "delayed")
_PARTY = re.compile(r"\(([^()]+)\)\s*$")


def local_moment(value: str) -> dt.datetime | None:
    """An ISO timestamp (UTC when naive) as an aware Europe/Amsterdam datetime.

    >>> local_moment("2021-10-13T08:00:00+00:00").isoformat()
    '2021-10-13T10:00:00+02:00'
    """
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(AMSTERDAM)


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class ChangeFilter:
    """The changes feed's filters, read from query parameters; an empty field filters nothing.

    Unknown values are dropped (and reported in `problems`), so a bad link shows every change
    with a note instead of an error page.
    """

    topic: str = ""
    kind: str = ""
    severity: str = ""
    event: str = ""
    ministry: str = ""
    member: str = ""
    party: str = ""
    since: str = ""
    until: str = ""
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_params(cls, params: Mapping[str, str], topics: Sequence[TopicConfig]) -> ChangeFilter:
        """Filters from query parameters.

        >>> f = ChangeFilter.from_params({"kind": "denial_weakened", "since": "2021-13-01"}, [])
        >>> f.kind, f.since, f.problems
        ('denial_weakened', '', ('since: not a date (YYYY-MM-DD)',))
        """
        values = {
            f.name: str(params.get(f.name, "")).strip()[:100]
            for f in fields(cls)
            if f.name != "problems"
        }
        problems = []
        allowed = {
            "kind": {k.value for k in ChangeKind},
            "severity": {s.value for s in Severity},
            "event": {e.value for e in EventKind},
            "topic": {t.name for t in topics},
        }
        for name, options in allowed.items():
            if values[name] and values[name] not in options:
                problems.append(f"{name}: unknown value")
                values[name] = ""
        for name in ("since", "until"):
            if values[name] and _date(values[name]) is None:
                problems.append(f"{name}: not a date (YYYY-MM-DD)")
                values[name] = ""
        return replace(cls(**values), problems=tuple(problems))  # type: ignore[arg-type]

    def params(self) -> dict[str, str]:
        """The non-empty filters, for links and feed URLs."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "problems" and getattr(self, f.name)
        }

    def matches(
        self,
        change: ChangeRecord,
        facets: Mapping[str, Any] | None,
        topics: Sequence[TopicConfig],
    ) -> bool:
        """Whether a change passes every filter; `facets` describe its question set."""
        if self.kind and self.kind not in {k.value for k in change.kinds}:
            return False
        if self.severity and change.severity.value != self.severity:
            return False
        if self.event and change.event.value != self.event:
            return False
        moment = local_moment(change.created_at)
        day = moment.date() if moment else None
        since, until = _date(self.since), _date(self.until)
        if since and (day is None or day < since):
            return False
        if until and (day is None or day > until):
            return False
        facets = facets or {}
        askers = [str(a) for a in facets.get("askers", ())]
        if (
            self.ministry
            and self.ministry.casefold() not in str(facets.get("addressee", "")).casefold()
        ):
            return False
        if self.member and not any(self.member.casefold() in a.casefold() for a in askers):
            return False
        if self.party and not any(party_of(a).casefold() == self.party.casefold() for a in askers):
            return False
        if self.topic:
            chosen = [t for t in topics if t.name == self.topic]
            texts = dict(facets.get("topic_fields", {}) or {"title": change.question_set_title})
            if not chosen or not match(chosen[0], texts):
                return False
        return True


def party_of(asker: str) -> str:
    """The party in an asker label such as "R.R. van Ginneken (D66)".

    >>> party_of("R.R. van Ginneken (D66)"), party_of("Minister")
    ('D66', '')
    """
    found = _PARTY.search(asker)
    return found[1].strip() if found else ""


def sentence_pairs(change: ChangeRecord) -> list[tuple[str, str]]:
    """(before, after) sentences of a correction's substantive changes, for list rows."""
    pairs: list[tuple[str, str]] = []
    for question in change.changed_questions():
        for sentence in question.get("sentences", []):
            if sentence.get("kinds") != ["editorial"]:
                pairs.append((sentence.get("old", ""), sentence.get("new", "")))
    return pairs


@dataclass(frozen=True, slots=True)
class Overdue:
    """Whether an unanswered question set is past its deadline, and by how many days."""

    overdue: bool
    days: int
    deadline_on: str


def overdue(status: str, deadline_on: str, today: dt.date) -> Overdue:
    """The overdue state of a question set on `today`.

    >>> overdue("delayed", "2021-10-08", dt.date(2021, 10, 11))
    Overdue(overdue=True, days=3, deadline_on='2021-10-08')
    >>> overdue("answered", "2021-10-08", dt.date(2021, 10, 11)).overdue
    False
    """
    deadline = _date(deadline_on) if deadline_on else None
    if deadline is None or status not in OPEN_STATUSES or today <= deadline:
        return Overdue(False, 0, deadline_on)
    return Overdue(True, (today - deadline).days, deadline_on)


@dataclass(frozen=True, slots=True)
class AnswerCell:
    """One document's answer to a question number."""

    document_number: str
    document_role: str
    dated_on: str
    version_id: int
    label: str
    text: str
    numbers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NumberRow:
    """A question number with its question and every document's answer to it."""

    number: str
    question: str
    answers: tuple[AnswerCell, ...]

    @property
    def changed(self) -> bool:
        """Whether the latest answer's text differs from the one before it."""
        return len(self.answers) > 1 and self.answers[-1].text != self.answers[-2].text


def number_order(number: str) -> tuple[int, str]:
    digits = re.match(r"\d+", number)
    return (int(digits[0]) if digits else 10**6, number)


def answers_by_number(items: Iterable[Any]) -> list[NumberRow]:
    """Questions with each document's latest answer per number.

    `items` are stored items (`version_id`, `document_number`, `document_role`, `dated_on`,
    `role`, `numbers`, `label`, `text`); only each document's latest version counts.
    """
    items = list(items)
    latest: dict[str, int] = {}
    for item in items:
        latest[item.document_number] = max(latest.get(item.document_number, 0), item.version_id)
    questions: dict[str, str] = {}
    answers: dict[str, list[AnswerCell]] = {}
    for item in items:
        if item.version_id != latest[item.document_number]:
            continue
        for number in item.numbers:
            if not number:
                continue
            if item.role == "question":
                # The questions document says it first; answer documents repeat it.
                if item.document_role == "questions" or number not in questions:
                    questions[number] = item.text
            else:
                answers.setdefault(number, []).append(
                    AnswerCell(
                        item.document_number, item.document_role, item.dated_on,
                        item.version_id, item.label, item.text, tuple(item.numbers),
                    )
                )  # fmt: skip
    numbers = sorted(set(questions) | set(answers), key=number_order)
    return [
        NumberRow(
            n,
            questions.get(n, ""),
            tuple(sorted(answers.get(n, []), key=lambda a: (a.dated_on, a.version_id))),
        )
        for n in numbers
    ]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One dated step in a question set's life: a document, a fetched version or a change."""

    at: str
    what: str
    label: str
    link: str = ""
    kinds: tuple[str, ...] = ()
    severity: str = ""


_ROLE_LABELS = {
    "questions": "Questions tabled",
    "delay_notice": "Delay notice",
    "answer": "Answer",
    "nader_answer": "Nader answer",
    "withdrawal": "Withdrawn",
}


def timeline(
    documents: Iterable[Mapping[str, Any]],
    versions: Iterable[Any],
    changes: Iterable[ChangeRecord],
    citations: Mapping[str, Sequence[tuple[str, str]]] = {},
) -> list[TimelineEntry]:
    """Documents by date, versions by fetch time, corrections and cross-references, oldest first."""
    entries = []
    for d in documents:
        number = d.get("number") or d.get("koop_id") or ""
        label = f"{number}" + (" (deleted upstream)" if d.get("deleted") else "")
        entries.append(
            TimelineEntry(d.get("dated_on", ""), _ROLE_LABELS.get(d["role"], d["role"]), label)
        )
        for cited, owner in citations.get(number, ()):
            link = f"/questions/{owner}" if owner else ""
            entries.append(
                TimelineEntry(d.get("dated_on", ""), "Cites", f"{number} cites {cited}", link)
            )
    for v in versions:
        entries.append(
            TimelineEntry(
                v.fetched_at, "Version fetched", f"{v.document_number} · {v.rendition}",
                f"/versions/{v.id}",
            )
        )  # fmt: skip
    for c in changes:
        if c.event is EventKind.CORRECTED:
            entries.append(
                TimelineEntry(
                    c.created_at, "Answer changed", c.summary, f"/changes/{c.id}",
                    tuple(k.value for k in c.kinds), c.severity.value,
                )
            )  # fmt: skip
    return sorted(entries, key=lambda e: e.at)
