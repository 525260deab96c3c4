"""A fake Telegram Bot API over HTTP for the real python-telegram-bot: records calls, injects faults.

It checks messages the way Telegram does (HTML entities, 4,096 characters after parsing) and
can answer 429 with retry_after, 403 "bot was blocked by the user", 400 "message is too long",
or stall until the client times out.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

TOKEN = "123456:FAKE-token-never-logged"
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-spoiler",
    "span",
}
_TAG = re.compile(r"<(/?)([a-zA-Z-]+)((?:\s+[a-z-]+=\"[^\"<>]*\")*)\s*>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def html_problem(text: str) -> str | None:
    """Why Telegram would refuse `text` in HTML parse mode, or None if it parses."""
    stack: list[str] = []
    position = 0
    pieces: list[str] = []
    for match in _TAG.finditer(text):
        pieces.append(text[position : match.start()])
        position = match.end()
        closing, name, attrs = match[1], match[2].lower(), match[3]
        if name not in ALLOWED_TAGS:
            return f'Unsupported start tag "{name}"'
        if closing:
            if not stack or stack.pop() != name:
                return f'Unmatched end tag "{name}"'
        else:
            if name == "a" and "href=" not in attrs:
                return "a tag without href"
            stack.append(name)
    pieces.append(text[position:])
    if stack:
        return f'Unclosed start tag "{stack[-1]}"'
    for piece in pieces:
        if "<" in piece or ">" in piece:
            return "Unexpected < or > outside a tag"
        stripped = _ENTITY.sub("", piece)
        if "&" in stripped:
            return "Unescaped &"
    return None


def visible_text(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Sent:
    chat_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    message_id: int


@dataclass
class Faults:
    blocked: set[int] = field(default_factory=set)
    flood: dict[int, tuple[int, int]] = field(default_factory=dict)  # chat: (times, retry_after)
    stall_seconds: float = 0.0
    stall_times: int = 0
    down: bool = False  # every method answers 502, as when Telegram cannot be reached
    hold: threading.Event | None = None  # while set to an unset Event, sendMessage hangs


class FakeBotAPI:
    """Serve the Bot API on loopback in a thread; `url` + "/bot" is PTB's base_url."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[Sent] = []
        self.timed_out: list[dict[str, Any]] = []
        self.held: list[dict[str, Any]] = []
        self.faults = Faults()
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message = 1
        self._lock = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(body or "{}")
                else:
                    params = dict(parse_qsl(body))
                status, payload = fake.handle(self.path, params)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    def __enter__(self) -> FakeBotAPI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.faults.hold is not None:
            self.faults.hold.set()
        self.server.shutdown()
        self.server.server_close()

    # --- what tests read -------------------------------------------------------------------

    def texts(self, chat_id: int) -> list[str]:
        with self._lock:
            return [s.text for s in self.sent if s.chat_id == chat_id]

    def messages(self, chat_id: int) -> list[Sent]:
        with self._lock:
            return [s for s in self.sent if s.chat_id == chat_id]

    def method_calls(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [p for m, p in self.calls if m == method]

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return bool(predicate())

    def drop_held(self) -> None:
        """Stop holding sendMessage; requests held so far are dropped, never delivered."""
        hold, self.faults.hold = self.faults.hold, None
        if hold is not None:
            hold.set()

    # --- what tests send -------------------------------------------------------------------

    def command(self, chat_id: int, text: str) -> None:
        """A user in a private chat sends `text` (a /command with arguments)."""
        name = text.split()[0]
        self._push({"message": {
            "message_id": self._message_id(), "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Tester"},
            "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(name)}],
        }})  # fmt: skip

    def press(self, chat_id: int, data: str) -> None:
        """A user presses an inline button carrying `data`."""
        self._push({"callback_query": {
            "id": str(self._next_update), "chat_instance": "1", "data": data,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Tester"},
            "message": {"message_id": 1, "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private"}, "text": "alert"},
        }})  # fmt: skip

    def _push(self, update: dict[str, Any]) -> None:
        with self._lock:
            update["update_id"] = self._next_update
            self._next_update += 1
            self._updates.append(update)
            self._lock.notify_all()

    def _message_id(self) -> int:
        with self._lock:
            self._next_message += 1
            return self._next_message

    # --- the API -----------------------------------------------------------------------------

    def handle(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = path[len(prefix) :]
        with self._lock:
            self.calls.append((method, params))
        if self.faults.down:
            return self._error(502, "Bad Gateway")
        if method == "getMe":
            return self._ok({"id": 123456, "is_bot": True, "first_name": "Kamerwacht",
                             "username": "kamerwacht_test_bot", "can_join_groups": False,
                             "can_read_all_group_messages": False,
                             "supports_inline_queries": False})  # fmt: skip
        if method == "getUpdates":
            return self._ok(self._get_updates(params))
        if method == "sendMessage":
            return self._send_message(params)
        if method in ("deleteWebhook", "setMyCommands", "answerCallbackQuery", "setWebhook"):
            return self._ok(True)
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}

    @staticmethod
    def _ok(result: Any) -> tuple[int, dict[str, Any]]:
        return 200, {"ok": True, "result": result}

    @staticmethod
    def _error(status: int, description: str, **parameters: Any) -> tuple[int, dict[str, Any]]:
        payload: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            payload["parameters"] = parameters
        return status, payload

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 5.0)
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or time.monotonic() >= deadline:
                    return list(self._updates)
                self._lock.wait(max(0.0, deadline - time.monotonic()))

    def _send_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat = int(params["chat_id"])
        text = str(params.get("text", ""))
        hold = self.faults.hold
        if hold is not None:
            with self._lock:
                self.held.append(params)
            hold.wait()
            if self.faults.hold is not hold:
                # Released by `drop_held`: the request never reached "Telegram" (the sender died).
                return self._error(502, "Bad Gateway: dropped")
        with self._lock:
            stall = self.faults.stall_times > 0
            if stall:
                self.faults.stall_times -= 1
        if stall:
            time.sleep(self.faults.stall_seconds)
            with self._lock:
                self.timed_out.append(params)
            return self._error(504, "Gateway Timeout")
        with self._lock:
            if chat in self.faults.blocked:
                return self._error(403, "Forbidden: bot was blocked by the user")
            times, retry_after = self.faults.flood.get(chat, (0, 0))
            if times > 0:
                self.faults.flood[chat] = (times - 1, retry_after)
                return self._error(429, f"Too Many Requests: retry after {retry_after}",
                                   retry_after=retry_after)  # fmt: skip
        parse_mode = params.get("parse_mode")
        if parse_mode == "HTML":
            problem = html_problem(text)
            if problem:
                return self._error(400, f"Bad Request: can't parse entities: {problem}")
            shown = visible_text(text)
        else:
            shown = text
        if utf16_length(shown) > 4096:
            return self._error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        with self._lock:
            self._next_message += 1
            sent = Sent(chat, text, parse_mode, markup, self._next_message)
            self.sent.append(sent)
        return self._ok({"message_id": sent.message_id, "date": int(time.time()),
                         "chat": {"id": chat, "type": "private"}, "text": shown})  # fmt: skip
