"""Alerts through the real python-telegram-bot to a fake Bot API: order, once-only, faults."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from monitor import bot, jobs
from monitor.config import Config
from monitor.models import Change, Chat, OutboxMessage
from monitor.replay import ReplayServer, load_timeline
from monitor.store import Store
from tests.fakes.telegram_api import TOKEN, FakeBotAPI, html_problem

TOPIC_CHAT, FOLLOW_CHAT, OTHER_CHAT = 1001, 1002, 1003


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


@pytest.fixture
def tg_config(config: Config, fake: FakeBotAPI) -> Config:
    telegram = dataclasses.replace(config.telegram, api_base_url=fake.base_url)
    return dataclasses.replace(config, telegram=telegram)


@pytest.fixture
def tg_store(migrated: Engine, tg_config: Config) -> Store:
    return Store(migrated, jobs.make_planner(tg_config, telegram=True))


@pytest.fixture
async def kbot(tg_config: Config, tg_store: Store) -> AsyncIterator[bot.KamerwachtBot]:
    instance = bot.KamerwachtBot(tg_config, tg_store, TOKEN, request_timeout=1.0, poll_timeout=1)
    await instance.start()
    yield instance
    await instance.stop()


async def run_timeline(
    config: Config, store: Store, replay: ReplayServer, notifier: object
) -> None:
    for stage in load_timeline():
        replay.state.apply(stage)
        for source in ("syncfeed", "koop"):
            result = await jobs.crawl(config, source, store)
            if result is not None:
                jobs.ingest_file(store, result.path)
                jobs.process(store)
        await jobs.deliver(store, {"telegram": notifier}, config)  # type: ignore[dict-item]


TITLES = ["New written questions", "Answer delayed", "Answer published", "Answer published",
          "Answer changed"]  # fmt: skip


async def test_topic_subscriber_and_follower_get_every_alert_once_in_order(
    tg_config: Config,
    tg_store: Store,
    replay: ReplayServer,
    fake: FakeBotAPI,
    kbot: bot.KamerwachtBot,
) -> None:
    tg_store.subscribe(TOPIC_CHAT, "topic", "gezichtsherkenning")
    tg_store.subscribe(FOLLOW_CHAT, "follow", "2021Z14612")
    tg_store.subscribe(OTHER_CHAT, "keyword", "stikstof")
    await run_timeline(tg_config, tg_store, replay, kbot.notifier)
    for chat in (TOPIC_CHAT, FOLLOW_CHAT):
        texts = fake.texts(chat)
        assert [t.split("</b>")[0].removeprefix("<b>") for t in texts] == TITLES
        assert all("2021Z14612" in t and html_problem(t) is None for t in texts)
        correction = texts[-1]
        assert "denial_weakened" in correction
        assert "scope_narrowed" in correction
        assert "geen toestemming gegeven" in correction
        assert correction.index("→") < correction.index("Severity")  # leads with before → after
        markup = fake.messages(chat)[-1].reply_markup
        assert markup is not None
        labels = [b["text"] for b in markup["inline_keyboard"][0]]
        assert labels == ["Open the diff", "Follow 2021Z14612", "Mute this topic"]
    assert "topic gezichtsherkenning" in fake.texts(TOPIC_CHAT)[0]
    assert "you follow 2021Z14612" in fake.texts(FOLLOW_CHAT)[0]
    assert fake.texts(OTHER_CHAT) == []
    calls = len(fake.method_calls("sendMessage"))
    assert await jobs.deliver(tg_store, {"telegram": kbot.notifier}, tg_config) == {
        "sent": 0, "failed": 0,
    }  # fmt: skip
    assert len(fake.method_calls("sendMessage")) == calls


def outbox(store: Store) -> list[OutboxMessage]:
    with store.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def make_due(store: Store) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with store.session() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=past))


async def test_flood_control_defers_without_losing_or_doubling(
    tg_config: Config, tg_store: Store, fake: FakeBotAPI, kbot: bot.KamerwachtBot
) -> None:
    tg_store.enqueue_direct("telegram", "note", [TOPIC_CHAT, FOLLOW_CHAT], "<b>hello</b>")
    fake.faults.flood[TOPIC_CHAT] = (1, 7)
    counts = await jobs.deliver(tg_store, {"telegram": kbot.notifier}, tg_config)
    assert counts["deferred"] >= 1
    assert counts["sent"] <= 1
    assert counts["failed"] == 0
    flooded = next(r for r in outbox(tg_store) if r.chat_id == TOPIC_CHAT)
    wait = (
        flooded.next_attempt_at.replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)
    ).total_seconds()
    assert 5 < wait <= 7
    assert flooded.status == "pending"
    assert flooded.attempts == 0
    with pytest.raises(bot.RetryLater):  # every chat waits while Telegram's flood control lasts
        await kbot.notifier.send(FOLLOW_CHAT, "not now")
    kbot.notifier._paused_until = 0.0  # the 7 s have "passed"
    make_due(tg_store)
    await jobs.deliver(tg_store, {"telegram": kbot.notifier}, tg_config)
    assert {r.status for r in outbox(tg_store)} == {"sent"}
    assert fake.texts(TOPIC_CHAT) == ["<b>hello</b>"]
    assert fake.texts(FOLLOW_CHAT) == ["<b>hello</b>"]


async def test_a_chat_that_blocked_the_bot_is_deactivated_not_retried(
    tg_config: Config, tg_store: Store, fake: FakeBotAPI, kbot: bot.KamerwachtBot
) -> None:
    tg_store.subscribe(OTHER_CHAT, "topic", "gezichtsherkenning")
    tg_store.enqueue_direct("telegram", "a", [OTHER_CHAT], "one")
    tg_store.enqueue_direct("telegram", "b", [OTHER_CHAT], "two")
    fake.faults.blocked.add(OTHER_CHAT)
    counts = await jobs.deliver(tg_store, {"telegram": kbot.notifier}, tg_config)
    assert counts["blocked"] == 1
    assert [r.status for r in outbox(tg_store)] == ["dead", "dead"]
    with tg_store.session() as session:
        chat = session.get(Chat, OTHER_CHAT)
        assert chat is not None
        assert not chat.active
        assert chat.blocked_at is not None
    assert tg_store.subscriptions() == []  # nothing more is planned for it
    make_due(tg_store)
    await jobs.deliver(tg_store, {"telegram": kbot.notifier}, tg_config)
    assert len(fake.method_calls("sendMessage")) == 1
    assert tg_store.register_chat(OTHER_CHAT) is True  # /start brings it back
    assert len(tg_store.subscriptions()) == 1


async def test_a_timeout_is_retried_later_and_then_delivered_once(
    tg_config: Config, tg_store: Store, fake: FakeBotAPI, kbot: bot.KamerwachtBot
) -> None:
    tg_store.enqueue_direct("telegram", "a", [TOPIC_CHAT], "first")
    tg_store.enqueue_direct("telegram", "b", [TOPIC_CHAT], "second")
    fake.faults.stall_seconds, fake.faults.stall_times = 2.5, 1
    counts = await jobs.deliver(tg_store, {"telegram": kbot.notifier}, tg_config)
    assert counts == {"sent": 0, "failed": 1}
    first, second = outbox(tg_store)
    assert first.status == "pending"
    assert first.attempts == 1
    assert "TimedOut" in (first.last_error or "")
    assert second.attempts == 0
    assert second.next_attempt_at >= first.next_attempt_at
    make_due(tg_store)
    counts = await jobs.deliver(tg_store, {"telegram": kbot.notifier}, tg_config)
    assert counts == {"sent": 2, "failed": 0}
    assert fake.texts(TOPIC_CHAT) == ["first", "second"]
    assert TOKEN not in (first.last_error or "")


async def test_a_message_telegram_refuses_for_length_is_given_up(
    tg_config: Config, tg_store: Store, fake: FakeBotAPI, kbot: bot.KamerwachtBot
) -> None:
    tg_store.enqueue_direct("telegram", "long", [TOPIC_CHAT], "x" * 5000)
    tg_store.enqueue_direct("telegram", "short", [TOPIC_CHAT], "after")
    counts = await jobs.deliver(tg_store, {"telegram": kbot.notifier}, tg_config)
    assert counts == {"sent": 1, "failed": 1}
    assert [r.status for r in outbox(tg_store)] == ["dead", "sent"]
    assert "too long" in (outbox(tg_store)[0].last_error or "")


async def test_a_burst_over_the_cap_becomes_one_summary(
    tg_config: Config,
    tg_store: Store,
    replay: ReplayServer,
    fake: FakeBotAPI,
    kbot: bot.KamerwachtBot,
) -> None:
    config = dataclasses.replace(
        tg_config, alerts=dataclasses.replace(tg_config.alerts, max_per_run=2)
    )
    tg_store.subscribe(TOPIC_CHAT, "topic", "gezichtsherkenning")
    for stage in load_timeline():  # everything published at once: a burst of five alerts
        replay.state.apply(stage)
    for source in ("syncfeed", "koop"):
        result = await jobs.crawl(config, source, tg_store)
        if result is not None:
            jobs.ingest_file(tg_store, result.path)
            jobs.process(tg_store)
    await jobs.deliver(tg_store, {"telegram": kbot.notifier}, config)
    texts = fake.texts(TOPIC_CHAT)
    assert len(texts) == 1
    assert "5 new alerts at once" in texts[0]
    assert texts[0].count("2021Z14612") == 5
    assert html_problem(texts[0]) is None


async def test_muted_chat_is_held_and_digest_chat_gets_one_message(
    tg_config: Config, tg_store: Store, fake: FakeBotAPI, kbot: bot.KamerwachtBot
) -> None:
    tg_store.register_chat(TOPIC_CHAT)
    tg_store.register_chat(FOLLOW_CHAT)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    tg_store.set_chat_mute(TOPIC_CHAT, until)
    tg_store.enqueue_direct("telegram", "note", [TOPIC_CHAT], "held")
    counts = await jobs.deliver(tg_store, {"telegram": kbot.notifier}, tg_config)
    assert counts["deferred"] == 1
    assert fake.texts(TOPIC_CHAT) == []
    assert (
        abs((outbox(tg_store)[0].next_attempt_at.replace(tzinfo=dt.UTC) - until).total_seconds())
        < 1
    )
    tg_store.set_chat_mute(TOPIC_CHAT, None)
    make_due(tg_store)
    await jobs.deliver(tg_store, {"telegram": kbot.notifier}, tg_config)
    assert fake.texts(TOPIC_CHAT) == ["held"]


def add_alert(store: Store, chat_id: int, n: int) -> None:
    """A stored change with its outbox row, as the planner writes them."""
    with store.session() as session:
        change = Change(key=f"answered:test-{n}", event="answered", summary=f"answer {n}")
        session.add(change)
        session.flush()
        session.add(
            OutboxMessage(
                change_id=change.id, channel="telegram", chat_id=chat_id,
                idempotency_key=f"{change.id}:telegram:{chat_id}:0", text=f"alert {n}",
            )
        )  # fmt: skip


async def test_digest_chat_gets_one_message_per_period(
    tg_config: Config, tg_store: Store, fake: FakeBotAPI, kbot: bot.KamerwachtBot
) -> None:
    tg_store.register_chat(FOLLOW_CHAT)
    tg_store.set_digest(FOLLOW_CHAT, True)
    with tg_store.session() as session:
        session.execute(
            update(Chat).values(digest_sent_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
        )
    for n in range(3):
        add_alert(tg_store, FOLLOW_CHAT, n)
    await jobs.deliver(tg_store, {"telegram": kbot.notifier}, tg_config)
    (digest,) = fake.texts(FOLLOW_CHAT)
    assert digest.startswith("<b>Your Kamerwacht digest</b>")
    assert digest.count("Answer published") == 3
    add_alert(tg_store, FOLLOW_CHAT, 3)
    counts = await jobs.deliver(tg_store, {"telegram": kbot.notifier}, tg_config)
    assert counts["deferred"] == 1
    assert len(fake.texts(FOLLOW_CHAT)) == 1
    held = outbox(tg_store)[-1]
    wait = held.next_attempt_at.replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=23) < wait <= jobs.DIGEST_PERIOD


async def test_unreachable_telegram_holds_alerts_until_the_bot_gets_through(
    tg_config: Config, tg_store: Store, fake: FakeBotAPI
) -> None:
    fake.faults.down = True
    instance = bot.KamerwachtBot(
        tg_config, tg_store, TOKEN, request_timeout=1.0, poll_timeout=1, retry_interval=0.2
    )
    await instance.start()  # does not raise: the daemon goes on without Telegram
    try:
        tg_store.enqueue_direct("telegram", "note", [TOPIC_CHAT], "waiting")
        counts = await jobs.deliver(tg_store, {"telegram": instance.notifier}, tg_config)
        assert counts["deferred"] == 1
        assert outbox(tg_store)[0].attempts == 0
        fake.faults.down = False
        for _ in range(100):
            if instance.notifier.ready:
                break
            await asyncio.sleep(0.05)
        make_due(tg_store)
        await jobs.deliver(tg_store, {"telegram": instance.notifier}, tg_config)
        assert fake.texts(TOPIC_CHAT) == ["waiting"]
    finally:
        await instance.stop()


async def test_a_rejected_token_stops_the_bot_without_showing_the_token(
    tg_config: Config, tg_store: Store, fake: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    instance = bot.KamerwachtBot(tg_config, tg_store, "999:WRONG-secret", request_timeout=1.0)
    with pytest.raises(bot.TokenRejected) as raised:
        await instance.start()
    assert "WRONG-secret" not in str(raised.value)
    assert "WRONG-secret" not in caplog.text
    await instance.stop()
