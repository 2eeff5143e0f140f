"""The user-data stream over ccxt.pro: one ``ccxt.pro`` instance per account, kept for life.

ccxt.pro dials the sockets, signs the logins and key requests, answers pings; this module adds
what ccxt 4.5.90 lacks (SPEC §8), the same way for every exchange it follows (Binance USDⓈ-M,
Bybit v5, OKX v5; what differs lives in a ``StreamSession``):

- Every raw message is taken as it arrives (a hook before ccxt's own handler), so a burst is
  never split across ``watch_*`` calls, nothing waits in ccxt's caches for the next message,
  and fees come from each fill keyed by trade id, never from ccxt's merged order.
- ccxt's REST positions snapshot is never fetched: the follower's REST cycle after each
  connect is the snapshot, and it runs only once the subscriptions are acknowledged.
- A silent socket is noticed: ccxt pings every ``ping_interval`` and fails the session when no
  pong comes within two of them; a socket with neither a message nor a pong for ``silence``
  seconds is ended here as well. A server-closed socket fails its pending watch with
  ``NetworkError``: the session ends and the follower reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ccxt.pro as ccxtpro

from positionbot.tracker.core.stream_events import StreamBatch
from positionbot.tracker.engine.stream_port import StreamLost
from positionbot.tracker.exchange.ccxt.bybit_events import BybitSession
from positionbot.tracker.exchange.ccxt.dialects import dialect_for
from positionbot.tracker.exchange.ccxt.instance import deep_merge
from positionbot.tracker.exchange.ccxt.okx_events import OkxSession
from positionbot.tracker.exchange.ccxt.retry import describe
from positionbot.tracker.exchange.ccxt.stream_session import BinanceSession, StreamSession
from positionbot.tracker.exchange.ccxt.stream_support import supports_stream

log = logging.getLogger(__name__)

MAX_QUEUED = 100_000


@dataclass(frozen=True, slots=True)
class StreamTiming:
    keepalive: float = 1800.0  # seconds between listen-key PUTs (Binance: valid 60 min)
    ping_interval: float = 10.0  # ccxt pings this often; two unanswered end the session
    silence: float = 30.0  # no message and no pong this long: the socket is dead
    connect_timeout: float = 10.0  # dial, log in and be subscribed within this
    call_timeout: float = 10.0  # each REST request (markets, listen keys)


class CcxtUserStream:
    """``StreamSource`` for one account through ccxt.pro (Binance USDⓈ-M, Bybit, OKX)."""

    def __init__(
        self, account: str, exchange_id: str, *, api_key: str | None = None,
        secret: str | None = None, password: str | None = None, sandbox: bool = False,
        ccxt_config: Mapping[str, Any] | None = None, timing: StreamTiming | None = None,
    ) -> None:
        if not supports_stream(exchange_id):
            raise ValueError(f"account {account!r}: no user-data stream for {exchange_id!r}")
        self.account = account
        self.calls = 0
        self.timing = timing or StreamTiming()
        t = self.timing
        dialect = dialect_for(exchange_id)
        self._session: StreamSession
        if exchange_id == "bybit":
            self._session = BybitSession(account, self._symbol_of)
        elif exchange_id == "okx":
            self._session = OkxSession(account, self._symbol_of)
        else:
            self._session = BinanceSession(account, self._symbol_of, t.keepalive)
        defaults: dict[str, Any] = {
            "enableRateLimit": True, "timeout": int(t.call_timeout * 1000),
            "streaming": {"keepAlive": int(t.ping_interval * 1000)},
            "options": {"fetchCurrencies": False,
                        "watchPositions": {"fetchPositionsSnapshot": False,
                                           "awaitPositionsSnapshot": False}},
        }
        defaults = deep_merge(deep_merge(defaults, dialect.ccxt_defaults),
                              self._session.ccxt_defaults)
        credentials = {"apiKey": api_key, "secret": secret, "password": password}
        defaults.update({k: v for k, v in credentials.items() if v})
        self._exchange: Any = getattr(ccxtpro, exchange_id)(deep_merge(defaults,
                                                                         ccxt_config or {}))
        if sandbox:
            self._exchange.set_sandbox_mode(True)
        self._count_requests()
        self._handle = self._exchange.handle_message
        self._exchange.handle_message = self._on_message
        self._queue: asyncio.Queue[StreamBatch | StreamLost] = asyncio.Queue(MAX_QUEUED)
        self._tasks: list[asyncio.Task[None]] = []
        self._symbols: dict[str, tuple[str, str]] = {}  # known markets only (bounded by them)

    def _count_requests(self) -> None:
        send = self._exchange.fetch

        async def counted(url: str, method: str = "GET", headers: Any = None,
                          body: Any = None) -> Any:
            self.calls += 1
            return await send(url, method, headers, body)

        self._exchange.fetch = counted

    # --- the session -----------------------------------------------------------------------------

    async def open(self) -> None:
        await self.close()
        self._queue = asyncio.Queue(MAX_QUEUED)
        self._session.reset(self._exchange)
        try:
            async with asyncio.timeout(self.timing.connect_timeout + self.timing.call_timeout):
                await self._exchange.load_markets()
                watchers = [asyncio.create_task(self._watch(w))
                            for w in self._session.watches(self._exchange)]
                self._tasks += watchers
                await self._connected(watchers)
        except TimeoutError as e:
            raise StreamLost(f"{self.account}: stream connect timed out") from e
        except StreamLost:
            raise
        except Exception as e:
            raise StreamLost(f"{self.account}: stream connect failed: {describe(e)}") from e
        self._session.opened()
        self._tasks += [
            asyncio.create_task(self._session.keep_alive(self._exchange,
                                                         self.timing.call_timeout, self._lost)),
            asyncio.create_task(self._watch_silence())]

    async def _connected(self, watchers: list[asyncio.Task[None]]) -> None:
        while not self._session.ready(self._exchange):
            if any(w.done() for w in watchers):
                item = None if self._queue.empty() else self._queue.get_nowait()
                if isinstance(item, StreamLost):
                    raise StreamLost(f"{self.account}: stream connect failed: {item}")
                raise StreamLost(f"{self.account}: stream connect failed")
            await asyncio.sleep(0.005)

    async def receive(self) -> StreamBatch:
        item = await self._queue.get()
        if isinstance(item, StreamLost):
            raise item
        return item

    async def close(self) -> None:
        """End the session: its tasks and sockets (the instance and its markets are kept)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self._exchange.close_ws_clients()

    async def shutdown(self) -> None:
        await self.close()
        await self._exchange.close()

    def _lost(self, reason: str) -> None:
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(StreamLost(f"{self.account}: {reason}"))

    async def _watch(self, watch: Any) -> None:
        try:
            await watch
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._lost(f"stream closed: {describe(e)}")

    async def _watch_silence(self) -> None:
        while True:
            await asyncio.sleep(self.timing.silence / 4)
            now = time.time() * 1000
            for client in self._session.clients(self._exchange):
                heard = max(client.last_message_at or 0, client.lastPong or 0,
                            client.connectionEstablished or 0)
                if now - heard > self.timing.silence * 1000:
                    self._lost(f"socket silent for over {self.timing.silence:g}s")
                    return

    def _on_message(self, client: Any, message: Any) -> None:
        try:
            batch, pass_on = self._session.read(message)
        except StreamLost as e:
            self._lost(str(e))
            return
        if batch is not None and not batch.is_empty:
            if self._queue.full():  # a consumer this far behind re-syncs by REST
                self._lost("event queue overflowed")
                return
            self._queue.put_nowait(batch)
        if not pass_on:
            return
        try:
            self._handle(client, message)
        except Exception:  # ccxt's caches are not ours to rely on; its failure changes nothing
            log.debug("ccxt could not handle a stream message", exc_info=True)

    def _symbol_of(self, market_id: str) -> tuple[str, str] | None:
        found = self._symbols.get(market_id)
        if found is None:
            for market in (self._exchange.markets_by_id or {}).get(market_id, ()):
                if market.get("swap") or market.get("future"):
                    found = self._symbols[market_id] = (market["symbol"], market["settle"])
                    break
        return found
