"""Client order ids: every order the bot creates carries one derived from what it is for.

The same intent (trade, purpose, size, price) always yields the same id, so a retry after a
timeout is found by id instead of creating a second order. Binance allows 36 characters of
``[.A-Z:/a-z0-9_-]``; these stay well within that.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

PREFIX = "pb"


def client_order_id(trade_id: int, purpose: str, *parts: Decimal | str | int | None) -> str:
    """``pb-<trade>-<purpose>-<hash of the parts>``, e.g. ``pb-42-sl-9f0c1a2b3c``."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:10]
    return f"{PREFIX}-{trade_id}-{purpose}-{digest}"


def is_bot_order(client_id: str | None) -> bool:
    return client_id is not None and client_id.startswith(f"{PREFIX}-")


def trade_of(client_id: str | None) -> int | None:
    """The trade id a bot client id names (``pb-42-sl-...`` -> 42), or None."""
    if not is_bot_order(client_id):
        return None
    assert client_id is not None
    part = client_id.split("-")[1]
    return int(part) if part.isdigit() else None
