"""The exchange-specific part of a user-data stream session over ccxt.pro, and Binance's.

``CcxtUserStream`` (``stream.py``) owns what every exchange shares: the ccxt.pro instance, the
raw-message hook, the event queue, the silence watchdog and the ``StreamLost`` protocol. A
``StreamSession`` says what differs: how the session is set up (Binance: a listen key in the
URL, kept alive here; Bybit and OKX: a login on the socket, then subscriptions the server must
acknowledge before the follower's REST cycle may count as the snapshot), which sockets carry
it, and how a raw message is read.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from positionbot.tracker.core.models import OrderSide
from positionbot.tracker.core.stream_events import StreamBatch
from positionbot.tracker.engine.stream_port import StreamLost
from positionbot.tracker.exchange.ccxt.binance_events import SymbolOf, parse_event
from positionbot.tracker.exchange.ccxt.normalize import Malformed
from positionbot.tracker.exchange.ccxt.retry import describe

log = logging.getLogger(__name__)

Lost = Callable[[str], None]
"""Ends the session with a reason (the stream's ``_lost``)."""

NO_CCXT_KEEPALIVE_MS = 24 * 3600 * 1000  # ccxt's own single listen-key keep-alive, pushed out


class StreamSession(ABC):
    """One exchange's part of a stream session; a fresh ``reset`` precedes every connect."""

    ccxt_defaults: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, account: str, symbol_of: SymbolOf) -> None:
        self.account = account
        self.symbol_of = symbol_of

    def known_market(self, market_id: str) -> tuple[str, str]:
        """(symbol, settle coin) of a market the stream names; an unknown one makes the row
        unreadable (a REST cycle then verifies), never guessed."""
        found = self.symbol_of(market_id)
        if found is None:
            raise Malformed(f"unknown market {market_id!r}")
        return found

    def reset(self, exchange: Any) -> None:  # noqa: B027 (optional hook)
        """Before a new connection."""

    @abstractmethod
    def watches(self, exchange: Any) -> list[Coroutine[Any, Any, None]]:
        """One coroutine per socket: it dials, logs in and subscribes, then stays pending until
        the socket fails (it raises then)."""

    @abstractmethod
    def clients(self, exchange: Any) -> list[Any]:
        """The session's ccxt WebSocket clients dialled so far."""

    @abstractmethod
    def ready(self, exchange: Any) -> bool:
        """Connected and subscribed: events from now on reach us (raises if the handshake
        failed)."""

    @abstractmethod
    def read(self, message: Any) -> tuple[StreamBatch | None, bool]:
        """The batch a raw message carries (None: none) and whether ccxt must see it too (its
        logins, pongs and subscription answers). Raises ``StreamLost`` when it ends the
        session."""

    def opened(self) -> None:  # noqa: B027 (optional hook)
        """The session proved good."""

    async def keep_alive(self, exchange: Any, call_timeout: float, lost: Lost) -> None:  # noqa: B027 (optional hook)
        """Whatever the session needs while it lasts (returns at once when nothing)."""


def clients_at(exchange: Any, urls: list[str]) -> list[Any]:
    known = exchange.clients or {}
    return [known[url] for url in urls if url in known]


class BinanceSession(StreamSession):
    """Binance USDⓈ-M: the listen key in the URL. ccxt.pro signs the key requests; the keep-alive
    is ours (a PUT every ``keepalive``; ccxt sends one only) and a new key is made when it expired
    (``-1125`` on the PUT, or ``listenKeyExpired`` on the socket, which ccxt ignores)."""

    ccxt_defaults: ClassVar[Mapping[str, Any]] = {
        "options": {"listenKeyRefreshRate": NO_CCXT_KEEPALIVE_MS}}

    def __init__(self, account: str, symbol_of: SymbolOf, keepalive: float) -> None:
        super().__init__(account, symbol_of)
        self._keepalive = keepalive
        self._new_key = False

    def reset(self, exchange: Any) -> None:
        if self._new_key:  # make ccxt POST for a fresh key instead of reusing the dead one
            exchange.options["linear"] = {"listenKey": None, "lastAuthenticatedTime": 0}
        self._new_key = True  # until this session proves the key good

    def opened(self) -> None:
        self._new_key = False

    def watches(self, exchange: Any) -> list[Coroutine[Any, Any, None]]:
        return [self._watch(exchange)]

    @staticmethod
    async def _watch(exchange: Any) -> None:
        """A pending ``watch_orders`` dials the socket and fails when it does (the events
        themselves are taken from the raw messages)."""
        while True:
            await exchange.watch_orders()

    def clients(self, exchange: Any) -> list[Any]:
        key = (exchange.options.get("linear") or {}).get("listenKey")
        if key is None:
            return []
        return clients_at(exchange, [exchange.get_private_ws_url("linear", key)])

    def ready(self, exchange: Any) -> bool:
        clients = self.clients(exchange)
        if clients and clients[0].connected.done():
            clients[0].connected.result()  # raises when the handshake failed
            return True
        return False

    def read(self, message: Any) -> tuple[StreamBatch | None, bool]:
        try:
            return parse_event(message, self.symbol_of), True
        except StreamLost as e:
            self._new_key = "listen key" in str(e)
            raise

    async def keep_alive(self, exchange: Any, call_timeout: float, lost: Lost) -> None:
        while True:
            await asyncio.sleep(self._keepalive)
            try:
                async with asyncio.timeout(call_timeout):
                    await exchange.fapiPrivatePutListenKey()
            except Exception as e:
                if "-1125" in str(e):
                    self._new_key = True
                    lost("the listen key expired (keep-alive refused)")
                    return
                log.warning("%s: listen key keep-alive failed (%s); trying again",
                            self.account, describe(e))


# --- helpers the exchanges' readers share -------------------------------------------------------

def ms_time(value: object, what: str) -> datetime:
    """An exchange's millisecond timestamp (number or digit string)."""
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise Malformed(f"{what}: missing time")
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def order_side(value: object, what: str) -> OrderSide:
    side = str(value or "").lower()
    if side not in ("buy", "sell"):
        raise Malformed(f"{what}: side {value!r}")
    return OrderSide(side)


def data_rows(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows = message.get("data")
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise Malformed("'data' is not a list of objects")
    return rows
