"""Compare two answer documents per question number, sentence by sentence and word by word."""

from __future__ import annotations

import difflib
import re
from typing import Literal

from diff_match_patch import diff_match_patch

from monitor import sentences
from monitor.classify import classify
from monitor.normalize import answer_paragraphs, comparison_key
from monitor.records import (
    SEVERITY_OF_KIND,
    ChangeKind,
    DocumentDiff,
    Item,
    ParsedDocument,
    QuestionDiff,
    SentenceChange,
    Severity,
    WordOp,
)

_TOKEN = re.compile(r"\w+|[^\w\s]|\s+")
_PAIR_CUTOFF = 0.45
_MOVED_EDIT_CUTOFF = 0.6  # a moved sentence must keep most of its words to count as edited
_MAX_REWRITE = 3  # sentences per side of a rewritten passage compared as one
_MAX_PAIRING = 400  # sentence pairs per replaced block; beyond this, fall back to delete + insert


def word_ops(old: str, new: str) -> tuple[WordOp, ...]:
    """A word-level diff with human-sized chunks (diff-match-patch, semantic clean-up).

    >>> [(o.op, o.text) for o in word_ops("niet gedaan", "geen toestemming gegeven")]
    [('delete', 'niet gedaan'), ('insert', 'geen toestemming gegeven')]
    """
    dmp = diff_match_patch()
    vocab: dict[str, str] = {}

    def encode(text: str) -> str:
        return "".join(vocab.setdefault(t, chr(0xE000 + len(vocab))) for t in _TOKEN.findall(text))

    a, b = encode(old), encode(new)
    decode = {c: t for t, c in vocab.items()}
    diffs = dmp.diff_main(a, b, False)
    dmp.diff_cleanupSemantic(diffs)
    names: dict[int, Literal["equal", "delete", "insert"]] = {0: "equal", -1: "delete", 1: "insert"}
    return tuple(WordOp(names[op], "".join(decode[c] for c in chunk)) for op, chunk in diffs)


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()


def _long_words(text: str) -> set[str]:
    """Words of four letters or more: a rewrite keeps at least one, unrelated text need not."""
    return {w.casefold() for w in re.findall(r"[^\W\d_]{4,}", text)}


def _pair(old: list[str], new: list[str]) -> list[tuple[str, str]]:
    """Pair the most similar sentences of a replaced block; the rest are deletes and inserts."""
    if not old or not new or len(old) * len(new) > _MAX_PAIRING:
        return [(s, "") for s in old] + [("", s) for s in new]
    best, bi, bj = _PAIR_CUTOFF, -1, -1
    for i, a in enumerate(old):
        for j, b in enumerate(new):
            score = _similarity(a, b)
            if score > best:
                best, bi, bj = score, i, j
    if bi < 0:
        # A short passage rewritten beyond word overlap ("Dat wordt niet gedaan." → "Daarvoor
        # wordt geen toestemming gegeven.") is still one statement replaced by another: classify
        # it as such, so a weakened denial is not reported as a deletion plus an insertion.
        joined_old, joined_new = " ".join(old), " ".join(new)
        if (
            len(old) <= _MAX_REWRITE
            and len(new) <= _MAX_REWRITE
            and (
                _long_words(joined_old) & _long_words(joined_new)
                or min(len(joined_old.split()), len(joined_new.split())) <= 3  # "Ja." → "Nee."
            )
        ):
            return [(joined_old, joined_new)]
        return [(s, "") for s in old] + [("", s) for s in new]
    return [*_pair(old[:bi], new[:bj]), (old[bi], new[bj]), *_pair(old[bi + 1 :], new[bj + 1 :])]


def _pair_moved_edits(pairs: list[tuple[str, str]], moved: set[str]) -> list[tuple[str, str]]:
    """A sentence that moved *and* changed is a replacement at its new place, not a deletion
    here and an insertion there: pair left-over deletions and insertions that are close."""
    deletes = [
        i for i, (o, n) in enumerate(pairs) if o and not n and comparison_key(o) not in moved
    ]
    inserts = [
        j for j, (o, n) in enumerate(pairs) if n and not o and comparison_key(n) not in moved
    ]
    if not deletes or not inserts or len(deletes) * len(inserts) > _MAX_PAIRING:
        return pairs
    pairs = list(pairs)
    dropped: set[int] = set()
    for j in inserts:
        scored = [(_similarity(pairs[i][0], pairs[j][1]), i) for i in deletes if i not in dropped]
        best = max(scored, default=(0.0, -1))
        if best[0] >= _MOVED_EDIT_CUTOFF:
            pairs[j] = (pairs[best[1]][0], pairs[j][1])
            dropped.add(best[1])
    return [pair for i, pair in enumerate(pairs) if i not in dropped]


def sentence_changes(old: tuple[str, ...], new: tuple[str, ...]) -> tuple[SentenceChange, ...]:
    """Changed sentences between two answers' paragraphs; moved sentences are marked as moves."""
    old_s = sentences.split_paragraphs(old)
    new_s = sentences.split_paragraphs(new)
    old_k = [comparison_key(s) for s in old_s]
    new_k = [comparison_key(s) for s in new_s]
    pairs: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, old_k, new_k, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pairs.extend(
                (old_s[i], new_s[j]) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        pairs.extend(_pair(old_s[i1:i2], new_s[j1:j2]))
    deleted = {comparison_key(o) for o, n in pairs if o and not n}
    inserted = {comparison_key(n) for o, n in pairs if n and not o}
    moved = deleted & inserted
    pairs = _pair_moved_edits(pairs, moved)
    changes: list[SentenceChange] = []
    for o, n in pairs:
        if o and n and o == n:
            continue
        key = comparison_key(o or n)
        if key in moved:
            if o:  # report a move once, at its new place
                continue
            changes.append(
                SentenceChange("move", old=n, new=n, kinds=(ChangeKind.EDITORIAL,),
                               reasons=("editorial: sentence moved within the answer",))
            )  # fmt: skip
            continue
        result = classify(o, n)
        kind: Literal["replace", "insert", "delete"] = (
            "replace" if o and n else ("delete" if o else "insert")
        )
        changes.append(
            SentenceChange(
                op=kind,
                old=o,
                new=n,
                kinds=result.kinds,
                reasons=result.reasons,
                words=word_ops(o, n) if kind == "replace" else (),
            )
        )
    return tuple(changes)


def _question_diff(
    number: str, old: Item | None, new: Item | None, question: str, carry_forward: bool
) -> QuestionDiff:
    if new is None and (old is None or carry_forward):
        return QuestionDiff(number, "unchanged", (), Severity.NONE, (), (), question)
    if old is not None and new is not None and old.paragraphs == new.paragraphs:
        return QuestionDiff(number, "unchanged", (), Severity.NONE, (), (), question)
    old_paragraphs = answer_paragraphs(old.paragraphs) if old else ()
    new_paragraphs = answer_paragraphs(new.paragraphs) if new else ()
    if old_paragraphs == new_paragraphs:  # the common case: skip all further work
        return QuestionDiff(number, "unchanged", (), Severity.NONE, (), (), question)
    if comparison_key(" ".join(old_paragraphs)) == comparison_key(" ".join(new_paragraphs)):
        if old is not None and " ".join(old_paragraphs) != " ".join(new_paragraphs):
            return QuestionDiff(
                number, "changed", (ChangeKind.EDITORIAL,), Severity.NONE,
                ("editorial: only spelling, punctuation or layout differ",), (), question,
            )  # fmt: skip
        return QuestionDiff(number, "unchanged", (), Severity.NONE, (), (), question)
    changes = sentence_changes(old_paragraphs, new_paragraphs)
    kinds: dict[ChangeKind, None] = {}
    reasons: list[str] = []
    for change in changes:
        for kind in change.kinds:
            kinds.setdefault(kind, None)
        reasons.extend(r for r in change.reasons if r not in reasons)
    substantive = [k for k in kinds if k is not ChangeKind.EDITORIAL]
    final = tuple(substantive) if substantive else ((ChangeKind.EDITORIAL,) if changes else ())
    if substantive:
        reasons = [r for r in reasons if not r.startswith("editorial")]
    status: Literal["changed", "added", "removed"] = (
        "added" if old is None else ("removed" if new is None else "changed")
    )
    severity = Severity.highest([SEVERITY_OF_KIND[k] for k in final])
    return QuestionDiff(number, status, final, severity, tuple(reasons), changes, question)


def compare(old: ParsedDocument, new: ParsedDocument, carry_forward: bool = False) -> DocumentDiff:
    """Diff the answers of two documents per question number.

    With `carry_forward` (a nader antwoord amending an earlier answer), a number the new document
    does not answer keeps its earlier answer and counts as unchanged. Text that could not be tied
    to a number is reported with status `unmatched`, for analyst review.
    """
    numbers: dict[str, None] = {}
    for doc in (old, new):
        for item in (*doc.answers, *doc.questions):
            for n in item.numbers:
                numbers.setdefault(n, None)
    ordered = sorted(numbers, key=_number_order)
    diffs: list[QuestionDiff] = []
    for number in ordered:
        question_item = new.question_for(number) or old.question_for(number)
        question = question_item.text if question_item else ""
        old_item, new_item = old.answer_for(number), new.answer_for(number)
        if old_item is not None and new_item is not None and old_item.numbers != new_item.numbers:
            # One rendition answers "5 en 6" together, the other answers 6 with "zie het
            # antwoord op vraag 5": the same answer, laid out differently.
            if _refers_to_combined(new_item, old_item, number) or _refers_to_combined(
                old_item, new_item, number
            ):
                diffs.append(QuestionDiff(number, "unchanged", (), Severity.NONE, (), (), question))
                continue
            if number != new_item.numbers[0] and number != old_item.numbers[0]:
                diffs.append(QuestionDiff(number, "unchanged", (), Severity.NONE, (), (), question))
                continue
        elif new_item is not None and number != new_item.numbers[0]:
            diffs.append(QuestionDiff(number, "unchanged", (), Severity.NONE, (), (), question))
            continue
        diffs.append(_question_diff(number, old_item, new_item, question, carry_forward))
    for text in new.unmatched:
        if text not in old.unmatched:
            diffs.append(
                QuestionDiff("", "unmatched", (), Severity.NONE,
                             ("text not tied to a question number; needs review",),
                             (SentenceChange("insert", "", text),))
            )  # fmt: skip
    return DocumentDiff(tuple(diffs))


def _refers_to_combined(single: Item, combined: Item, number: str) -> bool:
    """Whether `single` only points to another number that `combined` answers together."""
    others = set(combined.numbers) - {number}
    return (
        number in combined.numbers
        and bool(set(single.see_also) & others)
        and len(" ".join(single.paragraphs)) < 200
    )


def _number_order(number: str) -> tuple[int, str]:
    digits = re.match(r"\d+", number)
    return (int(digits.group(0)) if digits else 10_000, number)
