"""The Bybit v5 endpoints ccxt 4.5.90 calls for the gateway, answered from a ``PaperExchange``.

Bybit-side rules the venue does not hold: ``category`` and a ``settleCoin`` (or ``symbol``) on
every listing, pages of ``limit`` rows (positions at most 200, orders at most 50, executions at
most 100) continued by ``cursor``; ``positionIdx`` 0 in one-way mode and 1/2 in hedge mode;
conditional orders placed through ``/v5/order/create`` with a ``triggerPrice`` and a
``triggerDirection`` (1 rise, 2 fall), listed among ordinary orders (``orderFilter=StopOrder``
for them alone), keeping their id when they fire; cancelled stops become ``Deactivated``;
``orderLinkId`` unique; executions newest first, without a position side.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from positionbot.fakes import bybit_wire as wire
from positionbot.fakes.wire_params import Params, optional_int, positive_decimal
from positionbot.fakes.wire_server import FillReplay, num
from positionbot.tracker.core.models import (
    ZERO,
    Fill,
    Market,
    Order,
    OrderSide,
    OrderStatus,
    PositionMode,
    Side,
)
from positionbot.tracker.engine.ports import OrderRejectedError
from positionbot.tracker.exchange.paper import PaperExchange
from positionbot.tracker.exchange.paper.income import Income, IncomeType

WEEK_MS = 7 * 24 * 3600 * 1000
_OPEN_STATUSES = frozenset({"New", "PartiallyFilled", "Untriggered", "Triggered"})
PAGE_LIMITS = {"positions": (20, 200), "orders": (20, 50), "executions": (50, 100)}


class BybitVenue:
    def __init__(self, venue: PaperExchange, replay: FillReplay, *, leverage: int) -> None:
        self.venue = venue
        self.replay = replay
        self.leverage: dict[str, int] = {}
        self.liquidation: dict[str, Decimal] = {}
        self._default_leverage = leverage
        self._by_id = {wire.market_id(m): m for m in venue.markets.values()}
        self._stops: dict[str, tuple[int, str]] = {}  # stop id -> (triggerDirection, triggerBy)
        self.stop_of_child: dict[str, str] = {}
        self._finished: set[str] = set()  # stops seen fired or cancelled: never looked up again
        self.routes: dict[tuple[str, str], Callable[[Params], Any]] = {
            ("GET", "/v5/market/time"): lambda _p: wire.envelope(
                {"timeSecond": str(wire.now_ms() // 1000), "timeNano": str(wire.now_ms() * 10**6)}),
            ("GET", "/v5/market/instruments-info"): self.instruments,
            ("GET", "/v5/market/tickers"): self.tickers,
            ("GET", "/v5/user/query-api"): lambda _p: wire.envelope(
                {"id": "1", "readOnly": 0, "unified": 0, "uta": 1, "permissions": {
                    "ContractTrade": ["Order", "Position"]}}),
            ("GET", "/v5/account/info"): lambda _p: wire.envelope(
                {"marginMode": "REGULAR_MARGIN", "unifiedMarginStatus": 6}),
            # Plain ccxt loads coin networks with credentials (the gateway turns it off).
            ("GET", "/v5/asset/coin/query-info"): lambda _p: wire.envelope({"rows": []}),
            ("GET", "/v5/position/list"): self.positions,
            ("GET", "/v5/order/realtime"): self.orders,
            ("POST", "/v5/order/create"): self.create,
            ("POST", "/v5/order/cancel"): self.cancel,
            ("GET", "/v5/execution/list"): self.executions,
            ("GET", "/v5/account/wallet-balance"): self.wallet,
        }

    # --- bookkeeping -------------------------------------------------------------------------

    def sync(self) -> None:
        """Learn which order each fired stop became (its fills are reported under the stop).
        An open stop has not fired and a finished one never changes, so only stops neither open
        nor seen finished are looked up (each look-up walks every market: at 1,000 stops on
        1,000 markets, looking all up made every request take a second)."""
        open_ids = set()
        for order in self.venue.open_stop_orders():
            open_ids.add(order.id)
            self._stops.setdefault(order.id, (2 if order.side is OrderSide.SELL else 1, "LastPrice"))
        for stop_id in [s for s in self._stops if s not in open_ids and s not in self._finished]:
            stop = self._find_any(stop_id)
            if stop is None:
                continue
            if stop.triggered_order_id is not None:
                self.stop_of_child[stop.triggered_order_id] = stop_id
            self._finished.add(stop_id)

    def _market(self, params: Params, key: str = "symbol") -> Market:
        market = self._by_id.get(params.get(key, ""))
        if market is None:
            raise wire.error(wire.PARAMS_ERROR, "params error: symbol invalid")
        return market

    def _category(self, params: Params) -> None:
        if params.get("category") != "linear":
            raise wire.error(wire.PARAMS_ERROR, "fake Bybit: only category=linear is served")

    def _scope(self, params: Params) -> set[str]:
        """Symbols a listing covers: one ``symbol``, or every market of one ``settleCoin``;
        the fake serves no inverse contracts, so an inverse listing is empty."""
        if params.get("category") == "inverse":
            return set()
        self._category(params)
        if params.get("symbol"):
            return {self._market(params).symbol}
        coin = params.get("settleCoin")
        if not coin:
            raise wire.error(wire.PARAMS_ERROR, "Missing some parameters that must be filled in, "
                                                "symbol or settleCoin")
        return {m.symbol for m in self._by_id.values() if m.settle == coin}

    @staticmethod
    def _page(rows: list[dict[str, Any]], params: Params, kind: str) -> dict[str, Any]:
        default, most = PAGE_LIMITS[kind]
        limit = int(params.get("limit") or default)
        if not 1 <= limit <= most:
            raise wire.error(wire.PARAMS_ERROR, f"params error: limit must be within [1, {most}]")
        start = int(params.get("cursor") or 0)
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        return {"list": page, "nextPageCursor": str(start + limit) if more else ""}

    def _find_any(self, order_id: str) -> Order | None:
        for symbol in self.venue.markets:
            for stop in (True, False):
                order = self.venue.find_order(symbol, order_id=order_id, stop=stop)
                if order is not None:
                    return order
        return None

    def _order(self, order: Order) -> dict[str, Any]:
        market = self.venue.markets[order.symbol]
        child = self.venue.find_order(order.symbol, order_id=order.triggered_order_id) \
            if order.triggered_order_id else None
        direction, trigger_by = self._stops.get(order.id, (0, ""))
        avg = self.replay.avg_price(child.id if child else order.id)
        return wire.order_json(order, wire.market_id(market), child, avg, direction, trigger_by)

    # --- market data ---------------------------------------------------------------------------

    def instruments(self, params: Params) -> dict[str, Any]:
        category = params.get("category", "")
        rows: list[dict[str, Any]] = []
        if params.get("status") != "PreLaunch":
            if category == "linear":
                rows = [wire.instrument(m) for m in self._by_id.values()]
            elif category == "inverse":
                rows = [wire.inverse_instrument("BTC")]
        return wire.envelope({"category": category, "list": rows, "nextPageCursor": ""})

    def tickers(self, params: Params) -> dict[str, Any]:
        self._category(params)
        market = self._market(params)
        mark = num(self.venue.mark(market.symbol))
        return wire.envelope({"category": "linear", "list": [{
            "symbol": wire.market_id(market), "lastPrice": mark, "markPrice": mark,
            "indexPrice": mark, "bid1Price": mark, "ask1Price": mark, "volume24h": "0",
            "turnover24h": "0", "fundingRate": "0.0001", "nextFundingTime": "0"}]})

    # --- positions -----------------------------------------------------------------------------

    def positions(self, params: Params) -> dict[str, Any]:
        """With a ``settleCoin`` only non-empty positions; with a ``symbol`` every leg."""
        symbols = self._scope(params)
        hedge = self.venue.mode is PositionMode.HEDGE
        held = {(p.symbol, p.side): p for p in self.venue.positions() if p.symbol in symbols}
        rows: list[dict[str, Any]] = []
        for market in self._by_id.values():
            if market.symbol not in symbols:
                continue
            legs: list[tuple[int, Side | None]] = [(1, Side.LONG), (2, Side.SHORT)] if hedge \
                else [(0, None)]
            for idx, side in legs:
                found = [held.get((market.symbol, s)) for s in ((side,) if side else Side)]
                position = next((p for p in found if p is not None), None)
                if position is None and not params.get("symbol"):
                    continue
                rows.append(wire.position_json(
                    wire.market_id(market), idx, position,
                    leverage=self.leverage.get(market.symbol, self._default_leverage),
                    liquidation=self.liquidation.get(market.symbol), seq=len(rows) + 1))
        return wire.envelope({"category": "linear", **self._page(rows, params, "positions")})

    # --- orders --------------------------------------------------------------------------------

    def orders(self, params: Params) -> dict[str, Any]:
        """Open orders of the scope (``openOnly`` 0, the default), or with ``openOnly=1`` the
        recent finished ones — also when asked by ``orderId``/``orderLinkId``, as documented."""
        symbols = self._scope(params)
        kind = params.get("orderFilter")
        wanted_id, link_id = params.get("orderId"), params.get("orderLinkId")
        finished = (params.get("openOnly") or "0") != "0"
        if wanted_id or link_id:
            found = self._by_ids(symbols, wanted_id, link_id)
            rows = [self._order(o) for o in found if kind is None or
                    (kind == "StopOrder") == o.is_stop]
            rows = [r for r in rows if (r["orderStatus"] in _OPEN_STATUSES) != finished]
            return wire.envelope({"category": "linear", "list": rows, "nextPageCursor": ""})
        if finished:
            return wire.envelope({"category": "linear", "list": [], "nextPageCursor": ""})
        orders: list[Order] = []
        if kind in (None, "Order"):
            orders += self.venue.open_orders()
        if kind in (None, "StopOrder"):
            orders += self.venue.open_stop_orders()
        orders = [o for o in orders if o.symbol in symbols]
        orders.sort(key=lambda o: int(o.id), reverse=True)  # newest first, as Bybit lists them
        rows = [self._order(o) for o in orders]
        return wire.envelope({"category": "linear", **self._page(rows, params, "orders")})

    def _by_ids(self, symbols: set[str], order_id: str | None, link_id: str | None) -> list[Order]:
        found: list[Order] = []
        for symbol in symbols:
            for stop in (False, True):
                if order_id:
                    vid = wire.venue_id(order_id)
                    order = self.venue.find_order(symbol, order_id=vid, stop=stop) if vid else None
                else:
                    order = self.venue.find_order(symbol, client_order_id=link_id, stop=stop)
                if order is not None and order.id not in self.stop_of_child:
                    found.append(order)
        return found

    def create(self, params: Params) -> dict[str, Any]:
        self._category(params)
        market = self._market(params)
        side = {"Buy": OrderSide.BUY, "Sell": OrderSide.SELL}.get(params.get("side", ""))
        kind = params.get("orderType")
        if side is None or kind not in ("Market", "Limit"):
            raise wire.error(wire.PARAMS_ERROR, "params error: side or orderType invalid")
        position_side = self._position_side(params)
        link_id = params.get("orderLinkId") or None
        if link_id is not None and any(
                self.venue.find_order(market.symbol, client_order_id=link_id, stop=s)
                for s in (False, True)):
            raise wire.error(wire.DUPLICATE_LINK_ID, "OrderLinkedID is duplicate")
        qty = _decimal(params, "qty")
        reduce_only = params.get("reduceOnly") == "true"
        try:
            if params.get("triggerPrice"):
                order = self._create_stop(params, market, side, qty, reduce_only, position_side,
                                          link_id)
            else:
                price = _decimal(params, "price") if kind == "Limit" else None
                order = self.venue.place_order(market.symbol, side, qty, price=price,
                                               reduce_only=reduce_only,
                                               position_side=position_side,
                                               client_order_id=link_id)
        except OrderRejectedError as exc:
            raise _refusal(str(exc), side) from exc
        return wire.envelope({"orderId": wire._uuid(order.id), "orderLinkId": link_id or ""})

    def _create_stop(self, params: Params, market: Market, side: OrderSide, qty: Decimal,
                     reduce_only: bool, position_side: Side | None, link_id: str | None) -> Order:
        direction = params.get("triggerDirection")
        if direction not in ("1", "2"):
            raise wire.error(wire.PARAMS_ERROR, "TriggerDirection invalid")
        if params.get("orderType") != "Market" or not (
                reduce_only or params.get("closeOnTrigger") == "true"):
            raise wire.error(wire.PARAMS_ERROR, "fake Bybit: only reduce-only conditional "
                                                "market orders are served")
        if (direction == "2") != (side is OrderSide.SELL):
            raise wire.error(wire.PARAMS_ERROR, "fake Bybit: a stop loss sells on a fall "
                                                "(triggerDirection 2) or buys on a rise (1)")
        order = self.venue.place_stop(market.symbol, side, qty, _decimal(params, "triggerPrice"),
                                      position_side=position_side, client_order_id=link_id)
        self._stops[order.id] = (int(direction), params.get("triggerBy") or "LastPrice")
        return order

    def _position_side(self, params: Params) -> Side | None:
        idx = params.get("positionIdx") or "0"
        hedge = self.venue.mode is PositionMode.HEDGE
        if idx not in ("0", "1", "2") or (idx == "0") == hedge:
            raise wire.error(wire.PARAMS_ERROR, "position idx not match position mode")
        return None if idx == "0" else (Side.LONG if idx == "1" else Side.SHORT)

    def cancel(self, params: Params) -> dict[str, Any]:
        self._category(params)
        market = self._market(params)
        found = self._by_ids({market.symbol}, params.get("orderId"), params.get("orderLinkId"))
        if not params.get("orderId") and not params.get("orderLinkId"):
            raise wire.error(wire.PARAMS_ERROR, "orderId or orderLinkId is required")
        order = next((o for o in found if o.status is OrderStatus.OPEN), None)
        if order is None:
            raise wire.error(wire.ORDER_NOT_FOUND, "Order does not exist.")
        self.venue.cancel_order(order.symbol, order.id, stop=order.is_stop)
        return wire.envelope({"orderId": wire._uuid(order.id),
                              "orderLinkId": order.client_order_id or ""})

    def wallet(self, params: Params) -> dict[str, Any]:
        """The unified account's USDT: ``walletBalance`` is the wallet, ``equity`` adds the
        unrealized P&L (what the stream calls the balance)."""
        if params.get("accountType") != "UNIFIED":
            raise wire.error(wire.PARAMS_ERROR, "accountType only support UNIFIED")
        balance = self.venue.balance()
        return wire.envelope({"list": [wire.wallet_json(balance)]})

    # --- executions ----------------------------------------------------------------------------

    def executions(self, params: Params) -> dict[str, Any]:
        """Trades and funding (``execType``); Bybit's window: at most 7 days, the last 7 by
        default; newest first."""
        self._category(params)
        market = self._market(params) if params.get("symbol") else None
        start, end = _int(params, "startTime"), _int(params, "endTime")
        if start is not None and end is not None and end - start > WEEK_MS:
            raise wire.error(wire.PARAMS_ERROR, "params error: The time range must be within 7 "
                                                "days")
        if start is None:
            end = end if end is not None else wire.now_ms()
            start = end - WEEK_MS
        end = start + WEEK_MS if end is None else end
        kind = params.get("execType")
        rows: list[tuple[int, int, dict[str, Any]]] = []
        if kind in (None, "", "Trade"):
            rows += [(_ms(f), int(f.id), self._execution(f, self.venue.markets[f.symbol]))
                     for f in self.venue.fills if (market is None or f.symbol == market.symbol)
                     and start <= _ms(f) <= end]
        if kind in (None, "", "Funding"):
            rows += [(int(r.at.timestamp() * 1000), int(r.id), self._funding(r))
                     for r in self.venue.income.rows(type=IncomeType.FUNDING_FEE)
                     if (market is None or r.symbol == market.symbol)
                     and start <= int(r.at.timestamp() * 1000) <= end]
        rows.sort(key=lambda row: row[:2], reverse=True)
        return wire.envelope({"category": "linear", **self._page(
            [row[2] for row in rows], params, "executions")})

    def _funding(self, row: Income) -> dict[str, Any]:
        """A funding execution: ``execFee`` positive when paid, as Bybit writes it."""
        market = self.venue.markets[row.symbol]
        return wire.funding_json(row.id, wire.market_id(market), -row.amount,
                                 int(row.at.timestamp() * 1000), self.venue.mark(row.symbol))

    def _execution(self, fill: Fill, market: Market) -> dict[str, Any]:
        order_id = self.stop_of_child.get(fill.order_id, fill.order_id)
        order = self.venue.find_order(fill.symbol, order_id=order_id,
                                      stop=order_id != fill.order_id)
        cost = fill.amount * market.contract_size * fill.price
        maker = fill.fee == cost * self.venue.maker_fee_rate != cost * self.venue.taker_fee_rate
        closed = self.replay.closed.get(fill.id, ZERO)
        rate = self.venue.maker_fee_rate if maker else self.venue.taker_fee_rate
        return wire.execution_json(fill, wire.market_id(market), order, order_id, closed, maker,
                                   rate, self.venue.mark(fill.symbol))


def _refusal(message: str, side: OrderSide) -> Exception:
    if message.startswith("-2022"):
        return wire.error(wire.REDUCE_ONLY_REFUSED, "Reduce-only rule not satisfied")
    if message.startswith("-2021"):
        if side is OrderSide.SELL:
            return wire.error(wire.EXPECT_FALLING, "expect Falling, but trigger_price >= current")
        return wire.error(wire.EXPECT_RISING, "expect Rising, but trigger_price <= current")
    return wire.error(wire.PARAMS_ERROR, f"params error: {message}")


def _invalid(key: str) -> Exception:
    return wire.error(wire.PARAMS_ERROR, f"params error: {key} invalid")


def _decimal(params: Params, key: str) -> Decimal:
    return positive_decimal(params, key, _invalid)


def _int(params: Params, key: str) -> int | None:
    return optional_int(params, key, _invalid)


def _ms(fill: Fill) -> int:
    return int(fill.timestamp.timestamp() * 1000)
