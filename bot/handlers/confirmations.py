"""Actions waiting for the trader's tap, kept in memory, bounded in count and in age.

An order-placing button cannot carry the whole order in 64 bytes of callback data, so it
carries a random token for an entry here. A token is good once, in the chat (and for the
person) that asked, for ``ttl`` seconds: a stale button can never send an order. A token put
without a person (nobody could be told apart) can be claimed by nobody. Stop-loss buttons use
the same tokens (``StopTap``), so forged callback data cannot place or remove a stop.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_TTL_S = 120.0  # a preview's prices go stale quickly; confirming later means asking again
DEFAULT_MAX_ITEMS = 200
STOP_TAP_TTL_S = 600.0  # a stop menu's levels; the commands re-check them against the mark


class ClaimStatus(StrEnum):
    OK = "ok"
    STALE = "stale"  # unknown, expired, already used, or from another chat
    NOT_YOURS = "not_yours"  # someone else in the chat asked for it (or nobody we can tell)


@dataclass(frozen=True, slots=True)
class _Held(Generic[T]):
    item: T
    chat_id: int
    user_id: int | None
    expires_at: float


@dataclass(frozen=True, slots=True)
class StopTap:
    """What one stop button does: set the trade's stop at ``price``, or remove it (None)."""

    trade_id: int
    price: Decimal | None


@dataclass(frozen=True, slots=True)
class Claim(Generic[T]):
    status: ClaimStatus
    item: T | None = None


class ConfirmationStore(Generic[T]):
    """Tokens for pending actions; the oldest go first when ``max_items`` is reached."""

    def __init__(self, *, ttl: float = DEFAULT_TTL_S, max_items: int = DEFAULT_MAX_ITEMS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._max = max_items
        self._clock = clock
        self._held: OrderedDict[str, _Held[T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def put(self, item: T, chat_id: int, user_id: int | None) -> str:
        self._purge()
        token = secrets.token_urlsafe(9)  # 12 characters of [A-Za-z0-9_-]
        self._held[token] = _Held(item, chat_id, user_id, self._clock() + self.ttl)
        while len(self._held) > self._max:
            self._held.popitem(last=False)
        return token

    def claim(self, token: str, chat_id: int | None, user_id: int | None) -> Claim[T]:
        """Take the item for good; the same token never yields it twice."""
        self._purge()
        held = self._held.get(token)
        if held is None or held.chat_id != chat_id:
            return Claim(ClaimStatus.STALE)
        if held.user_id is None or held.user_id != user_id:
            return Claim(ClaimStatus.NOT_YOURS)
        del self._held[token]
        return Claim(ClaimStatus.OK, held.item)

    def give_back(self, token: str, item: T, chat_id: int, user_id: int | None) -> None:
        """Undo a claim whose action never started (its press could not be answered), for
        another ``ttl``: the same button works again."""
        self._held[token] = _Held(item, chat_id, user_id, self._clock() + self.ttl)
        while len(self._held) > self._max:
            self._held.popitem(last=False)

    def _purge(self) -> None:
        """Drop expired entries; every entry lives ``ttl``, so they expire oldest first."""
        now = self._clock()
        while self._held:
            token, held = next(iter(self._held.items()))
            if held.expires_at > now:
                break
            del self._held[token]
