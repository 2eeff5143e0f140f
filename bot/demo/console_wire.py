"""The Bot API's wire format as the console chat needs it: request parameters and errors.

python-telegram-bot posts form fields, JSON-encoding every value that is not a plain string;
errors go back in Telegram's shape so PTB raises the same exceptions it would against Telegram.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web


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
