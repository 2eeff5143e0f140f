"""The Bot API's HTTP framing: reading a request's parameters as Telegram does (JSON, form
fields JSON-decoded, multipart uploads) and answering errors in its envelope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from positionbot.fakes.botapi_rules import BOT_ID, MAX_DOCUMENT_BYTES, RAW_FIELDS, ApiError, validate_photo

UPLOADS = "__uploads__"
"""Where ``read_params`` puts multipart file parts: field name -> (file name, bytes)."""


async def read_params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    form = await request.post()
    params: dict[str, Any] = dict(request.query)
    uploads: dict[str, tuple[str, bytes]] = {}
    params[UPLOADS] = uploads
    for key, value in form.items():
        if isinstance(value, web.FileField):
            params[key] = "<file>"
            uploads[key] = (value.filename, value.file.read())
        elif not isinstance(value, str):
            params[key] = "<file>"
        elif key in RAW_FIELDS:
            params[key] = value
        else:
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
    return params


def reply_error(err: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": err.code, "description": err.description}
    if err.retry_after is not None:
        body["parameters"] = {"retry_after": err.retry_after}
    if err.migrate_to_chat_id is not None:
        body["parameters"] = {"migrate_to_chat_id": err.migrate_to_chat_id}
    return web.json_response(body, status=err.code)


def uploaded_photo(params: dict[str, Any]) -> tuple[str, bytes] | None:
    """The uploaded photo, checked as Telegram checks it (None: sent by file id or URL)."""
    upload: tuple[str, bytes] | None = params.get(UPLOADS, {}).get("photo")
    if upload is None and not params.get("photo"):
        raise ApiError(400, "Bad Request: there is no photo in the request")
    if upload is not None:
        validate_photo(upload[1])
    return upload


def uploaded_document(params: dict[str, Any]) -> tuple[str, bytes]:
    upload: tuple[str, bytes] | None = params.get(UPLOADS, {}).get("document")
    if upload is None:
        raise ApiError(400, "Bad Request: there is no document in the request")
    if not upload[1]:
        raise ApiError(400, "Bad Request: file must be non-empty")
    if len(upload[1]) > MAX_DOCUMENT_BYTES:
        raise ApiError(413, "Request Entity Too Large")
    return upload


ACKNOWLEDGED = frozenset({"close", "deleteWebhook", "logOut"})
"""Methods that only answer ``true`` here."""

BOT_USER: dict[str, Any] = {
    "id": BOT_ID, "is_bot": True, "first_name": "PositionBot", "username": "positionbot_test",
    "can_join_groups": True, "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Fault:
    """An injected error answer for the next calls of one method."""

    code: int
    description: str
    remaining: int
    retry_after: int | None = None
    skip: int = 0
