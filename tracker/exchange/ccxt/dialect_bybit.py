"""Bybit v5 (unified trading account) through ccxt 4.5.90: what differs from the generic path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar

import ccxt.async_support as ccxt

from positionbot.tracker.core.models import Fill, Market, Order, OrderSide, Position, Side
from positionbot.tracker.engine.ports import TransientExchangeError
from positionbot.tracker.exchange.ccxt.dialect_base import (
    LISTING_MAX_PAGES,
    MAX_PAGES,
    WEEK_MS,
    Dialect,
    Fetch,
    FetchTrades,
    exact_figures,
    info_of,
)
from positionbot.tracker.exchange.ccxt.normalize import (
    Raw,
    normalize_fill,
    normalize_position,
    to_decimal,
)


class Bybit(Dialect):
    """Bybit v5 (unified trading account)."""

    stop_extras: ClassVar[Mapping[str, Any]] = {"triggerBy": "MarkPrice"}
    # 110092 "expect Rising, but trigger_price <= current", 110093 "expect Falling, ... >= current"
    crossed_stop_codes: ClassVar[frozenset[str]] = frozenset({"110092", "110093"})
    # The unified account is assumed (ccxt would otherwise ask /v5/user/query-api, which needs
    # transfer or withdrawal permissions); coin lists and option markets are not needed.
    ccxt_defaults: ClassVar[Mapping[str, Any]] = {
        "options": {"enableUnifiedAccount": True, "enableUnifiedMargin": False,
                    "fetchMarkets": {"types": ["linear", "inverse"]}},
        "has": {"fetchCurrencies": False}}
    _limits: ClassVar[Mapping[str, int]] = {"positions": 200, "orders": 50, "stops": 50}
    _system_error = re.compile(r'"retCode"\s*:\s*10016\b')

    def cancel_params(self, stop: bool) -> dict[str, Any]:
        return {}  # stops are cancelled like any order; ccxt would send "trigger" along

    async def lookup(self, exchange: Any, symbol: str, order_id: str | None,
                     client_id: str | None, stop: bool) -> Any:
        """``/v5/order/realtime`` answers open orders unless asked ``openOnly=1`` (the recent
        finished ones): both are asked before an order counts as unknown."""
        trigger = {"trigger": True} if stop else {}
        for scope in ({}, {"openOnly": 1}):
            try:
                if order_id is not None:
                    return await exchange.fetch_order(order_id, symbol,
                                                      {"acknowledged": True, **trigger, **scope})
                rows = await exchange.fetch_open_orders(
                    symbol, None, None, {"orderLinkId": client_id, **trigger, **scope})
            except ccxt.OrderNotFound:
                continue
            if rows:
                return rows[0]
        raise ccxt.OrderNotFound(f"bybit: no order {order_id or client_id} on {symbol}")

    @property
    def create_echoes_order(self) -> bool:
        return False

    async def collect(self, kind: str, fetch: Fetch, scope: dict[str, Any]) -> list[Any]:
        rows: list[Any] = []
        params = {**scope, "limit": self._limits[kind]}
        for _ in range(LISTING_MAX_PAGES):
            page = await fetch(dict(params))
            rows.extend(page)
            cursor = next((info_of(r).get("nextPageCursor") for r in page
                           if info_of(r).get("nextPageCursor")), None)
            if not cursor or len(page) < params["limit"]:
                return rows
            params["cursor"] = cursor
        raise TransientExchangeError(f"bybit: more than {LISTING_MAX_PAGES} pages of {kind}")

    async def trades(self, fetch: FetchTrades, since_ms: int, now_ms: int) -> list[Any] | None:
        """Windows of at most 7 days; within one, pages of 100 newest first, by ``cursor``."""
        rows: list[Any] = []
        start = since_ms
        for _ in range(MAX_PAGES):
            end = min(start + WEEK_MS - 1, now_ms)
            params: dict[str, Any] = {"until": end}
            for _ in range(MAX_PAGES):
                page = await fetch(start, 100, dict(params))
                rows.extend(page)
                cursor = next((info_of(r).get("nextPageCursor") for r in page
                               if info_of(r).get("nextPageCursor")), None)
                if not cursor or len(page) < 100:
                    break
                params["cursor"] = cursor
            if end >= now_ms:
                return rows
            start = end + 1
        raise TransientExchangeError(f"bybit: more than {MAX_PAGES} windows of fills")

    def listed_together(self, market: Mapping[str, Any]) -> bool:
        return bool(market.get("linear"))  # ccxt's default category of the listing

    async def recent_trades(self, fetch: FetchTrades, since_ms: int, now_ms: int,
                            max_pages: int) -> tuple[list[Any], int] | None:
        """Executions of every linear symbol in one window of at most 7 days, pages of 100
        newest first by ``cursor``."""
        start = max(since_ms, now_ms - WEEK_MS + 1)
        params: dict[str, Any] = {"until": now_ms}
        rows: list[Any] = []
        for _ in range(max_pages):
            page = await fetch(start, 100, dict(params))
            rows.extend(page)
            cursor = next((info_of(r).get("nextPageCursor") for r in page
                           if info_of(r).get("nextPageCursor")), None)
            if not cursor or len(page) < 100:
                return rows, start
            params["cursor"] = cursor
        return rows, min(int(r["timestamp"]) for r in rows) + 1  # that millisecond may go on

    funding_page = 100

    def funding_amount(self, raw: Raw) -> Decimal | None:
        """``execFee`` of a funding execution is positive when paid (ccxt keeps that sign)."""
        fee = info_of(raw).get("execFee")
        return None if fee in (None, "") else -to_decimal(fee, "funding fee")

    async def hedged_when_flat(self, exchange: Any, markets: Mapping[str, Market]) -> bool | None:
        """A listing by symbol shows every leg, even empty ones, with its ``positionIdx``."""
        linear = [m.symbol for m in markets.values() if m.settle == m.quote]
        if not linear:
            return None
        rows = await exchange.fetch_positions([linear[0]])
        hedged = [r.get("hedged") for r in rows if isinstance(r.get("hedged"), bool)]
        return hedged[0] if hedged else None

    def reclassify(self, exc: BaseException) -> BaseException:
        if type(exc) is ccxt.ExchangeError and self._system_error.search(str(exc)):
            mapped: BaseException = ccxt.ExchangeNotAvailable(str(exc))
            return mapped
        return exc

    def position(self, raw: Raw, market: Market | None, exchange_id: str) -> Position | None:
        return normalize_position(exact_figures(raw, {
            "contracts": "size", "entryPrice": "avgPrice", "markPrice": "markPrice",
            "unrealizedPnl": "unrealisedPnl", "leverage": "leverage",
            "liquidationPrice": "liqPrice"}), market, exchange_id)

    def order(self, raw: Raw, exchange_id: str, *, is_stop: bool) -> Order:
        order = super().order(exact_figures(raw, {
            "amount": "qty", "filled": "cumExecQty", "price": "price",
            "triggerPrice": "triggerPrice"}), exchange_id, is_stop=is_stop)
        leg = {"1": Side.LONG, "2": Side.SHORT}.get(str(info_of(raw).get("positionIdx")))
        return replace(order, position_side=leg)

    def fill(self, raw: Raw, settle: str, exchange_id: str, hedge: bool) -> Fill:
        info = info_of(raw)
        shell = exact_figures(raw, {"amount": "execQty", "price": "execPrice"})
        if info.get("execFee") not in (None, ""):
            shell["fee"] = {"cost": info["execFee"], "currency": settle}
            shell["fees"] = []
        fill = normalize_fill(shell, settle, exchange_id)
        if not hedge:
            return fill
        closing = to_decimal(info.get("closedSize") or "0", "closed size") > 0
        leg = (Side.LONG if fill.side is OrderSide.SELL else Side.SHORT) if closing else (
            Side.LONG if fill.side is OrderSide.BUY else Side.SHORT)
        return replace(fill, position_side=leg)
