"""Reading Telegram's answers to a send: how long a flood wait is, whether a chat is gone."""

from __future__ import annotations

import re
import warnings
from datetime import timedelta
from html import unescape

from telegram.error import Forbidden, RetryAfter, TelegramError

_CHAT_GONE = ("chat not found", "user not found", "chat_id is empty", "peer_id_invalid",
              "have no rights", "not enough rights")
_TAG = re.compile(r"<[^>]*>")


def retry_after_seconds(err: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore")
        value = err.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def is_chat_gone(err: TelegramError) -> bool:
    """Blocked, kicked or deleted: no message to this chat can succeed."""
    if isinstance(err, Forbidden):
        return True
    text = err.message.lower()
    return any(p in text for p in _CHAT_GONE)


def plain_text(html_text: str) -> str:
    """The visible text of our HTML, for a last-chance send when Telegram rejects the markup."""
    return unescape(_TAG.sub("", html_text))
