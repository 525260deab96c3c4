"""Match question sets against topics and keyword queries, recording which term matched where."""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.config import TopicConfig


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """Why a text matched a topic: the term, the field it was found in and a short excerpt."""

    topic: str
    term: str
    where: str
    excerpt: str


def term_pattern(term: str) -> re.Pattern[str]:
    """A case-insensitive pattern for a topic term.

    A trailing `*` matches Dutch inflections and compounds ("gezichtsherkenning*" matches
    "gezichtsherkenningssoftware"); spaces match any whitespace or hyphen.

    >>> bool(term_pattern("gezichtsherkenning*").search("Gezichtsherkenningstechnologie"))
    True
    >>> bool(term_pattern("CATCH").search("catcher"))
    False
    """
    prefix = term.endswith("*")
    words = [re.escape(w) for w in term.rstrip("*").split()]
    body = r"[\s-]+".join(words)
    tail = r"\w*" if prefix else r"(?!\w)"
    return re.compile(rf"(?<!\w){body}{tail}", re.IGNORECASE)


def match(topic: TopicConfig, fields: dict[str, str]) -> list[TopicMatch]:
    """Every term of `topic` found in `fields` (name → text), unless an exclusion also matches."""
    excluded = [term_pattern(t) for t in topic.exclude]
    found: list[TopicMatch] = []
    for term in topic.terms:
        pattern = term_pattern(term)
        for where, text in fields.items():
            m = pattern.search(text)
            if m is None:
                continue
            window = text[max(0, m.start() - 40) : m.end() + 40]
            if any(x.search(window) for x in excluded):
                continue
            found.append(TopicMatch(topic.name, term, where, window.strip()))
            break
    return found


def matches_query(query: str, fields: dict[str, str]) -> bool:
    """A keyword query: every word (or `*`-prefix) must occur somewhere in the fields."""
    text = " ".join(fields.values())
    return all(term_pattern(word).search(text) for word in query.split())
