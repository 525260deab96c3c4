"""The bot's commands and buttons, through real polling against the fake Bot API."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.engine import Engine

from monitor import bot, jobs
from monitor.config import Config, ConfigError, TelegramConfig
from monitor.store import Store
from tests.fakes.telegram_api import TOKEN, FakeBotAPI, html_problem

USER, ADMIN, STRANGER = 501, 900, 777


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


@pytest.fixture
def tg_config(config: Config, fake: FakeBotAPI) -> Config:
    telegram = dataclasses.replace(
        config.telegram, api_base_url=fake.base_url, admin_chat_ids=[ADMIN]
    )
    return dataclasses.replace(config, telegram=telegram)


@pytest.fixture
async def running(
    migrated: Engine, tg_config: Config, fake: FakeBotAPI
) -> AsyncIterator[tuple[bot.KamerwachtBot, Store]]:
    store = Store(migrated, jobs.make_planner(tg_config, telegram=True))
    instance = bot.KamerwachtBot(tg_config, store, TOKEN, request_timeout=2.0, poll_timeout=1)
    await instance.start()
    yield instance, store
    await instance.stop()


async def ask(fake: FakeBotAPI, chat: int, text: str) -> str:
    before = len(fake.texts(chat))
    fake.command(chat, text)
    for _ in range(200):
        if len(fake.texts(chat)) > before:
            break
        await asyncio.sleep(0.02)
    texts = fake.texts(chat)
    assert len(texts) > before, f"no reply to {text!r}"
    assert html_problem(texts[-1]) is None
    return texts[-1]


async def test_subscriber_commands_change_what_the_chat_gets(
    running: tuple[bot.KamerwachtBot, Store], fake: FakeBotAPI
) -> None:
    _, store = running
    assert "/subscribe" in await ask(fake, USER, "/start")
    assert "Subscribed to topic" in await ask(fake, USER, "/subscribe Gezichtsherkenning")
    assert "already" in await ask(fake, USER, "/subscribe gezichtsherkenning")
    assert "keywords" in await ask(fake, USER, "/subscribe clearview biometri*")
    refused = await ask(fake, USER, "/subscribe <script>alert(1)</script>")
    assert "neither a topic" in refused
    assert "Following" in await ask(fake, USER, "/follow 2021z14612")
    assert "Usage" in await ask(fake, USER, "/follow 14612")
    assert "Muted until" in await ask(fake, USER, "/mute 2h")
    assert "Usage" in await ask(fake, USER, "/mute forever")
    assert "Digest on" in await ask(fake, USER, "/digest on")
    status = await ask(fake, USER, "/status")
    assert "Subscriptions: 3" in status
    assert "Digest: on" in status
    listed = await ask(fake, USER, "/subscriptions")
    assert "2021Z14612" in listed
    assert "clearview biometri*" in listed
    assert "Unfollowed" in await ask(fake, USER, "/unfollow 2021Z14612")
    settings = store.chat_settings(USER)
    assert settings is not None
    assert settings.digest
    assert settings.muted_until is not None
    assert {(s.kind, s.value) for s in settings.subscriptions} == {
        ("topic", "gezichtsherkenning"), ("keyword", "clearview biometri*"),
    }  # fmt: skip
    assert "Removed 2" in await ask(fake, USER, "/unsubscribe all")


async def test_admin_commands_are_refused_to_others(
    running: tuple[bot.KamerwachtBot, Store], fake: FakeBotAPI
) -> None:
    assert "operators" in await ask(fake, USER, "/stats")
    stats = await ask(fake, ADMIN, "/stats")
    assert "question_sets" in stats
    assert "chats_active" in stats
    assert "No job has run yet" in await ask(fake, ADMIN, "/health")


async def test_a_command_flood_gets_one_warning_then_silence(
    running: tuple[bot.KamerwachtBot, Store], fake: FakeBotAPI
) -> None:
    for _ in range(bot.COMMANDS_PER_MINUTE + 5):
        fake.command(USER, "/help")
    await asyncio.sleep(1.5)
    texts = fake.texts(USER)
    assert len(texts) == bot.COMMANDS_PER_MINUTE + 1
    assert texts[-1] == "Too many commands. Please wait a minute."


async def test_follow_button_subscribes_and_answers(
    running: tuple[bot.KamerwachtBot, Store], fake: FakeBotAPI
) -> None:
    _, store = running
    fake.press(USER, "follow:2021Z14612")
    for _ in range(250):
        if fake.method_calls("answerCallbackQuery"):
            break
        await asyncio.sleep(0.02)
    assert "Following" in fake.method_calls("answerCallbackQuery")[0]["text"]
    assert [(s.kind, s.value) for s in store.subscriptions()] == [("follow", "2021Z14612")]


async def test_allow_list_keeps_strangers_out(
    migrated: Engine, tg_config: Config, fake: FakeBotAPI
) -> None:
    telegram = dataclasses.replace(tg_config.telegram, allowed_chat_ids=[USER])
    config = dataclasses.replace(tg_config, telegram=telegram)
    store = Store(migrated)
    instance = bot.KamerwachtBot(config, store, TOKEN, request_timeout=2.0, poll_timeout=1)
    await instance.start()
    try:
        assert "private" in await ask(fake, STRANGER, "/subscribe gezichtsherkenning")
        assert "Subscribed" in await ask(fake, USER, "/subscribe gezichtsherkenning")
    finally:
        await instance.stop()
    assert [s.chat_id for s in store.subscriptions()] == [USER]


def test_help_lists_exactly_the_registered_commands(config: Config, migrated: Engine) -> None:
    instance = bot.KamerwachtBot(config, Store(migrated), TOKEN)
    registered = {
        name
        for handlers in instance.application.handlers.values()
        for handler in handlers
        for name in getattr(handler, "commands", ())
    }
    listed = {
        line.split()[0][1:]
        for line in instance.help_text(admin=True).split("\n")
        if line.startswith("/")
    }
    assert listed == registered == {c.name for c in bot.COMMANDS}


def test_token_comes_from_env_or_file_and_is_redacted_in_logs(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    assert bot.read_token(TelegramConfig(), {"KAMERWACHT_TELEGRAM_TOKEN": " t0k "}) == "t0k"
    assert bot.read_token(TelegramConfig(), {}) is None
    path = tmp_path / "token"
    path.write_text("from-file\n")
    assert bot.read_token(TelegramConfig(token_file=str(path)), {}) == "from-file"
    with pytest.raises(ConfigError, match=r"telegram\.token_file"):
        bot.read_token(TelegramConfig(token_file=str(tmp_path / "missing")), {})
    record = logging.LogRecord(
        "httpx", logging.INFO, "", 0, "POST %s", (f"http://x/bot{TOKEN}/getMe",), None
    )
    bot.RedactToken(TOKEN).filter(record)
    assert TOKEN not in record.getMessage()
    assert "<token>" in record.getMessage()
