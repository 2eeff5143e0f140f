"""Inline-button callback data: compact, versioned, validated, always under 64 bytes.

Format: ``v1|<action>|<arg>[|<value>]``. Anything that does not parse (an old version, a
forged or truncated payload) decodes to ``None`` and is answered as a stale button.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

VERSION = "v1"
MAX_CALLBACK_BYTES = 64
ALL_ACCOUNTS = "*"

_TRADE_ID = re.compile(r"[1-9][0-9]{0,11}")
_ACCOUNT = re.compile(r"[A-Za-z0-9_.:-]{1,40}|\*")
_STOP_VALUE = re.compile(r"off|[0-9]{1,12}(?:\.[0-9]{1,12})?")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,22}")  # a key into the bot's bounded confirmation store


class Action(StrEnum):
    REFRESH = "r"  # re-render the positions listing in place
    LIST = "l"  # send a fresh positions listing (from a push, which must stay as it is)
    SYNC = "s"  # run a cycle now for one account or all
    STOP_MENU = "sl"  # offer stop-loss choices for a trade
    STOP_SET = "ss"  # set (or clear, "off") a trade's stop loss at a price
    CLOSE = "c"  # ask to close an open trade, or to cancel a pending one
    CONFIRM = "ok"  # carry out the order-placing action a token stands for
    ABORT = "no"  # drop the action a token stands for; nothing is sent
    PICK = "pk"  # the trader chose one of several candidates; preview it


_ARG_RULES: dict[Action, re.Pattern[str]] = {
    Action.REFRESH: re.compile("pos"),
    Action.LIST: re.compile("pos"),
    Action.SYNC: _ACCOUNT,
    Action.STOP_MENU: _TRADE_ID,
    Action.STOP_SET: _TRADE_ID,
    Action.CLOSE: _TRADE_ID,
    Action.CONFIRM: _TOKEN,
    Action.ABORT: _TOKEN,
    Action.PICK: _TOKEN,
}


@dataclass(frozen=True, slots=True)
class Callback:
    action: Action
    arg: str
    value: str = ""

    @property
    def trade_id(self) -> int:
        return int(self.arg)

    def encode(self) -> str:
        parts = [VERSION, self.action.value, self.arg] + ([self.value] if self.value else [])
        data = "|".join(parts)
        if decode(data) != self:
            raise ValueError(f"invalid callback {self!r}")
        return data


def decode(data: str | None) -> Callback | None:
    """The callback a button carries, or None when it is not one this version understands."""
    if not data or len(data.encode("utf-8", "replace")) > MAX_CALLBACK_BYTES:
        return None
    parts = data.split("|")
    if len(parts) not in (3, 4) or parts[0] != VERSION:
        return None
    try:
        action = Action(parts[1])
    except ValueError:
        return None
    if not _ARG_RULES[action].fullmatch(parts[2]):
        return None
    value = parts[3] if len(parts) == 4 else None
    if (action is Action.STOP_SET) != (value is not None):
        return None
    if value is not None and not _STOP_VALUE.fullmatch(value):
        return None
    return Callback(action, parts[2], value or "")


def refresh_positions() -> str:
    return Callback(Action.REFRESH, "pos").encode()


def list_positions() -> str:
    return Callback(Action.LIST, "pos").encode()


def sync(account: str | None = None) -> str:
    """Sync one account, or every account when the name cannot travel in callback data."""
    arg = account if account is not None and _ACCOUNT.fullmatch(account) else ALL_ACCOUNTS
    return Callback(Action.SYNC, arg).encode()


def stop_menu(trade_id: int) -> str:
    return Callback(Action.STOP_MENU, str(trade_id)).encode()


def stop_set(trade_id: int, value: str) -> str:
    """``value`` is a plain positive price or "off"."""
    return Callback(Action.STOP_SET, str(trade_id), value).encode()


def close(trade_id: int) -> str:
    return Callback(Action.CLOSE, str(trade_id)).encode()


def confirm(token: str) -> str:
    return Callback(Action.CONFIRM, token).encode()


def abort(token: str) -> str:
    return Callback(Action.ABORT, token).encode()


def pick(token: str) -> str:
    return Callback(Action.PICK, token).encode()
