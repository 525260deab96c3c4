"""Plan who gets an alert and render it as Telegram HTML: escaped, split at answer boundaries."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from monitor.config import TopicConfig
from monitor.records import ChangeRecord, EventKind
from monitor.topics import match, matches_query

MAX_MESSAGE = 4096
_TAG = re.compile(r"<[^>]+>")

_TITLES = {
    EventKind.TABLED: "New written questions",
    EventKind.DELAYED: "Answer delayed",
    EventKind.ANSWERED: "Answer published",
    EventKind.CORRECTED: "Answer changed",
    EventKind.WITHDRAWN: "Questions withdrawn",
    EventKind.OVERDUE: "Answer overdue",
}


class Notifier(Protocol):
    """Something that delivers one rendered message to one chat (Telegram, the console)."""

    async def send(self, chat_id: int, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    chat_id: int
    kind: str  # "topic", "keyword" or "follow"
    value: str


@dataclass(frozen=True, slots=True)
class Recipient:
    chat_id: int
    reason: str


def recipients(
    change: ChangeRecord,
    fields: dict[str, str],
    subscriptions: Iterable[SubscriptionRecord],
    topics: Iterable[TopicConfig],
) -> list[Recipient]:
    """Chats that want `change`: followers of its question set, topic and keyword subscribers."""
    by_name = {t.name: t for t in topics}
    chosen: dict[int, Recipient] = {}
    for sub in subscriptions:
        if sub.chat_id in chosen:
            continue
        if sub.kind == "follow" and sub.value.upper() == change.question_set.upper():
            chosen[sub.chat_id] = Recipient(sub.chat_id, f"you follow {sub.value}")
        elif sub.kind == "topic" and sub.value in by_name:
            found = match(by_name[sub.value], fields)
            if found:
                chosen[sub.chat_id] = Recipient(
                    sub.chat_id, f"topic {sub.value}: “{found[0].term}” in {found[0].where}"
                )
        elif sub.kind == "keyword" and matches_query(sub.value, fields):
            chosen[sub.chat_id] = Recipient(sub.chat_id, f"keywords “{sub.value}”")
    return list(chosen.values())


def visible_length(message: str) -> int:
    """Length as Telegram counts it: text after entity parsing, in UTF-16 code units."""
    text = html.unescape(_TAG.sub("", message))
    return len(text.encode("utf-16-le")) // 2


def _e(text: str) -> str:
    return html.escape(text, quote=False)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render(change: ChangeRecord, public_url: str, reason: str = "") -> list[str]:
    """The messages for one change; never over 4,096 characters each, tags never cut."""
    title = _TITLES.get(change.event, change.event.value)
    head = [f"<b>{_e(title)}</b> · <code>{_e(change.question_set)}</code>"]
    if change.question_set_title:
        head.append(f"<i>{_e(_clip(change.question_set_title, 300))}</i>")
    if change.event is EventKind.CORRECTED:
        head.append(
            f"Severity <b>{_e(change.severity.value)}</b>: "
            + ", ".join(f"<code>{_e(k.value)}</code>" for k in change.kinds)
        )
    elif change.summary:
        head.append(_e(_clip(change.summary, 500)))
    link = f'<a href="{html.escape(public_url.rstrip("/"), quote=True)}/changes/{change.id}">Open the diff</a>'
    footer = [link]
    if reason:
        footer.append(f"<i>Why you get this: {_e(_clip(reason, 200))}</i>")
    blocks = [_question_block(q) for q in change.changed_questions()]
    return pack("\n".join(head), blocks, "\n".join(footer))


def _question_block(question: dict[str, object]) -> str:
    lines = [f"<b>Question {_e(str(question.get('number') or '?'))}</b>"]
    sentences = question.get("sentences")
    for s in sentences if isinstance(sentences, list) else []:
        if not isinstance(s, dict) or s.get("kinds") == ["editorial"]:
            continue
        old, new = str(s.get("old") or ""), str(s.get("new") or "")
        if old:
            lines.append(f"Before: <s>{_e(_clip(old, 900))}</s>")
        if new:
            lines.append(f"After: <b>{_e(_clip(new, 900))}</b>")
    reasons = question.get("reasons")
    for r in reasons if isinstance(reasons, list) else []:
        lines.append(f"• {_e(_clip(str(r), 400))}")
    return "\n".join(lines)


def pack(head: str, blocks: list[str], footer: str) -> list[str]:
    """Pack blocks into as few messages as fit; every message carries the head, the last the footer."""
    messages: list[str] = []
    current = head
    for block in blocks:
        block = _fit(block, MAX_MESSAGE - visible_length(head) - visible_length(footer) - 4)
        candidate = f"{current}\n\n{block}"
        if visible_length(candidate) + visible_length(footer) + 2 > MAX_MESSAGE and current != head:
            messages.append(current)
            candidate = f"{head} (continued)\n\n{block}"
        current = candidate
    messages.append(f"{current}\n\n{footer}")
    return messages


def _fit(block: str, budget: int) -> str:
    """Shorten a block that alone exceeds the budget by dropping whole lines from its end."""
    lines = block.split("\n")
    while len(lines) > 1 and visible_length("\n".join(lines)) > budget:
        lines.pop()
    return "\n".join(lines)


def plain(message: str) -> str:
    """A rendered message as plain text, for the console notifier."""
    text = re.sub(r"<s>(.*?)</s>", r"\1", message, flags=re.DOTALL)
    return html.unescape(_TAG.sub("", text))
