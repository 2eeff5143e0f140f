"""A local Telegram Bot API server: the real python-telegram-bot talks to it over HTTP.

It validates what Telegram validates (HTML entities, 4096-character texts, 64-byte callback
data), records what the bot sent per chat, acts as a user (messages, button presses) and
injects faults: outages (refused or 502), 429 with ``retry_after``, chat gone or bot blocked."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from positionbot.fakes.botapi_http import (
    ACKNOWLEDGED,
    BOT_USER,
    Fault,
    read_params,
    reply_error,
    uploaded_document,
    uploaded_photo,
)
from positionbot.fakes.botapi_rules import (
    TOKEN,
    ApiError,
    SentMessage,
    validate_caption,
    validate_commands,
    validate_markup,
    validate_text,
)


@dataclass
class FakeBotApi:
    """The fake Bot API: ``async with FakeBotApi() as api``, then point PTB at ``api.base_url``."""

    token: str = TOKEN
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    commands: list[dict[str, str]] = field(default_factory=list)  # the default scope's menu
    # menus set for one scope, by the scope as JSON with sorted keys (BotCommandScopeChat ...)
    scoped_commands: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    callback_answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.call_times: list[float] = []  # time.monotonic() of each entry in ``calls``
        self._messages: dict[int, list[SentMessage]] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._changed = asyncio.Event()
        self._faults: dict[str, list[Fault]] = {}
        self._chat_errors: dict[int, ApiError] = {}
        self._outage: str | None = None
        self._outage_polling = False
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0

    async def __aenter__(self) -> FakeBotApi:
        app = web.Application(middlewares=[self._outage_middleware])
        app.router.add_post("/bot{token}/{method}", self._dispatch)
        app.router.add_get("/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await self._listen()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await self._site.start()
        self.port = int(self._runner.addresses[0][1])

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` (the token is appended by PTB)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # --- acting as a user -------------------------------------------------------------------

    def user_message(self, chat_id: int, text: str, user_id: int | None = None) -> int:
        """Queue a text message from a user; returns its message id."""
        user = user_id if user_id is not None else chat_id
        message_id = next(self._counter(chat_id))
        message: dict[str, Any] = {
            "message_id": message_id, "date": int(time.time()), "text": text,
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group",
                     **({"first_name": "Trader"} if chat_id > 0 else {"title": "Desk"})},
            "from": {"id": user, "is_bot": False, "first_name": "Trader"},
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        self._push_update({"message": message})
        return message_id

    def press_button(
        self, chat_id: int, message_id: int, data: str, user_id: int | None = None
    ) -> str:
        """Queue a button press on a message; returns the callback query id.

        A message the bot never sent stands for a forged press or one from another bot's chat.
        """
        try:
            message = self.message(chat_id, message_id).as_api()
        except KeyError:
            message = SentMessage(message_id, chat_id, "?", None, None, False, 0).as_api()
        query_id = f"q{next(self._query_ids)}"
        user = user_id if user_id is not None else chat_id
        self._push_update({"callback_query": {
            "id": query_id, "chat_instance": f"ci{chat_id}", "data": data,
            "from": {"id": user, "is_bot": False, "first_name": "Trader"},
            "message": message,
        }})
        return query_id

    # --- faults ---------------------------------------------------------------------------

    async def start_outage(self, mode: str = "refuse", *, polling: bool = False) -> None:
        """Make Telegram unreachable until ``end_outage``.

        "refuse": nothing listens (connection refused; open connections are dropped).
        "drop": connections are closed without a reply. "502": nginx's Bad Gateway page.
        With "drop" and "502", ``getUpdates`` stays up unless ``polling`` is set, so PTB's
        poller does not back off for long in tests that only exercise sending.
        """
        if mode not in ("refuse", "drop", "502"):
            raise ValueError(f"unknown outage mode {mode!r}")
        self._outage, self._outage_polling = mode, polling or mode == "refuse"
        if mode == "refuse" and self._site is not None:
            await self._site.stop()
            self._site = None

    async def end_outage(self) -> None:
        if self._site is None:
            await self._listen()
        self._outage = None

    def fail_next(
        self, method: str, code: int, description: str, *, times: int = 1,
        retry_after: int | None = None, after: int = 0,
    ) -> None:
        """After ``after`` more successful calls, ``times`` calls of ``method`` fail so."""
        fault = Fault(code, description, times, retry_after, after)
        self._faults.setdefault(method, []).append(fault)

    def flood(self, method: str, retry_after: int, times: int = 1) -> None:
        """429 Too Many Requests with ``parameters.retry_after``."""
        self.fail_next(method, 429, f"Too Many Requests: retry after {retry_after}",
                       times=times, retry_after=retry_after)

    def block_chat(self, chat_id: int) -> None:
        self._chat_errors[chat_id] = ApiError(403, "Forbidden: bot was blocked by the user")

    def forget_chat(self, chat_id: int) -> None:
        self._chat_errors[chat_id] = ApiError(400, "Bad Request: chat not found")

    def upgrade_to_supergroup(self, chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup: sends to the old id fail with the new id attached."""
        self._chat_errors[chat_id] = ApiError(
            400, "Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=new_chat_id)

    # --- inspection ------------------------------------------------------------------------

    def messages(self, chat_id: int) -> list[SentMessage]:
        return list(self._messages.get(chat_id, []))

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        for message in self._messages.get(chat_id, []):
            if message.message_id == message_id:
                return message
        raise KeyError(f"no bot message {message_id} in chat {chat_id}")

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait until ``predicate()`` holds (checked after each request and every 20 ms)."""
        async def _loop() -> None:
            while not predicate():
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.02)
        try:
            await asyncio.wait_for(_loop(), within)
        except TimeoutError:
            raise AssertionError(f"not met in {within}s; calls={self.calls[-5:]}") from None

    async def wait_for_messages(self, chat_id: int, count: int, within: float = 5.0) -> None:
        await self.wait_for(lambda: len(self._messages.get(chat_id, [])) >= count, within)

    async def wait_for_answer(self, query_id: str, within: float = 5.0) -> dict[str, Any]:
        await self.wait_for(lambda: query_id in self.callback_answers, within)
        return self.callback_answers[query_id]

    @web.middleware
    async def _outage_middleware(
        self, request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        is_polling = request.match_info.get("method") == "getUpdates"
        if self._outage is not None and (self._outage_polling or not is_polling):
            if self._outage == "502":
                return web.Response(status=502, text="<html>502 Bad Gateway</html>")
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPServiceUnavailable()
        return await handler(request)

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return reply_error(ApiError(401, "Unauthorized"))
        params = await read_params(request)
        self.calls.append((method, params))
        self.call_times.append(time.monotonic())
        try:
            result = await self._call(method, params)
        except ApiError as err:
            return reply_error(err)
        finally:
            self._changed.set()
        return web.json_response({"ok": True, "result": result})

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        faults = self._faults.get(method)
        if faults and faults[0].skip > 0:
            faults[0].skip -= 1
        elif faults:
            fault = faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.pop(0)
            raise ApiError(fault.code, fault.description, fault.retry_after)
        if method in ACKNOWLEDGED:
            return True
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        return await handler(params)

    def _counter(self, chat_id: int) -> itertools.count[int]:
        return self._message_ids.setdefault(chat_id, itertools.count(1))

    def _chat(self, params: dict[str, Any]) -> int:
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id in self._chat_errors:
            raise self._chat_errors[chat_id]
        return chat_id

    def _push_update(self, update: dict[str, Any]) -> None:
        self._updates.append({"update_id": next(self._update_ids), **update})
        self._new_update.set()

    async def _api_getMe(self, _: dict[str, Any]) -> dict[str, Any]:
        return dict(BOT_USER)

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        timeout = min(float(params.get("timeout") or 0), 5.0)
        deadline = time.monotonic() + timeout
        while not self._updates and time.monotonic() < deadline:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())
        limit = int(params.get("limit") or 100)
        return self._updates[:limit]

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat(params)
        validate_text(params.get("text"), params.get("parse_mode"))
        validate_markup(params.get("reply_markup"))
        return self._record(chat_id, params, str(params["text"]), photo=False)

    async def _api_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat(params)
        self._validate_media(params)
        upload = uploaded_photo(params)
        return self._record(chat_id, params, str(params.get("caption") or ""), photo=True,
                            upload=upload)

    async def _api_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat(params)
        self._validate_media(params)
        upload = uploaded_document(params)
        return self._record(chat_id, params, str(params.get("caption") or ""), document=True,
                            upload=upload)

    @staticmethod
    def _validate_media(params: dict[str, Any]) -> None:
        validate_caption(str(params.get("caption") or ""), params.get("parse_mode"))
        validate_markup(params.get("reply_markup"))

    def _record(
        self, chat_id: int, params: dict[str, Any], text: str, *, photo: bool = False,
        document: bool = False, upload: tuple[str, bytes] | None = None,
    ) -> dict[str, Any]:
        message = SentMessage(
            message_id=next(self._counter(chat_id)), chat_id=chat_id, text=text,
            parse_mode=params.get("parse_mode"), reply_markup=params.get("reply_markup"),
            disable_notification=bool(params.get("disable_notification")),
            date=int(time.time()), photo=photo, document=document,
            file_name=upload[0] if upload else None, file=upload[1] if upload else None,
        )
        self._messages.setdefault(chat_id, []).append(message)
        return message.as_api()

    def _editable(self, params: dict[str, Any]) -> SentMessage:
        chat_id = self._chat(params)
        try:
            return self.message(chat_id, int(params["message_id"]))
        except (KeyError, ValueError):
            raise ApiError(400, "Bad Request: message to edit not found") from None

    async def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._editable(params)
        validate_text(params.get("text"), params.get("parse_mode"))
        markup = params.get("reply_markup")
        validate_markup(markup)
        if message.text == params["text"] and message.reply_markup == markup:
            raise ApiError(400, "Bad Request: message is not modified: specified new message "
                                "content and reply markup are exactly the same as a current "
                                "content and reply markup of the message")
        message.text, message.reply_markup = str(params["text"]), markup
        message.parse_mode = params.get("parse_mode")
        message.edits += 1
        return message.as_api()

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._editable(params)
        markup = params.get("reply_markup")
        validate_markup(markup)
        if message.reply_markup == markup:
            raise ApiError(400, "Bad Request: message is not modified")
        message.reply_markup = markup
        message.edits += 1
        return message.as_api()

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id in self.callback_answers or not query_id.startswith("q"):
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")
        if len(str(params.get("text") or "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = params
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        validate_commands(commands)
        assert isinstance(commands, list)
        scope = params.get("scope")
        if scope is None or scope == {"type": "default"}:
            self.commands = [dict(c) for c in commands]
        else:
            self.scoped_commands[json.dumps(scope, sort_keys=True)] = [dict(c) for c in commands]
        return True

    def commands_for_chat(self, chat_id: int) -> list[dict[str, str]]:
        """The menu a client in ``chat_id`` shows: its chat scope's, else the default one."""
        scope = json.dumps({"chat_id": chat_id, "type": "chat"}, sort_keys=True)
        return self.scoped_commands.get(scope, self.commands)

    async def _api_getMyCommands(self, _: dict[str, Any]) -> list[dict[str, str]]:
        return self.commands

    async def _api_deleteMyCommands(self, _: dict[str, Any]) -> bool:
        self.commands = []
        return True

    async def _api_sendChatAction(self, params: dict[str, Any]) -> bool:
        self._chat(params)
        return True

