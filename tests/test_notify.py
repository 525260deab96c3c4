"""Rendering alerts as Telegram HTML: escaped, within 4,096 characters, split between answers."""

from __future__ import annotations

import re

from monitor import notify
from monitor.config import default_topics
from monitor.notify import SubscriptionRecord
from monitor.records import ChangeKind, ChangeRecord, EventKind, Severity
from tests.fakes.telegram_api import html_problem, utf16_length, visible_text

HOSTILE = "<script>alert('x')</script> & <b>vet</b> "


def correction(questions: list[dict[str, object]]) -> ChangeRecord:
    return ChangeRecord(
        id=7, key="corrected:1:2", event=EventKind.CORRECTED, question_set="2021Z14612",
        question_set_title="Clearview <AI> & de politie", document_number="2021D38311",
        kinds=(ChangeKind.DENIAL_WEAKENED, ChangeKind.SCOPE_NARROWED), severity=Severity.HIGH,
        summary="", detail={"diff": {"questions": questions}}, created_at="2021-10-13T00:00:00+00:00",
    )  # fmt: skip


def question(number: int, text: str) -> dict[str, object]:
    return {
        "number": str(number), "status": "changed", "severity": "high",
        "kinds": ["denial_weakened"], "reasons": [f"reason {number}: “niet” → “geen toestemming”"],
        "sentences": [{"op": "replace", "old": f"oud {number} {text}", "new": f"nieuw {number} {text}",
                       "kinds": ["denial_weakened"]}],
    }  # fmt: skip


def test_hostile_document_text_renders_as_valid_telegram_html_split_between_answers() -> None:
    text = (HOSTILE * 130)[:5000]
    assert len(text) == 5000
    pieces = [text[i : i + 625] for i in range(0, 5000, 625)]  # eight answers of one document
    questions = [question(n, piece) for n, piece in enumerate(pieces, 1)]
    messages = notify.render(correction(questions), "http://kw.example/", "topic x")
    assert len(messages) > 1
    for message in messages:
        assert html_problem(message) is None, message[:300]
        assert utf16_length(visible_text(message)) <= 4096
        assert notify.visible_length(message) == utf16_length(visible_text(message))
        assert "<script>" not in message
        assert "&lt;script&gt;" in message
    shown = [visible_text(m) for m in messages]
    for n, piece in enumerate(pieces, 1):  # every answer whole, in exactly one message
        holders = [s for s in shown if re.search(rf"^Question {n}\b", s, re.MULTILINE)]
        assert len(holders) == 1
        assert f"nieuw {n} {piece}" in holders[0]
    assert messages[0].startswith("<b>Answer changed</b>")
    assert all(m.startswith("<b>Answer changed</b> · <code>2021Z14612</code> (continued)")
               for m in messages[1:])  # fmt: skip
    assert 'href="http://kw.example/changes/7"' in messages[-1]


def test_one_answer_longer_than_a_message_is_shortened_not_cut_inside_a_tag() -> None:
    change = correction([
        {"number": "4", "status": "changed", "severity": "high", "kinds": ["retraction"],
         "reasons": ["x"], "sentences": [{"op": "insert", "old": "", "new": f"{HOSTILE} {i} " * 40,
                                          "kinds": ["content_added"]} for i in range(12)]},
    ])  # fmt: skip
    messages = notify.render(change, "http://kw.example")
    for message in messages:
        assert html_problem(message) is None
        assert utf16_length(visible_text(message)) <= 4096
    assert "more in the web diff" in messages[-1]


def test_emoji_count_twice_towards_the_limit() -> None:
    assert notify.visible_length("<b>😀</b> &amp;") == 4


def test_a_correction_leads_with_before_and_after_and_the_reason() -> None:
    (message,) = notify.render(correction([question(4, "wordt niet gedaan.")]), "http://kw")
    shown = visible_text(message).split("\n")
    assert shown[2].startswith("Question 4: oud 4")
    assert "→ nieuw 4" in shown[2]
    assert shown[3].startswith("Why: reason 4")
    assert shown[4] == "Severity high: denial_weakened, scope_narrowed"


def test_topic_subscriber_and_follower_are_both_recipients_once() -> None:
    change = correction([question(1, "x")])
    subs = [
        SubscriptionRecord(1, "topic", "gezichtsherkenning"),
        SubscriptionRecord(1, "follow", "2021Z14612"),
        SubscriptionRecord(2, "follow", "2021z14612"),
        SubscriptionRecord(3, "keyword", "stikstof"),
    ]
    fields = {"title": "gezichtsherkenningssoftware van Clearview AI"}
    chosen = notify.recipients(change, fields, subs, default_topics())
    assert sorted(r.chat_id for r in chosen) == [1, 2]


def test_summary_of_a_large_burst_stays_within_one_message() -> None:
    changes = [correction([]) for _ in range(400)]
    text = notify.summarize("400 new alerts at once", changes, "http://kw.example")
    assert html_problem(text) is None
    assert notify.visible_length(text) <= 4096
    assert "more: " in visible_text(text)
