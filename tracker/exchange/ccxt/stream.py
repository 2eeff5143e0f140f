"""The user-data stream over ccxt.pro: one ``ccxt.pro`` instance per account, kept for life.

ccxt.pro dials the socket, signs the listen-key requests, answers pings and parses; this module
adds what ccxt 4.5.90 lacks (SPEC §8):

- Every raw message is taken as it arrives (a hook before ccxt's own handler), so a burst is
  never split across ``watch_*`` calls, nothing waits in ccxt's caches for the next message,
  and fees come from each fill keyed by trade id, never from ccxt's merged order.
- The positions snapshot ccxt fetches by REST on the first watch is turned off: the follower's
  REST cycle after each connect is the snapshot.
- The listen key is kept alive here (a PUT every ``keepalive``; ccxt sends one only) and a new
  one is made when it expired (``-1125`` on the PUT, or ``listenKeyExpired`` on the socket,
  which ccxt ignores while the socket stays open and silent).
- A silent socket is noticed: ccxt pings every ``ping_interval`` and fails the session when no
  pong comes within two of them; a session with neither a message nor a pong for ``silence``
  seconds is ended here as well. A server-closed socket fails the pending watch with
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
from positionbot.tracker.exchange.ccxt.binance_events import parse_event
from positionbot.tracker.exchange.ccxt.instance import deep_merge
from positionbot.tracker.exchange.ccxt.retry import describe
from positionbot.tracker.exchange.ccxt.stream_support import supports_stream

log = logging.getLogger(__name__)

MAX_QUEUED = 100_000
_NO_CCXT_KEEPALIVE_MS = 24 * 3600 * 1000  # ccxt's own single keep-alive is replaced by ours


@dataclass(frozen=True, slots=True)
class StreamTiming:
    keepalive: float = 1800.0  # seconds between listen-key PUTs (Binance: valid 60 min)
    ping_interval: float = 10.0  # ccxt pings this often; two unanswered end the session
    silence: float = 30.0  # no message and no pong this long: the socket is dead
    connect_timeout: float = 10.0
    call_timeout: float = 10.0  # each listen-key request


class CcxtUserStream:
    """``StreamSource`` for a Binance USDⓈ-M account through ccxt.pro."""

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
        defaults: dict[str, Any] = {
            "enableRateLimit": True, "timeout": int(t.call_timeout * 1000),
            "streaming": {"keepAlive": int(t.ping_interval * 1000)},
            "options": {"fetchCurrencies": False, "listenKeyRefreshRate": _NO_CCXT_KEEPALIVE_MS,
                        "watchPositions": {"fetchPositionsSnapshot": False,
                                           "awaitPositionsSnapshot": False}},
        }
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
        self._new_key = False

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
        if self._new_key:  # make ccxt POST for a fresh key instead of reusing the dead one
            self._exchange.options["linear"] = {"listenKey": None, "lastAuthenticatedTime": 0}
        self._new_key = True  # until this session proves the key good
        try:
            async with asyncio.timeout(self.timing.connect_timeout + self.timing.call_timeout):
                await self._exchange.load_markets()
                watcher = asyncio.create_task(self._watch())
                self._tasks.append(watcher)
                await self._connected(watcher)
        except TimeoutError as e:
            raise StreamLost(f"{self.account}: stream connect timed out") from e
        except Exception as e:
            raise StreamLost(f"{self.account}: stream connect failed: {describe(e)}") from e
        self._new_key = False
        self._tasks += [asyncio.create_task(self._keep_alive()),
                        asyncio.create_task(self._watch_silence())]

    async def _connected(self, watcher: asyncio.Task[None]) -> None:
        while True:
            client = self._client()
            if client is not None and client.connected.done():
                client.connected.result()  # raises when the handshake failed
                return
            if watcher.done():
                item = None if self._queue.empty() else self._queue.get_nowait()
                raise item if isinstance(item, StreamLost) else StreamLost("watch ended")
            await asyncio.sleep(0.005)

    def _client(self) -> Any:
        key = (self._exchange.options.get("linear") or {}).get("listenKey")
        if key is None:
            return None
        url = self._exchange.get_private_ws_url("linear", key)
        return (self._exchange.clients or {}).get(url)

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

    async def _watch(self) -> None:
        """Keeps one ``watch_orders`` pending: it dials the socket and it fails when the socket
        does (the events themselves are taken by ``_on_message``)."""
        try:
            while True:
                await self._exchange.watch_orders()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._lost(f"stream closed: {describe(e)}")

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.timing.keepalive)
            try:
                async with asyncio.timeout(self.timing.call_timeout):
                    await self._exchange.fapiPrivatePutListenKey()
            except Exception as e:
                if "-1125" in str(e):
                    self._new_key = True
                    self._lost("the listen key expired (keep-alive refused)")
                    return
                log.warning("%s: listen key keep-alive failed (%s); trying again",
                            self.account, describe(e))

    async def _watch_silence(self) -> None:
        while True:
            await asyncio.sleep(self.timing.silence / 4)
            client = self._client()
            if client is None:
                continue
            heard = max(client.last_message_at or 0, client.lastPong or 0,
                        client.connectionEstablished or 0)
            if time.time() * 1000 - heard > self.timing.silence * 1000:
                self._lost(f"socket silent for over {self.timing.silence:g}s")
                return

    def _on_message(self, client: Any, message: Any) -> None:
        try:
            batch = parse_event(message, self._symbol_of)
        except StreamLost as e:
            self._new_key = "listen key" in str(e)
            self._lost(str(e))
            return
        if batch is not None:
            if self._queue.full():  # a consumer this far behind re-syncs by REST
                self._lost("event queue overflowed")
                return
            self._queue.put_nowait(batch)
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
