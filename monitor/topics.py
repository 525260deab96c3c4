"""Match question sets against versioned topics and keyword queries, recording which term matched
where; replaying a changed topic over stored history is pure and sends nothing."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.config import TopicConfig


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """Why a text matched a topic: the term, the field it was found in and a short excerpt."""

    topic: str
    term: str
    where: str
    excerpt: str


@dataclass(frozen=True, slots=True)
class QuestionSetMatch:
    """A question set that matches one version of a topic, with every reason."""

    topic: str
    version: str
    question_set: str
    title: str
    reasons: tuple[TopicMatch, ...]


_SENTENCE = re.compile(r"(?<=[.?!;])\s+|\n+")


def version_of(topic: TopicConfig) -> str:
    """A short fingerprint of a topic's definition: it changes whenever any term or filter does,
    so stored matches say which definition found them.

    >>> version_of(TopicConfig("t", terms=["a"])) == version_of(TopicConfig("t", terms=["a"]))
    True
    """
    definition = {
        "terms": list(topic.terms),
        "exclude": list(topic.exclude),
        "ministries": list(topic.ministries),
        "members": list(topic.members),
    }
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()
    return digest[:12]


def term_pattern(term: str) -> re.Pattern[str]:
    """A pattern for a topic term.

    A trailing `*` matches Dutch inflections and compounds ("gezichtsherkenning*" matches
    "gezichtsherkenningssoftware"); a leading `*` lets the term end a compound
    ("*gezichtsherkenning" matches "live-gezichtsherkenning" and "AI-gezichtsherkenning");
    spaces match any whitespace or hyphen. A term written in capitals is an acronym or system
    name and matches in capitals only ("CATCH" is not the English "catch").

    >>> bool(term_pattern("gezichtsherkenning*").search("Gezichtsherkenningstechnologie"))
    True
    >>> bool(term_pattern("CATCH").search("catcher"))
    False
    >>> bool(term_pattern("CATCH").search("we catch it"))
    False
    >>> bool(term_pattern("*herkenning*").search("kentekenherkenningscamera"))
    True
    """
    core = term.strip()
    suffix = core.endswith("*")
    infix = core.startswith("*")
    words = [re.escape(w) for w in core.strip("*").split()]
    body = r"[\s-]+".join(words)
    head = r"(?<!\w)\w*" if infix else r"(?<!\w)"
    tail = r"\w*" if suffix else r"(?!\w)"
    letters = core.strip("*").replace(" ", "")
    flags = 0 if letters.isupper() and len(letters) > 1 else re.IGNORECASE
    return re.compile(rf"{head}{body}{tail}", flags)


def _clause_patterns(term: str) -> list[re.Pattern[str]]:
    # "camera* + herkenning*": every part must occur in the same sentence.
    return [term_pattern(part) for part in term.split(" + ")]


def _excerpt(text: str, start: int, end: int) -> str:
    left = max(0, start - 50)
    right = min(len(text), end + 50)
    snippet = " ".join(text[left:right].split())
    return ("…" if left else "") + snippet + ("…" if right < len(text) else "")


def _sentences(text: str) -> list[tuple[int, str]]:
    out = []
    start = 0
    for m in _SENTENCE.finditer(text):
        out.append((start, text[start : m.start()]))
        start = m.end()
    out.append((start, text[start:]))
    return out


def _find(term: str, text: str) -> tuple[int, int] | None:
    patterns = _clause_patterns(term)
    if len(patterns) == 1:
        m = patterns[0].search(text)
        return (m.start(), m.end()) if m else None
    for offset, sentence in _sentences(text):
        found = [p.search(sentence) for p in patterns]
        spans = [(m.start(), m.end()) for m in found if m is not None]
        if len(spans) == len(patterns):
            return offset + min(s for s, _ in spans), offset + max(e for _, e in spans)
    return None


def _names_match(names: Iterable[str], text: str) -> str | None:
    for name in names:
        if term_pattern(name).search(text):
            return name
    return None


def match(topic: TopicConfig, fields: dict[str, str]) -> list[TopicMatch]:
    """Every term of `topic` found in `fields` (name → text), unless an exclusion also matches
    near it; a topic naming ministries or members matches only question sets addressed to one of
    those ministries or asked by one of those members (fields "addressee" and "askers")."""
    ministries = list(topic.ministries)
    members = list(topic.members)
    gates: list[TopicMatch] = []
    if ministries:
        name = _names_match(ministries, fields.get("addressee", ""))
        if name is None:
            return []
        gates.append(TopicMatch(topic.name, name, "addressee", fields.get("addressee", "")))
    if members:
        name = _names_match(members, fields.get("askers", ""))
        if name is None:
            return []
        gates.append(TopicMatch(topic.name, name, "askers", fields.get("askers", "")))
    excluded = [term_pattern(t) for t in topic.exclude]
    found: list[TopicMatch] = []
    for term in topic.terms:
        for where, text in fields.items():
            if where in ("addressee", "askers"):
                continue
            span = _find(term, text)
            if span is None:
                continue
            window = text[max(0, span[0] - 40) : span[1] + 40]
            if any(x.search(window) for x in excluded):
                continue
            found.append(TopicMatch(topic.name, term, where, _excerpt(text, *span)))
            break
    return [*found, *gates] if found else []


def replay(
    topic: TopicConfig, corpus: Iterable[tuple[str, str, dict[str, str]]]
) -> list[QuestionSetMatch]:
    """Match one topic version over stored question sets `(number, title, fields)`.

    Pure: it reads nothing and sends nothing, so a changed topic can be replayed over the whole
    archive without alerting anyone about old events.
    """
    version = version_of(topic)
    out = []
    for number, title, fields in corpus:
        reasons = match(topic, fields)
        if reasons:
            out.append(QuestionSetMatch(topic.name, version, number, title, tuple(reasons)))
    return out


def explain(found: TopicMatch) -> str:
    """One line saying why a question set matched."""
    return f"“{found.term}” in {found.where}: {found.excerpt}"


def matches_query(query: str, fields: dict[str, str]) -> bool:
    """A keyword query: every word (or `*`-prefix) must occur somewhere in the fields."""
    text = " ".join(fields.values())
    return all(term_pattern(word.lower()).search(text) for word in query.split())
