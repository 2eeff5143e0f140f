"""The Bot API's wire format as the console chat needs it: request parameters and errors.

python-telegram-bot posts form fields, JSON-encoding every value that is not a plain string;
errors go back in Telegram's shape so PTB raises the same exceptions it would against Telegram.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from positionbot.bot.demo.console_render import Button, keyboard_buttons, terminal_text


class ApiError(Exception):
    """A refusal, answered as Telegram answers it (``ok: false``, code, description)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def escape(text: str) -> str:
    """Plain text (a message sent without parse mode) as the HTML the renderer expects."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def read_params(request: web.Request) -> dict[str, Any]:
    """PTB posts form fields (JSON-encoded when not plain strings) or a JSON body."""
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
        params[FILES] = {k: (v.filename, v.file.read()) for k, v in form.items()
                         if isinstance(v, web.FileField)}
    return params


FILES = "__files__"
"""Where ``read_params`` puts uploaded files (``sendPhoto``, ``sendDocument``): name -> (file
name, bytes)."""


def save_upload(params: dict[str, Any], field: str, directory: Path) -> Path | None:
    """Write an uploaded file into ``directory`` (the demo shows its path); None when absent."""
    upload = params.get(FILES, {}).get(field)
    if upload is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / Path(upload[0] or field).name
    path.write_bytes(upload[1])
    return path


def int_param(params: dict[str, Any], key: str, default: int | None = None) -> int:
    try:
        return int(params[key])
    except (KeyError, TypeError, ValueError):
        if default is not None:
            return default
        raise ApiError(400, f"Bad Request: {key} is required") from None


def str_param(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    return str(value) if value is not None else None


def markup_param(params: dict[str, Any]) -> dict[str, Any] | None:
    raw = params.get("reply_markup")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON") from None
    return raw if isinstance(raw, dict) else None


def error_response(err: ApiError) -> web.Response:
    return web.json_response({"ok": False, "error_code": err.code,
                              "description": err.description}, status=err.code)


BOT_ID = 100000
TOKEN = f"{BOT_ID}:console-chat"
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "PositionBot",
            "username": "positionbot_console", "can_join_groups": False,
            "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass(slots=True)
class ChatMessage:
    """A message the bot sent, as the console keeps it for edits and button presses."""

    message_id: int
    html: str
    parse_mode: str | None
    markup: dict[str, Any] | None
    date: int

    @property
    def buttons(self) -> list[Button]:
        return [b for row in keyboard_buttons(self.markup) for b in row]

    def as_api(self, chat: dict[str, Any]) -> dict[str, Any]:
        """The Bot API's Message object for this message in ``chat``."""
        html = self.html if self.parse_mode == "HTML" else escape(self.html)
        message: dict[str, Any] = {"message_id": self.message_id, "date": self.date,
                                   "chat": chat, "from": BOT_USER,
                                   "text": terminal_text(html, ansi=False)}
        if self.markup:
            message["reply_markup"] = self.markup
        return message
