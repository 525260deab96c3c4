"""`kamerwacht reprocess`: re-parse and re-diff stored raw bodies after a parser or classifier change.

Old changes are never alerted again: versions are re-parsed silently one at a time, corrections
that already exist get their classification refreshed in place, and corrections found only now
are stored silently for review.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor import diff, jobs, segment
from monitor.records import ChangeKind, ParseError, Severity
from monitor.store import Store


@dataclass(frozen=True, slots=True)
class ReprocessResult:
    versions: int
    unparseable: int
    new_changes: int
    refreshed: int
    no_longer_detected: int


def reprocess(store: Store, question_set: str | None = None) -> ReprocessResult:
    """Re-parse every stored version (of one question set, if given) in the order it arrived."""
    # Versions that were never processed are new: they are processed normally (and alerted).
    jobs.process(store)
    unparseable = new_changes = 0
    ids = store.versions_to_reprocess(question_set)
    for version_id in ids:
        # One version at a time, so an interruption leaves at most one version to redo.
        store.reset_version(version_id)
        result = jobs.process(store, silent=True)
        unparseable += result.unparseable
        new_changes += result.corrections
    refreshed = gone = 0
    for change_id, base_id, version_id in store.corrections_of(question_set):
        try:
            old_body, old_rendition, old_name = store.version_body(base_id)
            new_body, new_rendition, new_name = store.version_body(version_id)
            compared = diff.compare(
                segment.parse(old_body, old_rendition),
                segment.parse(new_body, new_rendition),
                carry_forward=old_name != new_name,
            )
        except (KeyError, ParseError):
            continue  # the version is marked unparseable; the change keeps its last classification
        changed = compared.changed
        summary = "; ".join(
            f"question {q.number}: {', '.join(k.value for k in q.kinds) or q.status}"
            for q in changed
        )
        kinds: tuple[ChangeKind, ...] = compared.kinds if changed else ()
        severity = compared.max_severity if changed else Severity.NONE
        if not changed:
            gone += 1
            summary = "no longer detected after reprocessing"
        store.refresh_correction(change_id, kinds, severity, summary, compared.to_json())
        refreshed += 1
    return ReprocessResult(len(ids), unparseable, new_changes, refreshed, gone)
