"""The Telegram bot: subscriber commands, inline buttons, and the notifier that sends alerts.

Runs a python-telegram-bot `Application` on the daemon's loop, started and stopped by hand
(long polling). Every database call goes through `asyncio.to_thread`. The bot token is read
from the environment or a file, and is redacted from every log line and error we record.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import html
import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiolimiter import AsyncLimiter
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from monitor import notify
from monitor.config import Config, ConfigError, TelegramConfig, topics_of
from monitor.notify import Button, ChatGone, Rejected, RetryLater
from monitor.store import Store

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

BROADCAST_RATE = 28  # messages per second over all chats; Telegram's limit is about 30
CHAT_BURST = 3  # messages a private chat may get at once before slowing to one a second
COMMANDS_PER_MINUTE = 20
TOPIC_MUTE = dt.timedelta(days=7)
MAX_MUTE = dt.timedelta(days=30)

_QUESTION_SET = re.compile(r"\d{4}Z\d{5}", re.IGNORECASE)
_DURATION = re.compile(r"(\d{1,4})\s*([mhd])", re.IGNORECASE)
_WORD = re.compile(r"[\w*-]{2,40}")


def read_token(config: TelegramConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """The bot token from `[telegram] token_file` or the variable named by `token_env`.

    None means Telegram is off. A named token file that cannot be read is a `ConfigError`.
    """
    environ = os.environ if environ is None else environ
    if config.token_file:
        try:
            token = Path(config.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"telegram.token_file: cannot read {config.token_file} ({exc.strerror})"
            ) from exc
        return token or None
    return environ.get(config.token_env, "").strip() or None


class TokenRejected(RuntimeError):
    """Raised by `KamerwachtBot.start` when Telegram rejects the bot token (never shown)."""


class RedactToken(logging.Filter):
    """Replaces the bot token in log records (library URLs and errors may contain it)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg = message.replace(self.token, "<token>")
            record.args = None
        if record.exc_info:
            # Library errors may quote the token (PTB's InvalidToken does): format it here.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = text.replace(self.token, "<token>")
            record.exc_info = None
        return True


# --- sending alerts ------------------------------------------------------------------------------


class TelegramNotifier:
    """Sends outbox messages through the Bot API, mapping its errors to `notify`'s outcomes."""

    def __init__(self, application: Application, token: str) -> None:  # type: ignore[type-arg]
        self.application = application
        self._token = token
        self._chat_limits: collections.OrderedDict[int, AsyncLimiter] = collections.OrderedDict()
        self._paused_until = 0.0
        # Set by `KamerwachtBot.start`; a bare notifier (tests, the bench) is ready at once.
        self.ready = True

    def _redact(self, error: BaseException) -> str:
        return str(error).replace(self._token, "<token>") or type(error).__name__

    def _chat_limit(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chat_limits.pop(chat_id, None) or AsyncLimiter(CHAT_BURST, CHAT_BURST)
        self._chat_limits[chat_id] = limiter
        while len(self._chat_limits) > 5000:  # idle chats' limiters are full again: drop them
            self._chat_limits.popitem(last=False)
        return limiter

    async def send(self, chat_id: int, text: str, buttons: Sequence[Button] = ()) -> None:
        if not self.ready:
            raise RetryLater("the bot has not reached Telegram yet", after=30.0)
        wait = self._paused_until - time.monotonic()
        if wait > 0:
            raise RetryLater("flood control: sending is paused", after=wait)
        markup = _markup(buttons)
        async with self._chat_limit(chat_id):
            try:
                await self._send(chat_id, text, markup, ParseMode.HTML)
            except BadRequest as exc:
                if "can't parse entities" not in str(exc).lower():
                    raise
                # An escaping bug must not cost the subscriber the alert: send it as plain text.
                logger.error("chat %s: Telegram refused our HTML (%s)", chat_id, exc)
                await self._send(chat_id, notify.plain(text), markup, None)

    async def _send(
        self,
        chat_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None,
        parse_mode: str | None,
    ) -> None:
        try:
            await self.application.bot.send_message(
                chat_id,
                text,
                parse_mode=parse_mode,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except RetryAfter as exc:
            after = _retry_after(exc)
            self._paused_until = max(self._paused_until, time.monotonic() + after)
            raise RetryLater(f"flood control: retry after {after:g} s", after=after) from None
        except Forbidden as exc:
            raise ChatGone(self._redact(exc)) from None
        except ChatMigrated as exc:
            raise ChatGone(f"chat migrated to {exc.new_chat_id}") from None
        except BadRequest as exc:
            message = self._redact(exc)
            if "chat not found" in message.lower():
                raise ChatGone(message) from None
            if "can't parse entities" in message.lower():
                raise
            raise Rejected(message) from None
        except InvalidToken:
            raise RetryLater("Telegram refused the bot token") from None
        except NetworkError as exc:  # includes TimedOut: the message may be retried
            raise RetryLater(f"{type(exc).__name__}: {self._redact(exc)}") from None
        except TelegramError as exc:
            raise RetryLater(f"{type(exc).__name__}: {self._redact(exc)}") from None


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that the int form will become a timedelta; accept both.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def _markup(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    row = [
        InlineKeyboardButton(b.label, url=b.url)
        if b.url
        else InlineKeyboardButton(b.label, callback_data=b.action[:64])
        for b in buttons
    ]
    return InlineKeyboardMarkup([row])


# --- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    usage: str
    description: str
    admin: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("start", "/start", "start (or restart) alerts in this chat"),
    Command("help", "/help", "what the bot can do"),
    Command("subscribe", "/subscribe <topic or keywords>", "alerts on a topic or keyword query"),
    Command("unsubscribe", "/unsubscribe <topic, keywords or all>", "stop a subscription"),
    Command("subscriptions", "/subscriptions", "list your subscriptions"),
    Command("follow", "/follow <zaaknummer>", "alerts on one question set, e.g. 2021Z14612"),
    Command("unfollow", "/unfollow <zaaknummer>", "stop following a question set"),
    Command("mute", "/mute <duration or off>", "hold alerts for e.g. 2h, 3d (at most 30d)"),
    Command("digest", "/digest on|off", "one message a day instead of one per alert"),
    Command("status", "/status", "your settings and the monitor's state"),
    Command("stats", "/stats", "counts of the archive and the outbox", admin=True),
    Command("health", "/health", "the latest run of every source", admin=True),
)


class CommandFlood:
    """Per-chat sliding-window limit on commands, so one chat cannot flood the bot."""

    def __init__(self, limit: int = COMMANDS_PER_MINUTE, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[int, collections.deque[float]] = {}
        self._warned: set[int] = set()

    def allow(self, chat_id: int, now: float | None = None) -> bool | None:
        """True: go on. None: refuse and warn once. False: refuse silently."""
        now = time.monotonic() if now is None else now
        seen = self._seen.setdefault(chat_id, collections.deque())
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) < self.limit:
            seen.append(now)
            self._warned.discard(chat_id)
            return True
        if chat_id in self._warned:
            return False
        self._warned.add(chat_id)
        return None


def parse_duration(text: str) -> dt.timedelta | None:
    """`30m`, `2h`, `3d` as a timedelta (at most 30 days); None if unreadable.

    >>> parse_duration("2h")
    datetime.timedelta(seconds=7200)
    >>> parse_duration("forever") is None
    True
    """
    found = _DURATION.fullmatch(text.strip())
    if not found:
        return None
    unit = {"m": "minutes", "h": "hours", "d": "days"}[found[2].lower()]
    value = dt.timedelta(**{unit: int(found[1])})
    return value if dt.timedelta(0) < value <= MAX_MUTE else None


def parse_query(text: str) -> str | None:
    """A keyword query of 1–6 words (letters, digits, `-`, a trailing `*`), or None.

    >>> parse_query("  Clearview   biometri* ")
    'Clearview biometri*'
    >>> parse_query("<script>") is None
    True
    """
    words = text.split()
    if not 1 <= len(words) <= 6 or not all(_WORD.fullmatch(w) for w in words):
        return None
    return " ".join(words)


def _arguments(args: Sequence[str] | None) -> str:
    """A command's arguments as one string; NUL is dropped (PostgreSQL text cannot hold it)."""
    return " ".join(args or []).replace("\x00", "")


def _e(text: str) -> str:
    return html.escape(text, quote=False)


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


class KamerwachtBot:
    """The bot's handlers and lifecycle; `notifier` delivers the outbox through the same bot."""

    name = "telegram"

    def __init__(
        self,
        config: Config,
        store: Store,
        token: str,
        request_timeout: float = 10.0,
        poll_timeout: int = 10,
        retry_interval: float = 30.0,
    ) -> None:
        # Opt in to PTB 23's timedelta durations now (RetryAfter warns about them otherwise).
        os.environ.setdefault("PTB_TIMEDELTA", "1")
        self.config = config
        self.store = store
        self.topics = {t.name.lower(): t for t in topics_of(config)}
        self.admins = set(config.telegram.admin_chat_ids)
        self.allowed = set(config.telegram.allowed_chat_ids)
        self.flood = CommandFlood()
        self.poll_timeout = poll_timeout
        self.retry_interval = retry_interval
        self._starting: asyncio.Task[None] | None = None
        self._redactor = RedactToken(token)
        # Before building: PTB logs its API URLs, token included, at debug level.
        for handler in logging.getLogger().handlers:
            handler.addFilter(self._redactor)
        request = HTTPXRequest(
            connection_pool_size=64,
            read_timeout=request_timeout,
            write_timeout=request_timeout,
            connect_timeout=request_timeout,
            pool_timeout=request_timeout,
        )
        polling = HTTPXRequest(read_timeout=request_timeout + poll_timeout)
        self.application = (
            ApplicationBuilder()
            .token(token)
            .base_url(config.telegram.api_base_url)
            .request(request)
            .get_updates_request(polling)
            .rate_limiter(
                AIORateLimiter(
                    overall_max_rate=BROADCAST_RATE,
                    overall_time_period=1,
                    group_max_rate=20,
                    group_time_period=60,
                    max_retries=0,  # the outbox reschedules; never sleep inside a send
                )
            )
            .build()
        )
        self.notifier = TelegramNotifier(self.application, token)
        self.notifier.ready = False
        for command in COMMANDS:
            callback: Handler = getattr(self, f"cmd_{command.name}")
            self.application.add_handler(
                CommandHandler(command.name, self._guard(command, callback))
            )
        self.application.add_handler(CallbackQueryHandler(self.on_button))
        self.application.add_error_handler(self.on_error)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Initialize, start polling and handling updates (PTB's manual lifecycle).

        If Telegram cannot be reached, the daemon goes on (alerts wait in the outbox) and the
        bot keeps trying in the background. A rejected token is fatal: `TokenRejected`.
        """
        try:
            await self._start_once()
        except InvalidToken:
            raise TokenRejected("Telegram rejected the bot token") from None
        except NetworkError as exc:
            logger.warning("Telegram is unreachable (%s); retrying", self._redact(exc))
            self._starting = asyncio.create_task(self._keep_starting())

    async def _keep_starting(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            try:
                await self._start_once()
            except InvalidToken:
                logger.error("Telegram rejected the bot token; alerts stay in the outbox")
                return
            except NetworkError as exc:
                logger.warning("Telegram is still unreachable (%s)", self._redact(exc))
                continue
            return

    def _redact(self, error: BaseException) -> str:
        return str(error).replace(self._redactor.token, "<token>") or type(error).__name__

    async def _start_once(self) -> None:
        await self.application.initialize()
        await self.application.bot.set_my_commands(
            [BotCommand(c.name, c.description) for c in COMMANDS if not c.admin]
        )
        assert self.application.updater is not None
        await self.application.updater.start_polling(
            timeout=self.poll_timeout, poll_interval=0.0, drop_pending_updates=False
        )
        await self.application.start()
        self.notifier.ready = True
        logger.info("telegram bot started")

    async def stop(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        self.notifier.ready = False
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self._redactor)
        logger.info("telegram bot stopped")

    # --- plumbing ----------------------------------------------------------------------------

    def _guard(self, command: Command, callback: Handler) -> Handler:
        async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            chat = update.effective_chat
            if chat is None or update.effective_message is None:
                return
            verdict = self.flood.allow(chat.id)
            if verdict is None:
                await self.reply(update, "Too many commands. Please wait a minute.")
            if not verdict:
                return
            if command.admin and chat.id not in self.admins:
                await self.reply(update, "That command is for the operators of this bot.")
                return
            await callback(update, context)

        return guarded

    def may_subscribe(self, chat_id: int) -> bool:
        return not self.allowed or chat_id in self.allowed or chat_id in self.admins

    async def reply(self, update: Update, text: str) -> None:
        message = update.effective_message
        if message is not None:
            await message.reply_text(
                text,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )

    async def _db(self, function: Callable[..., _T], *args: object) -> _T:
        return await asyncio.to_thread(function, *args)

    @staticmethod
    def _chat(update: Update) -> int:
        assert update.effective_chat is not None
        return update.effective_chat.id

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        text = str(error).replace(self._redactor.token, "<token>")
        logger.error("telegram update failed: %s: %s", type(error).__name__, text)

    # --- commands ----------------------------------------------------------------------------

    async def cmd_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = self._chat(update)
        if not self.may_subscribe(chat):
            await self.reply(update, "Sorry, this Kamerwacht bot is private.")
            return
        await self._db(self.store.register_chat, chat)
        await self.reply(
            update,
            "<b>Kamerwacht</b> alerts you when written parliamentary questions are asked, "
            "answered, or when a later answer changes what a minister said.\n\n" + self.help_text(),
        )

    def help_text(self, admin: bool = False) -> str:
        lines = [f"{_e(c.usage)} — {_e(c.description)}" for c in COMMANDS if admin or not c.admin]
        topics = ", ".join(f"<code>{_e(t.name)}</code>" for t in self.topics.values())
        return "\n".join(lines) + f"\n\nTopics: {topics}"

    async def cmd_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.reply(update, self.help_text(admin=self._chat(update) in self.admins))

    async def cmd_subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = self._chat(update)
        if not self.may_subscribe(chat):
            await self.reply(update, "Sorry, this Kamerwacht bot is private.")
            return
        text = _arguments(context.args)
        if not text:
            await self.reply(
                update, "Usage: /subscribe &lt;topic or keywords&gt;\n" + self._topics()
            )
            return
        topic = self.topics.get(text.strip().lower())
        if topic is not None:
            kind, value = "topic", topic.name
        else:
            query = parse_query(text)
            if query is None:
                await self.reply(
                    update,
                    "That is neither a topic nor a keyword query (1–6 words of letters, digits, "
                    "<code>-</code>, a trailing <code>*</code>).\n" + self._topics(),
                )
                return
            kind, value = "keyword", query
        await self._db(self.store.register_chat, chat)
        added = await self._db(self.store.subscribe, chat, kind, value)
        label = f"topic <b>{_e(value)}</b>" if kind == "topic" else f"keywords <b>{_e(value)}</b>"
        await self.reply(
            update, f"Subscribed to {label}." if added else f"You already follow {label}."
        )

    def _topics(self) -> str:
        return "Topics: " + ", ".join(
            f"<code>{_e(t.name)}</code> ({_e(t.description)})" for t in self.topics.values()
        )

    async def cmd_unsubscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = self._chat(update)
        text = _arguments(context.args).strip()
        if not text:
            await self.reply(update, "Usage: /unsubscribe &lt;topic, keywords or all&gt;")
            return
        if text.lower() == "all":
            removed = await self._db(self.store.unsubscribe, chat)
        else:
            topic = self.topics.get(text.lower())
            kind, value = ("topic", topic.name) if topic else ("keyword", " ".join(text.split()))
            removed = await self._db(self.store.unsubscribe, chat, kind, value)
        await self.reply(
            update, f"Removed {removed} subscription(s)." if removed else "No such subscription."
        )

    async def cmd_subscriptions(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        settings = await self._db(self.store.chat_settings, self._chat(update))
        if settings is None or not settings.subscriptions:
            await self.reply(update, "No subscriptions yet. Try /subscribe gezichtsherkenning.")
            return
        muted = set(settings.muted_subscriptions)
        lines = [
            f"• {_e(s.kind)}: <code>{_e(s.value)}</code>" + (" (muted)" if s in muted else "")
            for s in settings.subscriptions
        ]
        await self.reply(update, "<b>Your subscriptions</b>\n" + "\n".join(lines))

    async def cmd_follow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = self._chat(update)
        if not self.may_subscribe(chat):
            await self.reply(update, "Sorry, this Kamerwacht bot is private.")
            return
        number = _arguments(context.args).strip()
        if not _QUESTION_SET.fullmatch(number):
            await self.reply(update, "Usage: /follow &lt;zaaknummer&gt;, e.g. /follow 2021Z14612")
            return
        await self._follow(update, chat, number.upper())

    async def _follow(self, update: Update, chat: int, number: str) -> str:
        await self._db(self.store.register_chat, chat)
        added = await self._db(self.store.subscribe, chat, "follow", number)
        known = await self._db(self.store.question_set, number)
        text = f"Following <code>{_e(number)}</code>." if added else "You already follow it."
        if known is None:
            text += " It is not in the archive yet; you will hear when it appears."
        if update.callback_query is None:
            await self.reply(update, text)
        return text

    async def cmd_unfollow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        number = _arguments(context.args).strip().upper()
        if not _QUESTION_SET.fullmatch(number):
            await self.reply(update, "Usage: /unfollow &lt;zaaknummer&gt;")
            return
        removed = await self._db(self.store.unsubscribe, self._chat(update), "follow", number)
        await self.reply(update, "Unfollowed." if removed else "You did not follow it.")

    async def cmd_mute(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = self._chat(update)
        text = _arguments(context.args).strip()
        if text.lower() == "off":
            await self._db(self.store.set_chat_mute, chat, None)
            await self.reply(update, "Alerts are on again; held alerts follow now.")
            return
        duration = parse_duration(text)
        if duration is None:
            await self.reply(update, "Usage: /mute 30m, 2h or 3d (at most 30d), or /mute off")
            return
        until = dt.datetime.now(dt.UTC) + duration
        await self._db(self.store.register_chat, chat)
        await self._db(self.store.set_chat_mute, chat, until)
        await self.reply(
            update,
            f"Muted until {until:%Y-%m-%d %H:%M} UTC. Alerts are held, not lost: "
            "they come after the mute (many at once as one summary).",
        )

    async def cmd_digest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = self._chat(update)
        choice = _arguments(context.args).strip().lower()
        if choice not in ("on", "off"):
            await self.reply(update, "Usage: /digest on or /digest off")
            return
        await self._db(self.store.register_chat, chat)
        await self._db(self.store.set_digest, chat, choice == "on")
        await self.reply(
            update,
            "Digest on: one message a day with every alert."
            if choice == "on"
            else "Digest off: alerts come one by one again.",
        )

    async def cmd_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        settings = await self._db(self.store.chat_settings, self._chat(update))
        runs = await self._db(self.store.last_runs)
        lines = ["<b>Your settings</b>"]
        if settings is None:
            lines.append("Not registered yet: send /start.")
        else:
            lines.append(f"Subscriptions: {len(settings.subscriptions)}")
            now = dt.datetime.now(dt.UTC)
            if settings.muted_until and settings.muted_until > now:
                lines.append(f"Muted until {settings.muted_until:%Y-%m-%d %H:%M} UTC")
            lines.append(f"Digest: {'on' if settings.digest else 'off'}")
        lines.append("<b>Monitor</b>")
        for job in ("syncfeed", "koop"):
            run = runs.get(job)
            state = f"{run['status']} at {run['finished_at'][:16]}" if run else "not run yet"
            lines.append(f"{_e(job)}: {_e(state)}")
        await self.reply(update, "\n".join(lines))

    async def cmd_stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        counts = await self._db(self.store.counts)
        outbox = await self._db(self.store.outbox_counts)
        chats = await self._db(self.store.telegram_stats)
        lines = ["<b>Archive</b>"] + [f"{_e(k)}: {v}" for k, v in counts.items()]
        lines += ["<b>Outbox</b>"] + [f"{_e(k)}: {v}" for k, v in sorted(outbox.items())]
        lines += ["<b>Chats</b>"] + [f"{_e(k)}: {v}" for k, v in sorted(chats.items())]
        await self.reply(update, "\n".join(lines))

    async def cmd_health(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        runs = await self._db(self.store.last_runs)
        if not runs:
            await self.reply(update, "No job has run yet.")
            return
        lines = ["<b>Latest runs</b>"]
        for job, run in sorted(runs.items()):
            line = f"{_e(job)}: <b>{_e(run['status'])}</b> {_e(run['finished_at'][:19])}"
            if run["error"]:
                line += f"\n  {_e(run['error'])}"
            lines.append(line)
        await self.reply(update, "\n".join(lines))

    # --- inline buttons ----------------------------------------------------------------------

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or update.effective_chat is None:
            return
        chat = update.effective_chat.id
        action, _, value = (query.data or "").partition(":")
        if self.flood.allow(chat) is not True:
            await query.answer("Too many requests; please wait a minute.")
            return
        if action == "follow" and not self.may_subscribe(chat):
            await query.answer("Sorry, this Kamerwacht bot is private.")
        elif action == "follow" and _QUESTION_SET.fullmatch(value):
            text = await self._follow(update, chat, value.upper())
            await query.answer(html.unescape(re.sub(r"<[^>]+>", "", text))[:200])
        elif action == "mute" and value.isdigit():
            await query.answer(await self._mute_topic(chat, int(value)))
        else:
            await query.answer("This button has expired.")

    async def _mute_topic(self, chat: int, change_id: int) -> str:
        """Mute, for a week, this chat's topic and keyword subscriptions that matched the change."""
        found = await self._db(self.store.change_with_fields, change_id)
        settings = await self._db(self.store.chat_settings, chat)
        if found is None or settings is None:
            return "This alert is no longer known."
        change, fields = found
        topics = list(self.topics.values())
        matched = [
            s
            for s in settings.subscriptions
            if s.kind in ("topic", "keyword") and notify.recipients(change, fields, [s], topics)
        ]
        if not matched:
            return "This alert did not come from a topic (you follow the question)."
        until = dt.datetime.now(dt.UTC) + TOPIC_MUTE
        await self._db(self.store.mute_subscriptions, chat, matched, until)
        names = ", ".join(s.value for s in matched)
        return f"Muted {names} for 7 days."[:200]
