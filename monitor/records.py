"""Frozen records shared by every layer: crawl hand-off, parsed documents, diffs and alerts."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class ParseError(ValueError):
    """Raised by `monitor.segment` and `records.from_dict` when input cannot be read at all.

    Strange but readable input is not an error: it yields items flagged as unmatched.
    """


class Rendition(StrEnum):
    """The form a document's text was fetched in; each is stored as its own version."""

    KOOP_XML = "koop-xml"
    KOOP_HTML = "koop-html"
    TK_HTML = "tk-html"
    FILE_TEXT = "file-text"
    TEXT = "text"


class DocumentRole(StrEnum):
    """What a document is within a question set's lifecycle."""

    QUESTIONS = "questions"
    DELAY_NOTICE = "delay_notice"
    ANSWER = "answer"
    NADER_ANSWER = "nader_answer"
    WITHDRAWAL = "withdrawal"
    OTHER = "other"


class ChangeKind(StrEnum):
    """The fixed change vocabulary of `kamerwacht diff` (see README, "Change kinds")."""

    DENIAL_WEAKENED = "denial_weakened"
    NEGATION_FLIPPED = "negation_flipped"
    SCOPE_NARROWED = "scope_narrowed"
    SCOPE_WIDENED = "scope_widened"
    HEDGE_ADDED = "hedge_added"
    HEDGE_REMOVED = "hedge_removed"
    NUMBER_CHANGED = "number_changed"
    ACTOR_CHANGED = "actor_changed"
    RETRACTION = "retraction"
    CONTENT_ADDED = "content_added"
    CONTENT_REMOVED = "content_removed"
    EDITORIAL = "editorial"


class Severity(StrEnum):
    """How loudly a change is reported; `none` is stored but never alerted."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @classmethod
    def highest(cls, severities: list[Severity] | tuple[Severity, ...]) -> Severity:
        return max(severities, key=lambda s: s.rank, default=cls.NONE)


_SEVERITY_RANK = {Severity.NONE: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}

SEVERITY_OF_KIND: Mapping[ChangeKind, Severity] = {
    ChangeKind.DENIAL_WEAKENED: Severity.HIGH,
    ChangeKind.NEGATION_FLIPPED: Severity.HIGH,
    ChangeKind.RETRACTION: Severity.HIGH,
    ChangeKind.NUMBER_CHANGED: Severity.HIGH,
    ChangeKind.SCOPE_NARROWED: Severity.MEDIUM,
    ChangeKind.SCOPE_WIDENED: Severity.MEDIUM,
    ChangeKind.HEDGE_ADDED: Severity.MEDIUM,
    ChangeKind.HEDGE_REMOVED: Severity.MEDIUM,
    ChangeKind.ACTOR_CHANGED: Severity.MEDIUM,
    ChangeKind.CONTENT_REMOVED: Severity.MEDIUM,
    ChangeKind.CONTENT_ADDED: Severity.LOW,
    ChangeKind.EDITORIAL: Severity.NONE,
}


class EventKind(StrEnum):
    """Lifecycle events of a question set, each of which may become an alert."""

    TABLED = "tabled"
    DELAYED = "delayed"
    ANSWERED = "answered"
    CORRECTED = "corrected"
    WITHDRAWN = "withdrawn"
    OVERDUE = "overdue"


# --- crawl hand-off (spiders write these as JSON Lines, the daemon ingests them) ---------------


@dataclass(frozen=True, slots=True)
class FeedEntity:
    """One SyncFeed entry: the full current state of one entity, or its tombstone."""

    category: str
    guid: str
    updated: str
    bijgewerkt: str | None
    deleted: bool
    fields: dict[str, str] = field(default_factory=dict)
    refs: dict[str, list[str]] = field(default_factory=dict)
    enclosure: str | None = None
    page_url: str = ""
    raw: str = ""
    record: Literal["feed_entity"] = "feed_entity"


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Emitted after every entry of one SyncFeed page: the cursor may advance to `next_url`."""

    category: str
    page_url: str
    next_url: str | None
    next_skiptoken: int | None
    entries: int
    record: Literal["feed_page"] = "feed_page"


@dataclass(frozen=True, slots=True)
class FeedSeek:
    """Where an initial sync from a start date begins, found by bisecting on entry timestamps."""

    category: str
    since: str
    skiptoken: int | None
    next_url: str | None
    requests: int
    record: Literal["feed_seek"] = "feed_seek"


@dataclass(frozen=True, slots=True)
class FetchedBody:
    """One fetched rendition of a document (or why it could not be fetched)."""

    source: str
    key: str
    rendition: Rendition
    url: str
    fetched_at: str
    status: Literal["ok", "not_modified", "not_found", "error"]
    body: str = ""
    body_encoding: Literal["text", "base64"] = "text"
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    document_number: str | None = None
    record: Literal["fetched_body"] = "fetched_body"

    def body_bytes(self) -> bytes:
        if self.body_encoding == "base64":
            return base64.b64decode(self.body)
        return self.body.encode("utf-8")


@dataclass(frozen=True, slots=True)
class CrawlProblem:
    """Something a spider could not read (truncated XML, a redesigned page); never a deletion."""

    source: str
    url: str
    message: str
    record: Literal["crawl_problem"] = "crawl_problem"


CrawlRecord = FeedEntity | FeedPage | FeedSeek | FetchedBody | CrawlProblem

_RECORD_TYPES: dict[
    str,
    type[FeedEntity] | type[FeedPage] | type[FeedSeek] | type[FetchedBody] | type[CrawlProblem],
] = {
    "feed_entity": FeedEntity,
    "feed_page": FeedPage,
    "feed_seek": FeedSeek,
    "fetched_body": FetchedBody,
    "crawl_problem": CrawlProblem,
}
# Checked for every line of a crawl file: computed once, not per record.
_FIELD_NAMES = {
    cls: frozenset(f.name for f in dataclasses.fields(cls)) for cls in _RECORD_TYPES.values()
}


def to_dict(record: CrawlRecord) -> dict[str, Any]:
    """A JSON-ready dict of a crawl record (the JSON Lines hand-off format)."""
    return dataclasses.asdict(record)


def from_dict(data: Mapping[str, Any]) -> CrawlRecord:
    """Rebuild a crawl record from one JSON Lines object, checking its shape.

    >>> from_dict({"record": "feed_page", "category": "Zaak", "page_url": "u",
    ...            "next_url": None, "next_skiptoken": None, "entries": 0}).category
    'Zaak'
    """
    kind = data.get("record")
    cls = _RECORD_TYPES.get(str(kind))
    if cls is None:
        raise ParseError(f"unknown crawl record type {kind!r}")
    unknown = set(data) - _FIELD_NAMES[cls]
    if unknown:
        raise ParseError(f"{kind}: unknown fields {sorted(unknown)}")
    try:
        values = dict(data)
        if cls is FetchedBody:
            values["rendition"] = Rendition(values["rendition"])
        return cls(**values)
    except (TypeError, ValueError, KeyError) as exc:
        raise ParseError(f"{kind}: {exc}") from exc


def dumps(record: CrawlRecord) -> str:
    """One JSON Lines line (without the newline)."""
    return json.dumps(to_dict(record), ensure_ascii=False, sort_keys=True)


# --- parsed documents ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One numbered question or answer of a document, with its text as paragraphs."""

    role: Literal["question", "answer"]
    numbers: tuple[str, ...]
    label: str
    paragraphs: tuple[str, ...]
    see_also: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A question or answer document split into numbered items.

    `unmatched` holds text that could not be tied to a number: it is kept for analyst review,
    never silently attached to a neighbouring item.
    """

    identifier: str
    rendition: Rendition
    title: str
    questions: tuple[Item, ...]
    answers: tuple[Item, ...]
    preamble: tuple[str, ...] = ()
    unmatched: tuple[str, ...] = ()
    footnotes: tuple[str, ...] = ()
    cited: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    received_on: str | None = None

    def answer_for(self, number: str) -> Item | None:
        for item in self.answers:
            if number in item.numbers:
                return item
        return None

    def question_for(self, number: str) -> Item | None:
        for item in self.questions:
            if number in item.numbers:
                return item
        return None


# --- diffs -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WordOp:
    """One piece of a word-level diff inside a changed sentence."""

    op: Literal["equal", "delete", "insert"]
    text: str


@dataclass(frozen=True, slots=True)
class SentenceChange:
    """One changed sentence of an answer: replaced, inserted, deleted or moved."""

    op: Literal["replace", "insert", "delete", "move"]
    old: str
    new: str
    kinds: tuple[ChangeKind, ...] = ()
    reasons: tuple[str, ...] = ()
    words: tuple[WordOp, ...] = ()


QuestionStatus = Literal["changed", "unchanged", "added", "removed", "unmatched"]


@dataclass(frozen=True, slots=True)
class QuestionDiff:
    """How the answer to one question number changed between two documents."""

    number: str
    status: QuestionStatus
    kinds: tuple[ChangeKind, ...]
    severity: Severity
    reasons: tuple[str, ...]
    sentences: tuple[SentenceChange, ...]
    question: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "status": self.status,
            "kinds": [str(k) for k in self.kinds],
            "severity": str(self.severity),
            "reasons": list(self.reasons),
            "sentences": [
                {"op": s.op, "old": s.old, "new": s.new, "kinds": [str(k) for k in s.kinds]}
                for s in self.sentences
            ],
        }


@dataclass(frozen=True, slots=True)
class DocumentDiff:
    """All per-question diffs between two answer documents, with a summary."""

    questions: tuple[QuestionDiff, ...]

    @property
    def changed(self) -> tuple[QuestionDiff, ...]:
        return tuple(q for q in self.questions if q.status != "unchanged")

    @property
    def substantive(self) -> tuple[QuestionDiff, ...]:
        return tuple(q for q in self.changed if q.severity is not Severity.NONE)

    @property
    def max_severity(self) -> Severity:
        return Severity.highest([q.severity for q in self.questions])

    @property
    def kinds(self) -> tuple[ChangeKind, ...]:
        seen: dict[ChangeKind, None] = {}
        for q in self.questions:
            for kind in q.kinds:
                seen.setdefault(kind, None)
        return tuple(seen)

    def to_json(self) -> dict[str, Any]:
        changed = self.changed
        substantive = self.substantive
        return {
            "questions": [q.to_json() for q in self.questions],
            "summary": {
                "changed": len(changed),
                "substantive": len(substantive),
                "editorial": len(changed) - len(substantive),
                "max_severity": str(self.max_severity),
            },
        }


# --- stored changes and alerts ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """A stored lifecycle event or correction, as read back for alerts, the web and the bot."""

    id: int
    key: str
    event: EventKind
    question_set: str
    question_set_title: str
    document_number: str
    kinds: tuple[ChangeKind, ...]
    severity: Severity
    summary: str
    detail: dict[str, Any]
    created_at: str
    silent: bool = False

    def changed_questions(self) -> list[dict[str, Any]]:
        questions = self.detail.get("diff", {}).get("questions", [])
        return [
            q for q in questions if q.get("status") != "unchanged" and q.get("severity") != "none"
        ]
