"""The exchange gateway over ccxt: one ``ccxt.async_support`` instance per account, kept for life.

The instance is kept because ccxt's rate limiter lives in it. Every request it makes (retries and
market loads included) is counted in ``calls``. Reads and cancels are retried within the
``RetryPolicy``; order creation never is blindly: after a timeout the order is looked up by its
client order id first, and every attempt carries that same id, so the exchange itself refuses a
second copy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import ccxt.async_support as ccxt

from positionbot.tracker.core.funding import FundingPayment
from positionbot.tracker.core.models import Balance, Fill, Market, Order, PositionMode, PositionSnapshot, Side
from positionbot.tracker.engine.ports import FillListing, PermanentExchangeError
from positionbot.tracker.exchange.ccxt import income
from positionbot.tracker.exchange.ccxt.dialects import dialect_for, fill_order_key
from positionbot.tracker.exchange.ccxt.fast_positions import (
    BinancePositionRows,
    BinanceStopRows,
    fast_path_available,
)
from positionbot.tracker.exchange.ccxt.fill_listing import fetch_fills_listing
from positionbot.tracker.exchange.ccxt.fills import FILL_PAGE, collect_fills
from positionbot.tracker.exchange.ccxt.instance import build_exchange, respect_timeout
from positionbot.tracker.exchange.ccxt.normalize import (
    Malformed,
    is_binance,
    normalize_market,
    snapshot_mode,
    unreadable_position_rows,
)
from positionbot.tracker.exchange.ccxt.orders import OrderPlacer
from positionbot.tracker.exchange.ccxt.retry import (
    Health,
    RetryPolicy,
    describe,
    permanent_error,
    with_retries,
)
from positionbot.tracker.exchange.ccxt.scopes import listing_scopes

__all__ = ["DEFAULT_RETRY", "CcxtGateway", "RetryPolicy"]

log = logging.getLogger(__name__)

DEFAULT_RETRY = RetryPolicy()


class CcxtGateway:
    """``ExchangeGateway`` for any ccxt exchange that can list positions."""

    def __init__(
        self, account: str, exchange_id: str, *, api_key: str | None = None,
        secret: str | None = None, password: str | None = None, sandbox: bool = False,
        ccxt_config: Mapping[str, Any] | None = None, retry: RetryPolicy = DEFAULT_RETRY,
        markets_ttl: float = 3600.0, settle_coins: Sequence[str] | None = None,
        fast_path: bool = True,
    ) -> None:
        dialect = dialect_for(exchange_id)
        retry = respect_timeout(retry, ccxt_config or {})
        exchange = build_exchange(account, exchange_id, retry, dialect, api_key=api_key,
                                  secret=secret, password=password, sandbox=sandbox,
                                  ccxt_config=ccxt_config)
        self.account = account
        self.calls = 0
        self._id = exchange_id
        self._dialect = dialect
        self._exchange = exchange
        self._retry = retry
        self._markets_ttl = markets_ttl
        self._settle_coins = tuple(settle_coins) if settle_coins is not None else None
        self._markets: dict[str, Market] | None = None
        self._markets_loaded_at = 0.0
        self._markets_lock = asyncio.Lock()
        self._mode: PositionMode | None = None
        self._open_orders_need_symbol = False
        self.health = Health()  # read by the book: the exchange is failing right now
        # Binance USDⓈ-M: raw rows, built only when they changed (see fast_positions).
        fast = fast_path and fast_path_available(exchange)
        self._position_rows = BinancePositionRows(exchange) if fast else None
        self._stop_rows = BinanceStopRows(exchange) if fast else None
        self._count_requests()
        self._orders = OrderPlacer(exchange, account, retry, self._lookup, self._forget_mode,
                                   dialect)

    def _count_requests(self) -> None:
        """Count every HTTP request ccxt sends, whichever method sends it, and refuse bodies
        that look like JSON but do not parse: ccxt hands those on as text, and a truncated
        position list would then read as an empty one."""
        send = self._exchange.fetch

        async def counted(url: str, method: str = "GET", headers: Any = None,
                          body: Any = None) -> Any:
            self.calls += 1
            try:
                answer = await send(url, method, headers, body)
            except ccxt.BaseError as exc:
                mapped = self._dialect.reclassify(exc)
                if mapped is exc:
                    raise
                raise mapped from exc
            if isinstance(answer, str) and answer.lstrip()[:1] in ("{", "["):
                path = urlsplit(url).path
                raise ccxt.BadResponse(f"{self._id} {method} {path}: truncated or malformed JSON")
            if self._position_rows is None and urlsplit(url).path.endswith("/positionRisk") and (
                    bad := unreadable_position_rows(answer)):
                raise ccxt.BadResponse(f"{self._id}: position rows without an entry price "
                                       f"({', '.join(bad[:5])}): not read as closed")
            return answer

        self._exchange.fetch = counted

    async def _call(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        return await with_retries(self._retry, f"{self.account}: {what}", call, self.health)

    async def markets(self) -> Mapping[str, Market]:
        async with self._markets_lock:
            stale = time.monotonic() - self._markets_loaded_at >= self._markets_ttl
            if self._markets is None or stale:
                reload = self._markets is not None
                raw = await self._call("load markets",
                                       lambda: self._exchange.load_markets(reload))
                self._markets = self._contract_markets(raw)
                self._markets_loaded_at = time.monotonic()
            return self._markets

    def _contract_markets(self, raw: Mapping[str, Any]) -> dict[str, Market]:
        """Contract markets; one the exchange describes badly is left out rather than failing
        every cycle (a position on it still normalises, from its own contract size)."""
        markets: dict[str, Market] = {}
        skipped: list[str] = []
        for symbol, market in raw.items():
            if not (market.get("contract") and market.get("settle")):
                continue
            try:
                markets[symbol] = normalize_market(market, self._exchange.precisionMode)
            except Malformed:
                skipped.append(symbol)
        if skipped:
            log.warning("%s: %d markets without usable precision left out: %s", self.account,
                        len(skipped), ", ".join(skipped[:10]))
        return markets

    async def _sweep(self, what: str, call: Callable[[dict[str, Any]], Awaitable[Any]],
                     kind: str) -> list[Any]:
        """One listing per settle-coin scope (a single one on most exchanges), each walked
        page by page where the exchange pages (``kind``: positions, orders, stops)."""
        markets = await self.markets()

        async def page(params: dict[str, Any]) -> list[Any]:
            rows = await self._call(what, partial(call, params))
            if not isinstance(rows, list):
                raise Malformed(f"{self.account}: {what}: expected a list, got {type(rows).__name__}")
            return rows

        rows: list[Any] = []
        for scope in listing_scopes(self._id, markets.values(), self._settle_coins):
            rows.extend(await self._dialect.collect(kind, page, scope))
        return rows

    async def fetch_positions(self) -> PositionSnapshot:
        if self._position_rows is not None:
            return await self._fast_positions(self._position_rows, ())
        raws = await self._sweep("fetch positions",
                                 lambda scope: self._exchange.fetch_positions(None, scope),
                                 "positions")
        return await self._snapshot(raws)

    async def _snapshot(self, raws: Sequence[Any]) -> PositionSnapshot:
        fetched_at = datetime.now(UTC)
        markets = await self.markets()
        binance = is_binance(self._id)
        mode = snapshot_mode(raws, binance) or await self._known_mode()
        self._mode = mode
        positions = []
        for raw in raws:
            position = self._dialect.position(raw, markets.get(str(raw.get("symbol"))), self._id)
            if position is not None:
                positions.append(position)
        return PositionSnapshot(tuple(positions), mode, fetched_at)

    async def fetch_positions_of(self, symbols: Sequence[str]) -> PositionSnapshot:
        """Positions on ``symbols`` only, so a close is verified without building everything:
        one request per symbol on the fast path, else one ccxt call (which filters)."""
        if self._position_rows is not None:
            return await self._fast_positions(self._position_rows, symbols)
        wanted = list(dict.fromkeys(symbols))
        raws = await self._call(f"fetch positions on {', '.join(wanted)}",
                                partial(self._exchange.fetch_positions, wanted))
        if not isinstance(raws, list):
            raise Malformed(f"{self.account}: fetch positions: expected a list, got "
                            f"{type(raws).__name__}")
        return await self._snapshot(raws)

    async def _fast_positions(self, rows: BinancePositionRows,
                              symbols: Sequence[str]) -> PositionSnapshot:
        markets = await self.markets()
        wanted = tuple(dict.fromkeys(symbols))
        raws = await self._call("fetch positions", partial(rows.fetch, wanted))
        fetched_at = datetime.now(UTC)
        mode = rows.mode(raws) or await self._known_mode()
        self._mode = mode
        return PositionSnapshot(rows.positions(raws, markets, partial=bool(wanted)), mode,
                                fetched_at)

    async def _known_mode(self) -> PositionMode:
        """The mode when no position shows it: the last one seen, else asked once."""
        if self._mode is not None:
            return self._mode
        try:
            hedged = await self._call("fetch position mode", partial(
                self._dialect.hedged_when_flat, self._exchange, await self.markets()))
            if hedged is not None:
                return PositionMode.HEDGE if hedged else PositionMode.ONE_WAY
            if not self._exchange.has.get("fetchPositionMode"):
                return PositionMode.ONE_WAY
            answer = await self._call("fetch position mode", self._exchange.fetch_position_mode)
        except PermanentExchangeError as exc:
            log.warning("%s: position mode unknown (%s); one-way assumed until a position shows "
                        "it", self.account, exc)
            return PositionMode.ONE_WAY
        return PositionMode.HEDGE if answer.get("hedged") is True else PositionMode.ONE_WAY

    def _forget_mode(self) -> None:
        """An order refused by the exchange may mean the mode changed while flat: ask again."""
        self._mode = None

    async def fetch_open_orders(self, symbols: Sequence[str] = ()) -> list[Order]:
        if not self._open_orders_need_symbol:
            try:
                raws = await self._sweep(
                    "fetch open orders",
                    lambda scope: self._exchange.fetch_open_orders(None, None, None, scope),
                    "orders")
            except PermanentExchangeError as exc:
                if not isinstance(exc.__cause__, ccxt.ArgumentsRequired):
                    raise
                log.info("%s: %s lists open orders per symbol only", self.account, self._id)
                self._open_orders_need_symbol = True
        if self._open_orders_need_symbol:
            raws = []
            for symbol in dict.fromkeys(symbols):
                raws.extend(await self._call(f"fetch open orders on {symbol}",
                                             partial(self._exchange.fetch_open_orders, symbol)))
        orders = [self._dialect.order(raw, self._id, is_stop=False) for raw in raws]
        return [order for order in orders if order.trigger_price is None]

    async def fetch_open_stop_orders(self) -> list[Order]:
        if self._stop_rows is not None:
            await self.markets()
            result: list[Order] = await self._call("fetch open stop orders",
                                                   self._stop_rows.fetch)
            return result
        stop_params = self._dialect.open_stop_params
        raws = await self._sweep(
            "fetch open stop orders",
            lambda scope: self._exchange.fetch_open_orders(None, None, None,
                                                           {**scope, **stop_params}), "stops")
        return [self._dialect.order(raw, self._id, is_stop=True) for raw in raws]

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None,
        client_order_id: str | None = None, stop: bool = False,
    ) -> Order | None:
        if order_id is None and client_order_id is None:
            raise ValueError("fetch_order needs an order id or a client order id")
        await self.markets()
        return await self._lookup(symbol, order_id, client_order_id, stop)

    async def _lookup(self, symbol: str, order_id: str | None, client_order_id: str | None,
                      stop: bool) -> Order | None:
        what = f"{self.account}: fetch order {order_id or client_order_id} on {symbol}"

        async def fetch() -> Any:
            try:
                return await self._dialect.lookup(self._exchange, symbol, order_id,
                                                  client_order_id, stop)
            except ccxt.BaseError as exc:
                if _order_gone(exc):
                    return None
                raise

        raw = await with_retries(self._retry, what, fetch)
        return None if raw is None else self._dialect.order(raw, self._id, is_stop=stop)

    async def fetch_mark_price(self, symbol: str) -> Decimal | None:
        if self._exchange.has.get("fetchMarkPrice"):
            ticker = await self._call(f"mark price of {symbol}",
                                      lambda: self._exchange.fetch_mark_price(symbol))
        else:
            ticker = await self._call(f"ticker of {symbol}",
                                      lambda: self._exchange.fetch_ticker(symbol))
        info = ticker.get("info") or {}
        raw = (info.get("markPrice") or info.get("markPx")) if isinstance(info, dict) else None
        if raw is None:
            raw = ticker.get("markPrice")
        return Decimal(str(raw)) if raw not in (None, "") else None

    async def fetch_fills(self, symbol: str, since: datetime) -> list[Fill]:
        what = f"{self.account}: fetch fills on {symbol}"
        market = (await self.markets()).get(symbol)
        if market is None:
            raise permanent_error(ccxt.BadSymbol(symbol), what)

        async def fetch_trades(start: int | None, limit: int | None,
                               params: dict[str, Any]) -> Any:
            page = await self._call(f"fetch fills on {symbol}", partial(
                self._exchange.fetch_my_trades, symbol, start, limit, params))
            if not isinstance(page, list):
                raise Malformed(f"{what}: expected a list of trades, got {type(page).__name__}")
            return page

        since_ms = int(since.timestamp() * 1000)
        raws = await self._dialect.trades(fetch_trades, since_ms, int(time.time() * 1000))
        if raws is None:
            return await collect_fills(lambda start, params: fetch_trades(start, FILL_PAGE, params),
                                       since, market.settle, self._id, what)
        hedge = self._mode is PositionMode.HEDGE
        fills: dict[str, Fill] = {}
        for raw in sorted(raws, key=fill_order_key):
            fill = self._dialect.fill(raw, market.settle, self._id, hedge)
            if fill.timestamp >= since:
                fills.setdefault(fill.id, fill)
        return list(fills.values())

    async def fetch_fills_listing(self, symbols: Sequence[str],
                                  since: datetime) -> FillListing | None:
        """Fills of many symbols in a request or few where the exchange lists them together."""
        return await fetch_fills_listing(self._exchange, self._call, self._dialect, self._id,
                                         await self.markets(), self._mode is PositionMode.HEDGE,
                                         symbols, since)

    async def fetch_funding(self, since: datetime) -> list[FundingPayment]:
        await self.markets()
        return await income.fetch_funding(self._exchange, self._call, self._id, since)

    async def fetch_balance(self) -> Balance:
        await self.markets()
        coins = self._settle_coins or ("USDT", "USDC", "USD")
        return await income.fetch_balance(self._exchange, self._call, self._id, coins)

    async def place_stop_loss(
        self, symbol: str, position_side: Side, amount: Decimal, trigger_price: Decimal,
        client_order_id: str, hedge: bool,
    ) -> Order:
        await self.markets()
        return await self._orders.stop_loss(symbol, position_side, amount, trigger_price,
                                            client_order_id, hedge)

    async def place_entry(
        self, symbol: str, side: Side, amount: Decimal, price: Decimal | None,
        client_order_id: str, hedge: bool,
    ) -> Order:
        await self.markets()
        return await self._orders.entry(symbol, side, amount, price, client_order_id, hedge)

    async def place_reduce(
        self, symbol: str, position_side: Side, amount: Decimal, client_order_id: str, hedge: bool,
    ) -> Order:
        await self.markets()
        return await self._orders.reduce(symbol, position_side, amount, client_order_id, hedge)

    async def cancel_order(self, symbol: str, order_id: str, *, stop: bool = False) -> None:
        await self.markets()
        params = self._dialect.cancel_params(stop)

        async def cancel() -> None:
            try:
                await self._exchange.cancel_order(order_id, symbol, dict(params))
            except ccxt.BaseError as exc:
                if not _order_gone(exc):
                    raise
                log.info("%s: order %s on %s was already gone (%s)", self.account, order_id,
                         symbol, describe(exc))

        await self._orders.cancel(f"{self.account}: cancel order {order_id} on {symbol}", cancel,
                                  stop=stop, health=self.health)

    async def close(self) -> None:
        await self._exchange.close()


def _order_gone(exc: BaseException) -> bool:
    """The exchange no longer knows the order, or it has finished (Binance Algo's ``-20124``)."""
    return isinstance(exc, ccxt.OrderNotFound) or (
        isinstance(exc, ccxt.BadRequest) and "-20124" in str(exc))
