"""Inline-button callback data: compact, versioned, validated, always under 64 bytes.

Format: ``v1|<action>|<arg>``. Anything that does not parse (an old version, a forged or
truncated payload) decodes to ``None`` and is answered as a stale button. A button that changes
anything carries no order or price, only a random token for the bot's bounded server-side
store, good once and only for the chat and person it was offered to: it cannot be forged.
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
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,22}")  # a key into the bot's bounded confirmation store


class Action(StrEnum):
    REFRESH = "r"  # re-render the positions listing in place
    LIST = "l"  # send a fresh positions listing (from a push, which must stay as it is)
    SYNC = "s"  # run a cycle now for one account or all
    STOP_MENU = "sl"  # offer stop-loss choices for a trade
    STOP_SET = "ss"  # set (or clear) a trade's stop loss as the token's offer says
    STOP_PAGE = "sp"  # the /sl trade picker from this position on
    CLOSE = "c"  # ask to close an open trade, or to cancel a pending one
    CONFIRM = "ok"  # carry out the order-placing action a token stands for
    ABORT = "no"  # drop the action a token stands for; nothing is sent
    PICK = "pk"  # the trader chose one of several candidates; preview it


_ARG_RULES: dict[Action, re.Pattern[str]] = {
    Action.REFRESH: re.compile("pos"),
    Action.LIST: re.compile("pos"),
    Action.SYNC: _ACCOUNT,
    Action.STOP_MENU: _TRADE_ID,
    Action.STOP_SET: _TOKEN,
    Action.STOP_PAGE: re.compile(r"0|[1-9][0-9]{0,5}"),
    Action.CLOSE: _TRADE_ID,
    Action.CONFIRM: _TOKEN,
    Action.ABORT: _TOKEN,
    Action.PICK: _TOKEN,
}


@dataclass(frozen=True, slots=True)
class Callback:
    action: Action
    arg: str

    @property
    def trade_id(self) -> int:
        return int(self.arg)

    def encode(self) -> str:
        data = "|".join((VERSION, self.action.value, self.arg))
        if decode(data) != self:
            raise ValueError(f"invalid callback {self!r}")
        return data


def decode(data: str | None) -> Callback | None:
    """The callback a button carries, or None when it is not one this version understands."""
    if not data or len(data.encode("utf-8", "replace")) > MAX_CALLBACK_BYTES:
        return None
    parts = data.split("|")
    if len(parts) != 3 or parts[0] != VERSION:
        return None
    try:
        action = Action(parts[1])
    except ValueError:
        return None
    if not _ARG_RULES[action].fullmatch(parts[2]):
        return None
    return Callback(action, parts[2])


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


def stop_set(token: str) -> str:
    """A stop level (or "remove") offered to one person in one chat, by its server-side token."""
    return Callback(Action.STOP_SET, token).encode()


def stop_page(offset: int) -> str:
    return Callback(Action.STOP_PAGE, str(offset)).encode()


def close(trade_id: int) -> str:
    return Callback(Action.CLOSE, str(trade_id)).encode()


def confirm(token: str) -> str:
    return Callback(Action.CONFIRM, token).encode()


def abort(token: str) -> str:
    return Callback(Action.ABORT, token).encode()


def pick(token: str) -> str:
    return Callback(Action.PICK, token).encode()
