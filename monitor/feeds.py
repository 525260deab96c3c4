"""Changes and question sets as Atom feeds, JSON and CSV exports (and CSV read back)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from feedgen.feed import FeedGenerator

from monitor.browse import sentence_pairs
from monitor.records import ChangeRecord

CHANGE_COLUMNS = (
    "id", "created_at", "event", "question_set", "question_set_title", "document",
    "severity", "kinds", "summary", "before", "after", "permalink",
)  # fmt: skip
ITEM_COLUMNS = (
    "question_set", "number", "role", "label", "document", "document_role", "dated_on",
    "version_id", "rendition", "text",
)  # fmt: skip
# Spreadsheets run cells starting with these as formulas; a leading apostrophe defuses them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_SEPARATOR = "\n"  # between several before/after sentences in one CSV cell


def change_dict(change: ChangeRecord, base_url: str) -> dict[str, Any]:
    """A change as a JSON-ready dict with its permalink and before → after sentences."""
    pairs = sentence_pairs(change)
    return {
        "id": change.id,
        "created_at": change.created_at,
        "event": change.event.value,
        "question_set": change.question_set,
        "question_set_title": change.question_set_title,
        "document": change.document_number,
        "severity": change.severity.value,
        "kinds": [k.value for k in change.kinds],
        "summary": change.summary,
        "before": [before for before, _ in pairs],
        "after": [after for _, after in pairs],
        "permalink": f"{base_url}/changes/{change.id}",
    }


def changes_json(changes: Iterable[ChangeRecord], base_url: str) -> str:
    return json.dumps(
        {"changes": [change_dict(c, base_url) for c in changes]}, ensure_ascii=False, indent=1
    )


def _cell(value: Any) -> str:
    text = _SEPARATOR.join(value) if isinstance(value, list) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _write_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])
    return out.getvalue()


def changes_csv(changes: Iterable[ChangeRecord], base_url: str) -> str:
    """One row per change; several sentences in one cell are separated by newlines.

    Cells that a spreadsheet would run as a formula get a leading apostrophe, which
    `read_changes_csv` removes again.
    """
    kinds_joined = (
        {**change_dict(c, base_url), "kinds": " ".join(k.value for k in c.kinds)} for c in changes
    )
    return _write_csv(CHANGE_COLUMNS, kinds_joined)


def read_changes_csv(text: str) -> list[dict[str, Any]]:
    """Rows of `changes_csv` back as the dicts of `change_dict`."""
    rows = []
    for row in csv.DictReader(io.StringIO(text, newline="")):
        value: dict[str, Any] = {k: _uncell(v) for k, v in row.items()}
        value["id"] = int(value["id"])
        value["kinds"] = value["kinds"].split()
        before, after = value["before"], value["after"]
        # "" is no sentence or one empty one (an inserted sentence has no before): the other
        # column, never empty for the same pair, tells which.
        value["before"] = before.split(_SEPARATOR) if before else [""] * bool(after)
        value["after"] = after.split(_SEPARATOR) if after else [""] * bool(before)
        rows.append(value)
    return rows


def items_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """A question set's questions and answers, one row per item per number."""
    return _write_csv(ITEM_COLUMNS, rows)


def read_items_csv(text: str) -> list[dict[str, Any]]:
    rows = []
    for row in csv.DictReader(io.StringIO(text, newline="")):
        value: dict[str, Any] = {k: _uncell(v) for k, v in row.items()}
        value["version_id"] = int(value["version_id"])
        rows.append(value)
    return rows


def atom(
    changes: Sequence[ChangeRecord],
    *,
    title: str,
    feed_url: str,
    page_url: str,
    base_url: str,
    now: dt.datetime,
) -> bytes:
    """An Atom 1.0 feed of changes, newest first; entry ids are the changes' permalinks."""
    feed = FeedGenerator()
    feed.id(feed_url)
    feed.title(title)
    feed.subtitle("Kamerwacht: changes to answers on Dutch parliamentary written questions")
    feed.link(href=feed_url, rel="self", type="application/atom+xml")
    feed.link(href=page_url, rel="alternate", type="text/html")
    feed.author({"name": "Kamerwacht"})
    feed.generator("Kamerwacht")
    feed.language("nl")
    newest = max((dt.datetime.fromisoformat(c.created_at) for c in changes), default=now)
    feed.updated(newest)
    for change in changes:
        entry = feed.add_entry(order="append")
        permalink = f"{base_url}/changes/{change.id}"
        entry.id(permalink)
        kinds = ", ".join(k.value for k in change.kinds)
        entry.title(
            f"{change.event.value}: {change.question_set} {change.question_set_title}".strip()
            + (f" [{change.severity.value}: {kinds}]" if kinds else "")
        )
        entry.link(href=permalink, rel="alternate", type="text/html")
        moment = dt.datetime.fromisoformat(change.created_at)
        entry.updated(moment)
        entry.published(moment)
        for kind in change.kinds:
            entry.category(term=kind.value, label=kind.value)
        lines = [change.summary]
        lines += [f"Before: {before}\nAfter: {after}" for before, after in sentence_pairs(change)]
        entry.content("\n\n".join(lines), type="text")
    data: bytes = feed.atom_str(pretty=True)
    return data
