"""A Telegram chat in the terminal: a tiny Bot API server on 127.0.0.1 for the real bot.

python-telegram-bot talks to this server exactly as it talks to api.telegram.org, so what the
terminal shows is exactly what Telegram would receive: each ``sendMessage`` and
``editMessageText`` is printed (HTML as terminal styling, the inline keyboard as numbered
choices), and what the trader types becomes ``getUpdates`` traffic — a line of text a message,
a number a press of that button on the latest message that has buttons.

Only what the bot uses is served; every other method gets Telegram's 404 answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sys
import tempfile
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

from positionbot.bot.demo.console_prompt import KeyboardPrompt
from positionbot.bot.demo.console_render import (
    bot_block,
    keyboard_buttons,
    keyboard_lines,
    narration,
    terminal_text,
    toast_line,
    user_line,
)
from positionbot.bot.demo.console_wire import (
    BOT_USER,
    TOKEN,
    ApiError,
    ChatMessage,
    error_response,
    escape,
    int_param,
    markup_param,
    read_params,
    save_upload,
    str_param,
)

log = logging.getLogger(__name__)

MAX_POLL_SECONDS = 1.0  # a long poll is cut short so shutdown never waits for it
MAX_QUEUED_UPDATES = 100
MAX_KEPT_MESSAGES = 200  # messages a button press or an edit may still refer to
_QUIT_WORDS = frozenset({"/quit", "quit", "exit", "/exit"})


class ConsoleChat:
    """One private chat between the trader and the bot, printed to ``out``.

    ``ansi`` (default: whether ``out`` is a terminal) turns on bold and italic styling.
    """

    def __init__(self, out: TextIO, chat_id: int, *, ansi: bool | None = None,
                 user_name: str = "Trader") -> None:
        self.chat_id = chat_id
        self.token = TOKEN
        self._out = out
        self._ansi = out.isatty() if ansi is None else ansi
        self._chat = {"id": chat_id, "type": "private", "first_name": user_name}
        self._user = {"id": chat_id, "is_bot": False, "first_name": user_name}
        self._messages: OrderedDict[int, ChatMessage] = OrderedDict()
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._updates: deque[dict[str, Any]] = deque()
        self._new_update = asyncio.Event()
        self._latest_keyboard: int | None = None
        self._answered: deque[str] = deque(maxlen=MAX_KEPT_MESSAGES)  # recent query ids
        self._shown = 0  # bot messages printed (sent or edited) so far
        self._runner: web.AppRunner | None = None
        self._stdin: TextIO | None = None
        self._prompt: KeyboardPrompt | None = None
        self.base_url = ""
        self.files_dir = Path(tempfile.gettempdir()) / "positionbot-demo"  # photos, documents
        self.output_closed = False  # the reader went away (a closed pipe): stop the show
        self.quit_requested = asyncio.Event()
        self.input_closed = asyncio.Event()

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on 127.0.0.1 (a free port); returns the ``base_url`` for PTB."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        return self.base_url

    async def stop(self) -> None:
        self.detach_keyboard()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ConsoleChat:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- the trader's side ---------------------------------------------------------------------

    def send_text(self, text: str, *, echo: bool = True) -> None:
        """The trader sends ``text`` (``/positions``, ``/sl BTC 58000`` ...)."""
        if echo:
            self._write(user_line(text, ansi=self._ansi))
        message: dict[str, Any] = {"message_id": next(self._message_ids),
                                   "date": int(time.time()), "chat": self._chat,
                                   "from": self._user, "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(text.split()[0])}]
        self._push({"message": message})

    def press(self, number: int) -> str | None:
        """Press button ``number`` of the latest message with buttons; the query id, or None
        (with a note to the trader) when there is no such button."""
        message = self._messages.get(self._latest_keyboard or 0)
        buttons = message.buttons if message is not None else []
        if message is None or not 1 <= number <= len(buttons):
            self.note(f"There is no button [{number}] on the latest message.")
            return None
        button = buttons[number - 1]
        if button.callback_data is None:
            self.note(f"[{number}] {button.label} is a link; nothing to press here.")
            return None
        self._write(user_line(f"[{number}] {button.label}", ansi=self._ansi))
        query_id = f"q{next(self._query_ids)}"
        self._push({"callback_query": {
            "id": query_id, "chat_instance": f"console{self.chat_id}", "from": self._user,
            "message": self._as_api(message), "data": button.callback_data,
        }})
        return query_id

    def press_label(self, label_part: str) -> str | None:
        """Press the first button whose label contains ``label_part`` on the latest keyboard."""
        message = self._messages.get(self._latest_keyboard or 0)
        for number, button in enumerate(message.buttons if message else [], start=1):
            if label_part in button.label:
                return self.press(number)
        self.note(f"No '{label_part}' button on the latest message.")
        return None

    def handle_line(self, line: str) -> None:
        """A line typed at the terminal: a number presses a button, anything else is sent."""
        text = line.strip()
        if not text:
            return
        if text.lower() in _QUIT_WORDS:
            self.quit_requested.set()
        elif text.isdigit():
            self.press(int(text))
        else:
            self.send_text(text, echo=False)  # the terminal has echoed it already

    def attach_keyboard(self, stream: TextIO | None = None) -> bool:
        """Read typed lines from ``stream`` (default stdin) if it is a terminal; returns
        whether it is. End of input (Ctrl-D) sets ``input_closed``. On the process's own
        terminal prompt_toolkit reads them, so messages never break the line being typed."""
        source = stream if stream is not None else sys.stdin
        try:
            interactive = source.isatty()
        except ValueError:  # closed
            interactive = False
        if not interactive:
            return False
        if source is sys.stdin and self._out.isatty():
            self.attach_prompt(KeyboardPrompt(self))
            return True
        self._stdin = source
        asyncio.get_running_loop().add_reader(source.fileno(), self._read_line)
        return True

    def attach_prompt(self, prompt: KeyboardPrompt) -> None:
        """Take typed lines from ``prompt`` (tests give it a pipe for a keyboard)."""
        self._prompt = prompt
        prompt.start()

    def redirect(self, out: TextIO) -> TextIO:
        """Print to ``out`` from now on (the prompt's stdout proxy); returns the previous one."""
        previous, self._out = self._out, out
        return previous

    def detach_keyboard(self) -> None:
        if self._prompt is not None:
            self._prompt.stop()
            self._prompt = None
        stream = self._stdin
        if stream is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(stream.fileno())
            self._stdin = None

    def _read_line(self) -> None:
        assert self._stdin is not None
        line = self._stdin.readline()
        if not line:
            self.detach_keyboard()
            self.input_closed.set()
            return
        self.handle_line(line)

    # --- the narrator --------------------------------------------------------------------------

    def narrate(self, text: str) -> None:
        self._write(narration(text, ansi=self._ansi))

    def note(self, text: str) -> None:
        self._write(f"   ({text})\n\n")

    # --- observation, for whoever drives the chat ----------------------------------------------

    @property
    def shown(self) -> int:
        """Bot messages printed so far (sent or edited)."""
        return self._shown

    def answered(self, query_id: str) -> bool:
        return query_id in self._answered

    # --- output --------------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        if self.output_closed:
            return
        try:
            self._out.write(text)
            self._out.flush()
        except (BrokenPipeError, ValueError):
            self.output_closed = True
            self.quit_requested.set()

    def _show(self, message: ChatMessage, flags: list[str]) -> None:
        rows = keyboard_buttons(message.markup)
        html = message.html if message.parse_mode == "HTML" else escape(message.html)
        text = terminal_text(html, ansi=self._ansi)
        lines = keyboard_lines(rows, ansi=self._ansi)
        self._write(bot_block(text, lines, flags, ansi=self._ansi))
        self._shown += 1
        if rows:
            self._latest_keyboard = message.message_id

    # --- the Bot API ---------------------------------------------------------------------------

    def _push(self, update: dict[str, Any]) -> None:
        if len(self._updates) >= MAX_QUEUED_UPDATES:
            self._updates.popleft()
            log.warning("console chat: the bot is not reading updates; dropped the oldest")
        self._updates.append({"update_id": next(self._update_ids), **update})
        self._new_update.set()

    def _as_api(self, m: ChatMessage) -> dict[str, Any]:
        return m.as_api(self._chat)

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            handler = _METHODS.get(method)
            if handler is None:
                log.warning("console chat: unsupported Bot API method %s", method)
                raise ApiError(404, "Not Found: method not found")
            result = await handler(self, await read_params(request))
        except ApiError as err:
            return error_response(err)
        return web.json_response({"ok": True, "result": result})

    def _check_chat(self, params: dict[str, Any]) -> None:
        if int_param(params, "chat_id") != self.chat_id:
            raise ApiError(400, "Bad Request: chat not found")

    def _message(self, params: dict[str, Any]) -> ChatMessage:
        self._check_chat(params)
        message = self._messages.get(int_param(params, "message_id"))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    async def _get_me(self, _: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    async def _ok(self, _: dict[str, Any]) -> bool:
        return True

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int_param(params, "offset", 0)
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()
        timeout = min(float(params.get("timeout") or 0), MAX_POLL_SECONDS)
        if not self._updates and timeout > 0:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout)
        return list(itertools.islice(self._updates, int_param(params, "limit", 100)))

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_chat(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        message = ChatMessage(next(self._message_ids), text, str_param(params, "parse_mode"),
                           markup_param(params), int(time.time()))
        self._messages[message.message_id] = message
        while len(self._messages) > MAX_KEPT_MESSAGES:
            self._messages.popitem(last=False)
        self._show(message, ["🔕 silent"] if params.get("disable_notification") in (True, "true")
                   else [])
        return self._as_api(message)

    async def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message(params)
        text, markup = str(params.get("text") or ""), markup_param(params)
        if text == message.html and markup == message.markup:
            raise ApiError(400, "Bad Request: message is not modified: specified new message "
                                 "content and reply markup are exactly the same as a current "
                                 "content and reply markup of the message")
        message.html, message.markup = text, markup
        message.parse_mode = str_param(params, "parse_mode")
        self._show(message, [f"✏️ edited message #{message.message_id}"])
        return self._as_api(message)

    async def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message(params)
        markup = markup_param(params)
        if markup == message.markup:
            raise ApiError(400, "Bad Request: message is not modified")
        message.markup = markup
        self._show(message, [f"✏️ new buttons on message #{message.message_id}"])
        return self._as_api(message)

    async def _send_file(self, params: dict[str, Any], field: str) -> dict[str, Any]:
        """A photo or document: saved under ``files_dir``; the chat shows its caption and path."""
        self._check_chat(params)
        path = save_upload(params, field, self.files_dir)
        if path is None:
            raise ApiError(400, f"Bad Request: there is no {field} in the request")
        icon = "🖼" if field == "photo" else "📎"
        caption = str(params.get("caption") or "")
        html = f"{caption}\n{icon} {escape(str(path))}" if caption else f"{icon} {escape(str(path))}"
        message = ChatMessage(next(self._message_ids), html, "HTML", markup_param(params),
                           int(time.time()))
        self._messages[message.message_id] = message
        self._show(message, [])
        return self._as_api(message)

    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id in self._answered:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                 "or query ID is invalid")
        self._answered.append(query_id)
        text = str_param(params, "text")
        if text:
            alert = params.get("show_alert") in (True, "true")
            self._write(toast_line(text, alert=alert, ansi=self._ansi))
        return True


_Handler = Callable[[ConsoleChat, dict[str, Any]], Any]
_METHODS: dict[str, _Handler] = {
    "getMe": ConsoleChat._get_me,
    "deleteWebhook": ConsoleChat._ok,
    "setMyCommands": ConsoleChat._ok,
    "deleteMyCommands": ConsoleChat._ok,
    "sendChatAction": ConsoleChat._ok,
    "close": ConsoleChat._ok,
    "getUpdates": ConsoleChat._get_updates,
    "sendMessage": ConsoleChat._send_message,
    "editMessageText": ConsoleChat._edit_message_text,
    "editMessageReplyMarkup": ConsoleChat._edit_message_reply_markup,
    "answerCallbackQuery": ConsoleChat._answer_callback_query,
    "sendPhoto": lambda chat, params: chat._send_file(params, "photo"),
    "sendDocument": lambda chat, params: chat._send_file(params, "document"),
}
