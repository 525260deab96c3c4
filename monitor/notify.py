"""Plan who gets an alert and render it as Telegram HTML: escaped, split at answer boundaries.

Delivery failures a `Notifier` reports (all raised by `Notifier.send`)::

    DeliveryError
    ├── RetryLater   the channel asked us to wait (flood control) or the network failed
    ├── ChatGone     the chat blocked the bot or no longer exists: stop sending to it
    └── Rejected     this message can never be sent as it is
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Sequence
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


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button under an alert: a link (`url`) or a bot action (`action`)."""

    label: str
    url: str = ""
    action: str = ""


class Notifier(Protocol):
    """Something that delivers one rendered message to one chat (Telegram, the console)."""

    async def send(self, chat_id: int, text: str, buttons: Sequence[Button] = ()) -> None: ...


class DeliveryError(Exception):
    """Raised by `Notifier.send` when a message was not delivered; the subclass says why."""


class RetryLater(DeliveryError):
    """Raised by `Notifier.send` on flood control or a network failure: try again later.

    `after` is the wait the channel asked for (Telegram's retry_after), or None for a
    network failure, which is retried with back-off.
    """

    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


class ChatGone(DeliveryError):
    """Raised by `Notifier.send` when the chat blocked the bot or no longer exists."""


class Rejected(DeliveryError):
    """Raised by `Notifier.send` when the channel refuses this message for good (e.g. too long)."""


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One due outbox message with what delivery needs to know about its chat and change."""

    id: int
    chat_id: int
    change_id: int | None
    question_set: str
    text: str
    attempts: int
    first_part: bool
    muted_until: dt.datetime | None = None
    digest: bool = False
    digest_sent_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    chat_id: int
    kind: str  # "topic", "keyword" or "follow"
    value: str


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """A chat's delivery state and subscriptions, as the bot shows them with /status."""

    chat_id: int
    active: bool
    blocked: bool
    muted_until: dt.datetime | None
    digest: bool
    subscriptions: tuple[SubscriptionRecord, ...]
    muted_subscriptions: tuple[SubscriptionRecord, ...] = ()


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
    """The messages for one change; never over 4,096 characters each, tags never cut.

    A correction leads with its most severe before → after sentence and the reason, then lists
    every changed answer; it splits only between answers.
    """
    title = _TITLES.get(change.event, change.event.value)
    head = [f"<b>{_e(title)}</b> · <code>{_e(change.question_set)}</code>"]
    if change.question_set_title:
        head.append(f"<i>{_e(_clip(change.question_set_title, 300))}</i>")
    questions = change.changed_questions()
    lead = _lead(questions) if change.event is EventKind.CORRECTED else None
    if lead is not None:
        number, sentence, why = lead
        head.append(
            f"<b>Question {_e(number)}</b>: "
            f"<s>{_e(_clip(sentence['old'], 900))}</s> → <b>{_e(_clip(sentence['new'], 900))}</b>"
        )
        if why:
            head.append(f"Why: {_e(_clip(why, 400))}")
    if change.event is EventKind.CORRECTED:
        head.append(
            f"Severity <b>{_e(change.severity.value)}</b>: "
            + ", ".join(f"<code>{_e(k.value)}</code>" for k in change.kinds)
        )
    elif change.summary:
        head.append(_e(_clip(change.summary, 500)))
    footer = [f'<a href="{diff_url(public_url, change.id)}">Open the diff</a>']
    if reason:
        footer.append(f"<i>Why you get this: {_e(_clip(reason, 200))}</i>")
    skip = lead[1] if lead else None
    blocks = [_question_block(q, skip) for q in questions]
    return pack("\n".join(head), [b for b in blocks if b], "\n".join(footer))


def diff_url(public_url: str, change_id: int) -> str:
    """The web page of one change, attribute-escaped for an href."""
    return html.escape(f"{public_url.rstrip('/')}/changes/{change_id}", quote=True)


def _lead(questions: list[dict[str, object]]) -> tuple[str, dict[str, str], str] | None:
    """The most severe replaced sentence of a correction, its question number and first reason."""
    rank = {"high": 3, "medium": 2, "low": 1}
    ordered = sorted(questions, key=lambda q: -rank.get(str(q.get("severity")), 0))
    for question in ordered:
        sentences = question.get("sentences")
        for s in sentences if isinstance(sentences, list) else []:
            if not isinstance(s, dict) or s.get("kinds") == ["editorial"]:
                continue
            if s.get("old") and s.get("new"):
                reasons = question.get("reasons")
                why = str(reasons[0]) if isinstance(reasons, list) and reasons else ""
                return str(question.get("number") or "?"), s, why
    return None


def _question_block(question: dict[str, object], skip: object = None) -> str:
    lines = [f"<b>Question {_e(str(question.get('number') or '?'))}</b>"]
    sentences = question.get("sentences")
    for s in sentences if isinstance(sentences, list) else []:
        if not isinstance(s, dict) or s.get("kinds") == ["editorial"] or s is skip:
            continue
        old, new = str(s.get("old") or ""), str(s.get("new") or "")
        if old:
            lines.append(f"Before: <s>{_e(_clip(old, 900))}</s>")
        if new:
            lines.append(f"After: <b>{_e(_clip(new, 900))}</b>")
    reasons = question.get("reasons")
    for r in reasons if isinstance(reasons, list) else []:
        lines.append(f"• {_e(_clip(str(r), 400))}")
    return "\n".join(lines) if len(lines) > 1 else ""


def buttons(change_id: int | None, question_set: str, public_url: str) -> list[Button]:
    """The inline buttons under an alert: open the diff, follow the question, mute its topic."""
    out: list[Button] = []
    if change_id is not None:
        out.append(Button("Open the diff", url=f"{public_url.rstrip('/')}/changes/{change_id}"))
    if question_set:
        out.append(Button(f"Follow {question_set}", action=f"follow:{question_set}"))
    if change_id is not None:
        out.append(Button("Mute this topic", action=f"mute:{change_id}"))
    return out


def summarize(heading: str, changes: Sequence[ChangeRecord], public_url: str) -> str:
    """One message standing for many alerts (a burst or a digest), within Telegram's limit."""
    base = public_url.rstrip("/")
    head = f"<b>{_e(heading)}</b>"
    more = f'\n… and {{n}} more: <a href="{html.escape(base, quote=True)}/changes">all changes</a>'
    lines: list[str] = []
    for index, change in enumerate(changes):
        title = _TITLES.get(change.event, change.event.value)
        line = (
            f"• <b>{_e(title)}</b> · <code>{_e(change.question_set)}</code> "
            f"<i>{_e(_clip(change.question_set_title, 120))}</i> "
            f'<a href="{diff_url(public_url, change.id)}">diff</a>'
        )
        candidate = "\n".join([head, *lines, line]) + more.format(n=len(changes))
        if visible_length(candidate) > MAX_MESSAGE:
            return "\n".join([head, *lines]) + more.format(n=len(changes) - index)
        lines.append(line)
    return "\n".join([head, *lines])


def pack(head: str, blocks: list[str], footer: str) -> list[str]:
    """Pack blocks into as few messages as fit; the first carries the head, the last the footer.

    Later messages start with the head's first line and "(continued)". Blocks are never split,
    so a tag can never be cut; a block too long for any message loses whole lines at its end.
    """
    continued = head.split("\n", 1)[0] + " (continued)"
    budget = MAX_MESSAGE - max(visible_length(head), visible_length(continued))
    budget -= visible_length(footer) + 4
    messages: list[str] = []
    current = head
    for block in blocks:
        block = _fit(block, budget)
        candidate = f"{current}\n\n{block}"
        if visible_length(candidate) + visible_length(footer) + 2 > MAX_MESSAGE:
            messages.append(current)
            candidate = f"{continued}\n\n{block}"
        current = candidate
    messages.append(f"{current}\n\n{footer}")
    return messages


def _fit(block: str, budget: int) -> str:
    """Shorten a block that alone exceeds the budget by dropping whole lines from its end."""
    lines = block.split("\n")
    if visible_length(block) <= budget:
        return block
    note = "<i>(more in the web diff)</i>"
    while len(lines) > 1 and visible_length("\n".join([*lines, note])) > budget:
        lines.pop()
    return "\n".join([*lines, note])


def plain(message: str) -> str:
    """A rendered message as plain text, for the console notifier."""
    text = re.sub(r"<s>(.*?)</s>", r"\1", message, flags=re.DOTALL)
    return html.unescape(_TAG.sub("", text))
