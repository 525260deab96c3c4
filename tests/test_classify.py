"""Golden cases of the correction detector: every kind, with varied wording, end to end."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from monitor import classify, diff
from monitor.records import SEVERITY_OF_KIND, ChangeKind, Item, ParsedDocument, Rendition, Severity

CASES_FILE = Path(__file__).parent / "cases" / "kinds.toml"
CASES: list[dict[str, Any]] = tomllib.loads(CASES_FILE.read_text(encoding="utf-8"))["case"]


def answer_document(text: str, number: str = "7") -> ParsedDocument:
    paragraphs = tuple(p.strip() for p in text.split("\n\n") if p.strip())
    question = Item("question", (number,), f"Vraag {number}", ("Kunt u dat toelichten?",))
    answer = Item("answer", (number,), f"Antwoord {number}", paragraphs)
    return ParsedDocument("case", Rendition.TEXT, "", (question,), (answer,))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_case_gets_exactly_the_expected_kinds(case: dict[str, Any]) -> None:
    (question,) = diff.compare(answer_document(case["old"]), answer_document(case["new"])).questions
    assert sorted(question.kinds) == sorted(ChangeKind(k) for k in case["kinds"]), question.reasons
    expected_severity = Severity.highest([SEVERITY_OF_KIND[ChangeKind(k)] for k in case["kinds"]])
    assert question.severity is Severity(case.get("severity", expected_severity))
    reasons = " ".join(question.reasons).casefold()
    for words in case.get("reason", []):
        assert words.casefold() in reasons, f"{words!r} not named in {question.reasons}"
    if not case["kinds"]:
        assert question.status == "unchanged"


def test_every_kind_has_at_least_three_golden_cases_with_different_wording() -> None:
    per_kind = Counter(c["for"] for c in CASES)
    assert {k: per_kind[k.value] for k in ChangeKind if per_kind[k.value] < 3} == {}
    olds = [c["old"] for c in CASES]
    assert len(set(olds)) == len(olds), "each case needs its own wording"


def test_the_follow_up_admission_alone_is_a_retraction() -> None:
    admission = (
        "Die zin kan echter ook breder worden opgevat en dan is die stelling niet helemaal juist."
    )
    result = classify.classify("", admission)
    assert result.kinds == (ChangeKind.RETRACTION,)
    assert result.severity is Severity.HIGH
    assert "niet helemaal juist" in result.reasons[0]


def test_seed_change_is_found_at_any_question_number_with_other_answers_unchanged() -> None:
    seed = next(c for c in CASES if c["name"].startswith("seed_"))
    filler = [
        f"Het antwoord op vraag {n} is dat er {n} overleggen zijn geweest." for n in range(1, 21)
    ]

    def document(text: str, at: int) -> ParsedDocument:
        answers = tuple(
            Item("answer", (str(n),), f"Antwoord {n}", (text if n == at else filler[n - 1],))
            for n in range(1, 21)
        )
        return ParsedDocument("seed", Rendition.TEXT, "", (), answers)

    for at in (1, 13, 20):
        result = diff.compare(document(seed["old"], at), document(seed["new"], at))
        changed = [q for q in result.questions if q.status != "unchanged"]
        assert [q.number for q in changed] == [str(at)]
        assert {ChangeKind.DENIAL_WEAKENED, ChangeKind.SCOPE_NARROWED} <= set(changed[0].kinds)
        assert changed[0].severity is Severity.HIGH


def test_rules_table_is_ordered_and_explains_itself() -> None:
    kinds = [rule.kind for rule in classify.RULES]
    assert len(kinds) == len(set(kinds))
    assert all(rule.description for rule in classify.RULES)
    assert kinds.index(ChangeKind.DENIAL_WEAKENED) < kinds.index(ChangeKind.NEGATION_FLIPPED)


def as_pdf_text(text: str, marker: str = "3") -> str:
    """The same answer as PDF text extraction gives it: wrapped and hyphenated lines, a glued
    footnote marker, typographic quotes and spaces, a running head between lines."""
    out = []
    for paragraph in text.split("\n\n"):
        words, lines, line = paragraph.replace("'", "’").split(" "), [], ""
        for word in words:
            if len(line) + len(word) > 38 and len(word) > 9 and word[:5].isalpha():
                lines.append(f"{line} {word[:5]}-".strip())
                line = word[5:]
            elif len(line) + len(word) > 38:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
        if len(lines) > 2:
            lines.insert(2, "Pagina 2 van 3")
        text = "\n".join(lines).replace(" € ", " €\u00a0")
        out.append(re.sub(r"(?<=[a-z%])\.(?=\s|$)", f".{marker}", text, count=1))
    return "\n\n".join(out)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_case_survives_a_rendition_switch(case: dict[str, Any]) -> None:
    old, new = answer_document(case["old"]), answer_document(as_pdf_text(case["new"]))
    (question,) = diff.compare(old, new).questions
    substantive = sorted(k for k in question.kinds if k is not ChangeKind.EDITORIAL)
    expected = sorted(ChangeKind(k) for k in case["kinds"] if k != "editorial")
    assert substantive == expected, question.reasons
    (same,) = diff.compare(old, answer_document(as_pdf_text(case["old"], marker="1"))).questions
    assert same.severity is Severity.NONE, same.reasons
