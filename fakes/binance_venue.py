"""The Binance USDⓈ-M endpoints ccxt calls, answered from a ``PaperExchange``.

Binance-side rules the venue does not hold itself are applied here: conditional orders only
through the Algo service (-4120 on ``/fapi/v1/order``), ``reduceOnly`` refused next to a hedge
mode ``positionSide`` (-1106), client ids unique among open orders (-4116 / -20132), and the
per-fill ``realizedPnl``, replayed on a ledger of the same kind as the venue's.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from positionbot.fakes import binance_income
from positionbot.fakes.binance_wire import (
    BinanceApiError,
    Params,
    algo_order_json,
    exchange_info_symbol,
    market_id,
    num,
    order_json,
    position_risk,
    trade_json,
)
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
from positionbot.tracker.exchange.paper.ledger import PositionLedger

Handler = Callable[[Params], Any]

WEEK_MS = 7 * 24 * 3600 * 1000
MAX_TRACKED_ORDERS = 100_000
_CODE = re.compile(r"^(-\d+)\s+(.*)$", re.DOTALL)


def _rejection(exc: OrderRejectedError) -> BinanceApiError:
    """The venue's rejections start with Binance's code, e.g. ``-2022 ReduceOnly ...``."""
    match = _CODE.match(str(exc))
    if match is None:
        return BinanceApiError(-1000, str(exc))
    return BinanceApiError(int(match.group(1)), match.group(2))


class BinanceVenue:
    def __init__(self, venue: PaperExchange, *, leverage: int) -> None:
        self.venue = venue
        self.leverage: dict[str, int] = {}
        self.liquidation: dict[str, Decimal] = {}
        self._default_leverage = leverage
        self._by_id = {market_id(m): m for m in venue.markets.values()}
        self._shadow = PositionLedger(venue.mode)
        self._last_fill = 0
        self._fill_pnl: OrderedDict[str, Decimal] = OrderedDict()
        self._order_fills: OrderedDict[str, tuple[Decimal, Decimal]] = OrderedDict()
        self._working_types: OrderedDict[str, str] = OrderedDict()
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/fapi/v1/ping"): lambda _p: {},
            ("GET", "/fapi/v1/time"): lambda _p: {"serverTime": self._now()},
            ("GET", "/fapi/v1/exchangeInfo"): self.exchange_info,
            ("GET", "/fapi/v1/premiumIndex"): self.premium_index,
            # What plain ccxt asks while loading markets with credentials (the gateway turns
            # it off): spot-wallet currencies and margin pairs, which a futures venue has none of.
            ("GET", "/sapi/v1/capital/config/getall"): lambda _p: [],
            ("GET", "/sapi/v1/margin/allPairs"): lambda _p: [],
            ("GET", "/fapi/v1/leverageBracket"): self.leverage_brackets,
            ("GET", "/fapi/v1/positionSide/dual"): lambda _p: {
                "dualSidePosition": venue.mode is PositionMode.HEDGE},
            ("GET", "/fapi/v3/positionRisk"): self.position_risk,
            ("GET", "/fapi/v1/openOrders"): self.open_orders,
            ("GET", "/fapi/v1/order"): self.get_order,
            ("POST", "/fapi/v1/order"): self.new_order,
            ("DELETE", "/fapi/v1/order"): self.cancel_order,
            ("GET", "/fapi/v1/openAlgoOrders"): self.open_algo_orders,
            ("GET", "/fapi/v1/algoOrder"): self.get_algo_order,
            ("POST", "/fapi/v1/algoOrder"): self.new_algo_order,
            ("DELETE", "/fapi/v1/algoOrder"): self.cancel_algo_order,
            ("GET", "/fapi/v1/userTrades"): self.user_trades,
            ("GET", "/fapi/v1/income"): lambda p: binance_income.income(
                venue, p, self._by_id, self._now()),
            ("GET", "/fapi/v3/account"): lambda _p: binance_income.account(
                venue, lambda s: self.leverage.get(s, self._default_leverage), self._now()),
        }

    # --- bookkeeping ---------------------------------------------------------------------------

    def _now(self) -> int:
        return int(time.time() * 1000)

    def seed_position(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> None:
        self.venue.open_position(symbol, side, size, price)
        self._shadow.set(symbol, side, size, price)

    def sync(self) -> None:
        """Replay fills booked since the last request: per-fill P&L and per-order averages."""
        for fill in self.venue.fills:
            if int(fill.id) <= self._last_fill:
                continue
            market = self.venue.markets[fill.symbol]
            pnl = self._shadow.apply(fill.symbol, fill.side, fill.amount, fill.price,
                                     market.contract_size, fill.position_side)
            self._remember(self._fill_pnl, fill.id, pnl)
            qty, quote = self._order_fills.get(fill.order_id, (ZERO, ZERO))
            self._remember(self._order_fills, fill.order_id,
                           (qty + fill.amount, quote + fill.amount * fill.price))
            self._last_fill = int(fill.id)

    @staticmethod
    def _remember(store: OrderedDict[str, Any], key: str, value: Any) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > MAX_TRACKED_ORDERS:
            store.popitem(last=False)

    def _market(self, params: Params) -> Market:
        market = self._by_id.get(params.text("symbol"))
        if market is None:
            raise BinanceApiError(-1121, "Invalid symbol.")
        return market

    def _avg_price(self, order_id: str) -> Decimal | None:
        qty, quote = self._order_fills.get(order_id, (ZERO, ZERO))
        return quote / qty if qty > ZERO else None

    def _order(self, order: Order) -> dict[str, Any]:
        market = self.venue.markets[order.symbol]
        return order_json(order, market_id(market), self._avg_price(order.id))

    def _algo(self, order: Order) -> dict[str, Any]:
        market = self.venue.markets[order.symbol]
        child = None
        if order.triggered_order_id is not None:
            child = self.venue.find_order(order.symbol, order_id=order.triggered_order_id)
        avg = self._avg_price(order.triggered_order_id) if order.triggered_order_id else None
        return algo_order_json(order, market_id(market), child,
                               self._working_types.get(order.id, "CONTRACT_PRICE"), avg)

    def _position_side(self, params: Params) -> Side | None:
        """Binance's positionSide: BOTH in one-way mode, LONG or SHORT in hedge mode."""
        text = params.optional("positionSide") or "BOTH"
        hedge = self.venue.mode is PositionMode.HEDGE
        if text not in ("BOTH", "LONG", "SHORT") or (text == "BOTH") == hedge:
            raise BinanceApiError(-4061, "Order's position side does not match user's setting.")
        if hedge and params.optional("reduceOnly") is not None:
            raise BinanceApiError(-1106, "Parameter 'reduceOnly' sent when not required.")
        return None if text == "BOTH" else Side(text.lower())

    def _side(self, params: Params) -> OrderSide:
        text = params.text("side")
        if text not in ("BUY", "SELL"):
            raise BinanceApiError(-1117, "Invalid side.")
        return OrderSide(text.lower())

    # --- market data ---------------------------------------------------------------------------

    def exchange_info(self, _params: Params) -> dict[str, Any]:
        return {
            "timezone": "UTC", "serverTime": self._now(), "futuresType": "U_MARGINED",
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                            "intervalNum": 1, "limit": 2400}],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [exchange_info_symbol(m) for m in self.venue.markets.values()],
        }

    def premium_index(self, params: Params) -> Any:
        markets = [self._market(params)] if params.optional("symbol") else list(
            self._by_id.values())
        rows = [{"symbol": market_id(m), "markPrice": num(self.venue.mark(m.symbol)),
                 "indexPrice": num(self.venue.mark(m.symbol)), "lastFundingRate": "0.00010000",
                 "interestRate": "0.00010000", "nextFundingTime": self._now() + 3600_000,
                 "time": self._now()}
                for m in markets if self._has_mark(m.symbol)]
        return rows[0] if params.optional("symbol") and rows else rows

    def _has_mark(self, symbol: str) -> bool:
        try:
            self.venue.mark(symbol)
        except KeyError:
            return False
        return True

    def leverage_brackets(self, _params: Params) -> list[dict[str, Any]]:
        return [{"symbol": symbol_id, "notionalCoef": 1.0, "brackets": [
            {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0,
             "maintMarginRatio": 0.004, "cum": 0.0}]} for symbol_id in self._by_id]

    # --- account ---------------------------------------------------------------------------------

    def position_risk(self, params: Params) -> list[dict[str, Any]]:
        wanted = self._market(params).symbol if params.optional("symbol") else None
        hedge = self.venue.mode is PositionMode.HEDGE
        return [
            position_risk(p, market_id(self.venue.markets[p.symbol]), hedge=hedge,
                          leverage=self.leverage.get(p.symbol, self._default_leverage),
                          settle=self.venue.markets[p.symbol].settle,
                          liquidation=self.liquidation.get(p.symbol), updated=self._now())
            for p in self.venue.positions() if wanted in (None, p.symbol)
        ]

    def user_trades(self, params: Params) -> list[dict[str, Any]]:
        """Binance's rules: a window of at most 7 days (the last 7 days by default), or trades
        from ``fromId`` on, which cannot be combined with a window; at most 1000, oldest first."""
        market = self._market(params)
        start, end = params.integer("startTime"), params.integer("endTime")
        from_id = params.integer("fromId")
        limit = min(params.integer("limit") or 500, 1000)
        fills = sorted((f for f in self.venue.fills if f.symbol == market.symbol),
                       key=lambda f: int(f.id))
        if from_id is not None:
            if start is not None or end is not None:
                raise BinanceApiError(-1128, "Combination of optional parameters invalid.")
            chosen = [f for f in fills if int(f.id) >= from_id][:limit]
        else:
            if start is not None and end is not None and end - start > WEEK_MS:
                raise BinanceApiError(-4166, "Search window is restricted to recent 7 days only.")
            if start is None:
                start = (end or self._now()) - WEEK_MS
            end = start + WEEK_MS if end is None else end
            in_window = [f for f in fills if start <= _ms(f) <= end]
            chosen = in_window[:limit] if params.optional("startTime") else in_window[-limit:]
        return [trade_json(f, market_id(market), market.settle,
                           self._fill_pnl.get(f.id, ZERO), self._is_maker(f))
                for f in chosen]

    def _is_maker(self, fill: Fill) -> bool:
        cost = fill.amount * self.venue.markets[fill.symbol].contract_size * fill.price
        return fill.fee == cost * self.venue.maker_fee_rate != cost * self.venue.taker_fee_rate

    # --- ordinary orders -------------------------------------------------------------------------

    def _find(self, params: Params, *, stop: bool, id_key: str, client_key: str) -> Order | None:
        market = self._market(params)
        order_id, client_id = params.optional(id_key), params.optional(client_key)
        if order_id is None and client_id is None:
            raise BinanceApiError(-1102, f"Param '{id_key}' or '{client_key}' must be sent, "
                                         "but both were empty/null!")
        return self.venue.find_order(market.symbol, order_id=order_id, client_order_id=client_id,
                                     stop=stop)

    def open_orders(self, params: Params) -> list[dict[str, Any]]:
        wanted = self._market(params).symbol if params.optional("symbol") else None
        return [self._order(o) for o in self.venue.open_orders() if wanted in (None, o.symbol)]

    def get_order(self, params: Params) -> dict[str, Any]:
        order = self._find(params, stop=False, id_key="orderId", client_key="origClientOrderId")
        if order is None:
            raise BinanceApiError(-2013, "Order does not exist.")
        return self._order(order)

    def new_order(self, params: Params) -> dict[str, Any]:
        market = self._market(params)
        kind = params.text("type")
        if kind not in ("MARKET", "LIMIT"):
            raise BinanceApiError(-4120, "Order type not supported for this endpoint. Please use "
                                         "the Algo Order API endpoints instead.")
        side, position_side = self._side(params), self._position_side(params)
        client_id = params.optional("newClientOrderId")
        self._check_unique(market.symbol, client_id, stop=False, code=-4116,
                           msg="ClientOrderId is duplicated.")
        price = params.decimal("price") if kind == "LIMIT" else None
        try:
            order = self.venue.place_order(
                market.symbol, side, params.decimal("quantity"), price=price,
                reduce_only=params.flag("reduceOnly"), position_side=position_side,
                client_order_id=client_id)
        except OrderRejectedError as exc:
            raise _rejection(exc) from exc
        self.sync()
        return self._order(order)

    def cancel_order(self, params: Params) -> dict[str, Any]:
        order = self._find(params, stop=False, id_key="orderId", client_key="origClientOrderId")
        if order is None or order.status is not OrderStatus.OPEN:
            raise BinanceApiError(-2011, "Unknown order sent.")
        self.venue.cancel_order(order.symbol, order.id)
        return self._order(self.venue.find_order(order.symbol, order_id=order.id) or order)

    def _check_unique(self, symbol: str, client_id: str | None, *, stop: bool, code: int,
                      msg: str) -> None:
        if client_id is None:
            return
        existing = self.venue.find_order(symbol, client_order_id=client_id, stop=stop)
        if existing is not None and existing.status is OrderStatus.OPEN:
            raise BinanceApiError(code, msg)

    # --- conditional orders (the Algo service) ----------------------------------------------------

    def open_algo_orders(self, params: Params) -> list[dict[str, Any]]:
        wanted = self._market(params).symbol if params.optional("symbol") else None
        return [self._algo(o) for o in self.venue.open_stop_orders()
                if wanted in (None, o.symbol)]

    def get_algo_order(self, params: Params) -> dict[str, Any]:
        order = self._find(params, stop=True, id_key="algoId", client_key="clientAlgoId")
        if order is None:
            raise BinanceApiError(-2013, "Order does not exist.")
        return self._algo(order)

    def new_algo_order(self, params: Params) -> dict[str, Any]:
        market = self._market(params)
        if params.text("algoType") != "CONDITIONAL":
            raise BinanceApiError(-1116, "Invalid algoType.")
        if params.text("type") != "STOP_MARKET" or params.flag("closePosition"):
            raise BinanceApiError(-4000, "fake Binance: only STOP_MARKET orders with a quantity "
                                         "are supported")
        side, position_side = self._side(params), self._position_side(params)
        if position_side is None and not params.flag("reduceOnly"):
            raise BinanceApiError(-4000, "fake Binance: one-way stops must be reduce-only")
        client_id = params.optional("clientAlgoId")
        self._check_unique(market.symbol, client_id, stop=True, code=-20132,
                           msg="The client algo id is duplicated.")
        try:
            order = self.venue.place_stop(
                market.symbol, side, params.decimal("quantity"), params.decimal("triggerPrice"),
                position_side=position_side, client_order_id=client_id)
        except OrderRejectedError as exc:
            raise _rejection(exc) from exc
        self._remember(self._working_types, order.id,
                       params.optional("workingType") or "CONTRACT_PRICE")
        return self._algo(order)

    def cancel_algo_order(self, params: Params) -> dict[str, Any]:
        order = self._find(params, stop=True, id_key="algoId", client_key="clientAlgoId")
        if order is None or order.status is not OrderStatus.OPEN:
            raise BinanceApiError(-20124, "Invalid algo id or it has been completed.")
        self.venue.cancel_order(order.symbol, order.id, stop=True)
        return {"algoId": int(order.id), "clientAlgoId": order.client_order_id or "",
                "code": "200", "msg": "success"}


def _ms(fill: Fill) -> int:
    return int(fill.timestamp.timestamp() * 1000)
