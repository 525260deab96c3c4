"""The noise suite: rendition, layout and typography changes alone never raise a change."""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

import pytest

from monitor import diff
from monitor.cli import read_document
from monitor.records import ChangeKind, Severity

NOISE = Path(__file__).parent / "cases" / "noise"
PAIRS: list[dict[str, Any]] = tomllib.loads((NOISE / "pairs.toml").read_text(encoding="utf-8"))[
    "pair"
]


def _ids(pair: dict[str, Any]) -> str:
    return f"{pair['document']}:{pair['old']}->{pair['new']}"


def line_diff_alerts(old: Path, new: Path) -> bool:
    """What a generic page watcher does: any differing line is an alert."""
    a = old.read_text(encoding="utf-8").splitlines()
    b = new.read_text(encoding="utf-8").splitlines()
    return any(op != "equal" for op, *_ in difflib.SequenceMatcher(None, a, b).get_opcodes())


def test_noise_suite_has_at_least_thirty_pairs() -> None:
    assert len(PAIRS) >= 30


@pytest.mark.parametrize("pair", PAIRS, ids=[_ids(p) for p in PAIRS])
def test_rendition_switch_raises_no_substantive_change(pair: dict[str, Any]) -> None:
    old_path, new_path = (
        NOISE / pair["document"] / pair["old"],
        NOISE / pair["document"] / pair["new"],
    )
    old, new = read_document(str(old_path)), read_document(str(new_path))
    assert [a.numbers for a in old.answers] == [a.numbers for a in new.answers]
    result = diff.compare(old, new)
    problems = {q.number: q.reasons for q in result.changed if q.severity is not Severity.NONE}
    assert problems == {}
    assert all(set(q.kinds) <= {ChangeKind.EDITORIAL} for q in result.questions)
    assert line_diff_alerts(old_path, new_path), "a noise pair must differ as text"


@pytest.mark.parametrize("pair", PAIRS[::6], ids=[_ids(p) for p in PAIRS[::6]])
def test_a_real_change_inside_a_noisy_rendition_is_still_caught(pair: dict[str, Any]) -> None:
    old = read_document(str(NOISE / pair["document"] / pair["old"]))
    new = read_document(str(NOISE / pair["document"] / pair["new"]))
    target = new.answers[-1]
    changed = type(target)(
        target.role, target.numbers, target.label,
        (*target.paragraphs, "Die eerdere mededeling was onjuist."),
    )  # fmt: skip
    new = type(new)(new.identifier, new.rendition, new.title, new.questions,
                    (*new.answers[:-1], changed))  # fmt: skip
    result = diff.compare(old, new)
    assert [(q.number, q.kinds) for q in result.substantive] == [
        (target.numbers[0], (ChangeKind.RETRACTION,))
    ]
