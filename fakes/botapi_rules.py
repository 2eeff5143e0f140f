"""What the fake Bot API validates the way Telegram does, and the bot messages it records."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

TOKEN = "123456:TEST-token"
BOT_ID = 123456
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # sendPhoto by upload
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # sendDocument by upload

_ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
     "span", "tg-spoiler", "blockquote", "tg-emoji"}
)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+=\"[^\"<>]*\")*)\s*>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")
RAW_FIELDS = frozenset(
    {"text", "caption", "parse_mode", "callback_query_id", "url", "action", "language_code",
     "photo", "chat_id"}
)
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


class ApiError(Exception):
    """An error reply in Telegram's shape."""

    def __init__(self, code: int, description: str, retry_after: int | None = None,
                 migrate_to_chat_id: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id


def html_visible_text(text: str) -> str:
    """Validate Telegram HTML like the Bot API does and return the text users would see."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "<":
            match = _TAG.match(text, pos)
            if match is None:
                raise ApiError(400, f"Bad Request: can't parse entities: unexpected '<' at {pos}")
            closing, name = match.group(1) == "/", match.group(2).lower()
            if name not in _ALLOWED_TAGS:
                raise ApiError(400, f'Bad Request: can\'t parse entities: unsupported tag "{name}"')
            if closing:
                if not stack or stack.pop() != name:
                    raise ApiError(400, f"Bad Request: can't parse entities: unmatched </{name}>")
            else:
                stack.append(name)
            pos = match.end()
        elif char == "&":
            match = _ENTITY.match(text, pos)
            if match is None:
                raise ApiError(400, f"Bad Request: can't parse entities: bad entity at {pos}")
            out.append(html.unescape(match.group(0)))
            pos = match.end()
        elif char == ">":
            raise ApiError(400, f"Bad Request: can't parse entities: unescaped '>' at {pos}")
        else:
            out.append(char)
            pos += 1
    if stack:
        raise ApiError(400, f"Bad Request: can't parse entities: unclosed <{stack[-1]}>")
    return "".join(out)


def validate_text(text: Any, parse_mode: Any) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    visible = html_visible_text(text) if str(parse_mode).upper() == "HTML" else text
    if len(visible) > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")


def validate_markup(markup: Any) -> None:
    if markup is None:
        return
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in rows:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if not button.get("text"):
                raise ApiError(400, "Bad Request: inline keyboard button text is empty")


@dataclass
class SentMessage:
    """A bot message as it stands now (edits applied), plus its edit count."""

    message_id: int
    chat_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    disable_notification: bool
    date: int
    edits: int = 0
    photo: bool = False
    file_name: str | None = None  # an uploaded photo's or document's name
    file: bytes | None = None  # its bytes, for tests to inspect
    document: bool = False

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(text, callback_data) of every inline button, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    def as_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": self.message_id, "date": self.date,
            "chat": {"id": self.chat_id, "type": "private" if self.chat_id > 0 else "group",
                     **({"first_name": "Trader"} if self.chat_id > 0 else {"title": "Desk"})},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "PositionBot",
                     "username": "positionbot_test"},
        }
        if self.photo:
            width, height = png_size(self.file or b"") or (1, 1)
            body["photo"] = [{"file_id": "f1", "file_unique_id": "u1", "width": width,
                              "height": height, "file_size": len(self.file or b"")}]
            body["caption"] = self.text
        elif self.document:
            body["document"] = {"file_id": "d1", "file_unique_id": "v1",
                                "file_name": self.file_name or "file",
                                "file_size": len(self.file or b"")}
            body["caption"] = self.text
        else:
            body["text"] = self.text
        if self.reply_markup:
            body["reply_markup"] = self.reply_markup
        return body


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk; None when the bytes are not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def validate_photo(data: bytes) -> None:
    """What Telegram checks of an uploaded photo: an image, at most 10 MB, sides adding up to at
    most 10000 pixels with a ratio of at most 20."""
    if len(data) > MAX_PHOTO_BYTES:
        raise ApiError(400, "Bad Request: PHOTO_INVALID: file is too big")
    size = png_size(data)
    if size is None and data[:3] != b"\xff\xd8\xff":
        raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
    if size is not None:
        width, height = size
        if width + height > 10_000 or max(width, height) > 20 * min(width, height):
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")


def validate_caption(caption: Any, parse_mode: Any) -> None:
    if not caption:
        return
    visible = html_visible_text(str(caption)) if str(parse_mode).upper() == "HTML" else caption
    validate_text(caption, parse_mode)
    if len(visible) > MAX_CAPTION:
        raise ApiError(400, "Bad Request: message caption is too long")


def validate_commands(commands: Any) -> None:
    if not isinstance(commands, list) or len(commands) > 100:
        raise ApiError(400, "Bad Request: commands must be a list")
    for command in commands:
        if not _COMMAND_NAME.fullmatch(str(command.get("command"))):
            raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description") or "")) <= 256:
            raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
