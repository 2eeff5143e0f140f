"""The OKX v5 endpoints ccxt 4.5.90 calls for the gateway, answered from a ``PaperExchange``.

OKX-side rules the venue does not hold: sizes in contracts (``ctVal`` each); ``posSide``
``long``/``short`` on every order in long/short mode and ``net`` (or none) in net mode;
stop losses are algo orders (``/trade/order-algo``, ``ordType=conditional``) with their own
``algoId``, listed only by ``/trade/orders-algo-pending`` for the ``ordType`` asked; a fired
stop places a new order with its own ``ordId``, linked both ways by ``algoId``; client ids
(``clOrdId``, ``algoClOrdId``) alphanumeric, at most 32 characters, unique; pages of at most
100 rows, newest first, continued with ``after``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from positionbot.fakes import okx_wire as wire
from positionbot.fakes.wire_params import Params, optional_int, positive_decimal
from positionbot.fakes.wire_server import FillReplay, WireError, num
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
from positionbot.tracker.exchange.paper.income import IncomeType

PAGE = 100
_CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


class OkxVenue:
    def __init__(self, venue: PaperExchange, replay: FillReplay, *, leverage: int) -> None:
        self.venue = venue
        self.replay = replay
        self.leverage: dict[str, int] = {}
        self.liquidation: dict[str, Decimal] = {}
        self._default_leverage = leverage
        self._by_id = {wire.market_id(m): m for m in venue.markets.values()}
        self._trigger_types: dict[str, str] = {}
        self._stops: list[str] = []
        self._stop_of_child: dict[str, Order] = {}
        self._finished: set[str] = set()  # stops seen fired or cancelled: never looked up again
        self.routes: dict[tuple[str, str], Callable[[Params], Any]] = {
            ("GET", "/api/v5/public/time"): lambda _p: wire.envelope([{"ts": str(wire.now_ms())}]),
            ("GET", "/api/v5/public/instruments"): self.instruments,
            ("GET", "/api/v5/public/mark-price"): self.mark_price,
            # Plain ccxt loads currencies with credentials (the gateway turns it off).
            ("GET", "/api/v5/asset/currencies"): lambda _p: wire.envelope([]),
            ("GET", "/api/v5/account/config"): self.config,
            ("GET", "/api/v5/account/positions"): self.positions,
            ("GET", "/api/v5/trade/orders-pending"): self.orders_pending,
            ("GET", "/api/v5/trade/order"): self.get_order,
            ("POST", "/api/v5/trade/batch-orders"): self.place_order,
            ("POST", "/api/v5/trade/order"): self.place_order,
            ("POST", "/api/v5/trade/cancel-order"): self.cancel_order,
            ("GET", "/api/v5/trade/orders-algo-pending"): self.algos_pending,
            ("GET", "/api/v5/trade/order-algo"): self.get_algo,
            ("POST", "/api/v5/trade/order-algo"): self.place_algo,
            ("POST", "/api/v5/trade/cancel-algos"): self.cancel_algo,
            ("GET", "/api/v5/trade/fills-history"): self.fills,
            ("GET", "/api/v5/trade/fills"): self.fills,
            ("GET", "/api/v5/account/bills-archive"): self.bills,
            ("GET", "/api/v5/account/balance"): lambda _p: wire.envelope(
                [wire.balance_json(self.venue.balance())]),
            ("GET", "/api/v5/account/bills"): self.bills,
        }

    def sync(self) -> None:
        """Learn which order each fired stop placed (it carries the stop's algo ids). An open
        stop has not fired and a finished one never changes, so only stops neither open nor
        seen finished are looked up (each look-up walks every market, which at 1,000 stops on
        1,000 markets made every request slow)."""
        open_ids = set()
        for order in self.venue.open_stop_orders():
            open_ids.add(order.id)
            if order.id not in self._trigger_types:
                self._trigger_types[order.id] = "last"
                self._stops.append(order.id)
        for stop_id in [s for s in self._stops if s not in open_ids and s not in self._finished]:
            stop = self._find(stop_id, stop=True)
            if stop is None:
                continue
            if stop.triggered_order_id is not None:
                self._stop_of_child[stop.triggered_order_id] = stop
            self._finished.add(stop_id)

    # --- helpers -------------------------------------------------------------------------------

    @property
    def hedge(self) -> bool:
        return self.venue.mode is PositionMode.HEDGE

    def _market(self, params: Params, *, required: bool = True) -> Market | None:
        inst = params.get("instId")
        if not inst:
            if required:
                raise wire.error(wire.PARAM_ERROR, "Parameter instId can not be empty")
            return None
        market = self._by_id.get(inst)
        if market is None:
            raise wire.error(wire.NO_INSTRUMENT, f"Instrument ID {inst} does not exist")
        return market

    def _find(self, order_id: str, *, stop: bool) -> Order | None:
        for symbol in self.venue.markets:
            order = self.venue.find_order(symbol, order_id=order_id, stop=stop)
            if order is not None:
                return order
        return None

    def _order(self, order: Order) -> dict[str, Any]:
        market = self.venue.markets[order.symbol]
        stop = self._stop_of_child.get(order.id)
        fee = sum((f.fee for f in self.venue.fills if f.order_id == order.id), ZERO)
        algo = (stop.id, stop.client_order_id or "") if stop is not None else None
        return wire.order_json(order, wire.market_id(market), self.replay.avg_price(order.id),
                               fee, market.settle, order.client_order_id or "", algo)

    def _algo(self, stop: Order) -> dict[str, Any]:
        market = self.venue.markets[stop.symbol]
        child = self._find(stop.triggered_order_id, stop=False) if stop.triggered_order_id \
            else None
        return wire.algo_json(stop, wire.market_id(market), child,
                              self.replay.avg_price(child.id if child else None),
                              stop.client_order_id or "", self._trigger_types.get(stop.id, "last"))

    def _pos_side(self, params: Params, side: OrderSide) -> Side | None:
        text = params.get("posSide") or "net"
        if self.hedge:
            if text not in ("long", "short"):
                raise wire.order_error(wire.WRONG_POS_SIDE, "Parameter posSide error")
            return Side(text)
        if text != "net":
            raise wire.order_error(51000, "Parameter posSide error")
        return None

    def _client_id(self, params: Params, key: str, symbol: str, *, stop: bool) -> str | None:
        client_id = params.get(key) or None
        if client_id is None:
            return None
        if not _CLIENT_ID.match(client_id):
            raise wire.order_error(wire.PARAM_ERROR, f"Parameter {key} error")
        if any(self.venue.find_order(symbol, client_order_id=client_id, stop=s)
               for s in (False, True)):
            raise wire.order_error(wire.DUPLICATE_CLIENT_ID, f"Duplicated {key}")
        return client_id

    @staticmethod
    def _side(params: Params) -> OrderSide:
        text = params.get("side")
        if text not in ("buy", "sell"):
            raise wire.order_error(wire.PARAM_ERROR, "Parameter side error")
        return OrderSide(text)

    @staticmethod
    def _page(rows: list[tuple[str, dict[str, Any]]], params: Params) -> list[dict[str, Any]]:
        """Newest first; ``after`` = an id: only older rows; at most ``limit`` (100) rows."""
        limit = int(params.get("limit") or PAGE)
        if not 1 <= limit <= PAGE:
            raise wire.error(wire.PARAM_ERROR, "Parameter limit error")
        rows = sorted(rows, key=lambda row: int(row[0]), reverse=True)
        after = params.get("after")
        if after:
            rows = [row for row in rows if int(row[0]) < int(after)]
        return [row[1] for row in rows[:limit]]

    # --- public and account --------------------------------------------------------------------

    def instruments(self, params: Params) -> dict[str, Any]:
        if params.get("instType") != "SWAP":
            return wire.envelope([])
        return wire.envelope([wire.instrument(m) for m in self._by_id.values()])

    def mark_price(self, params: Params) -> dict[str, Any]:
        markets = [m for m in [self._market(params, required=False)] if m is not None] or list(
            self._by_id.values())
        return wire.envelope([{"instType": "SWAP", "instId": wire.market_id(m),
                               "markPx": num(self.venue.mark(m.symbol)), "ts": str(wire.now_ms())}
                              for m in markets])

    def config(self, _params: Params) -> dict[str, Any]:
        return wire.envelope([{
            "uid": "44705892343619584", "mainUid": "44705892343619584", "acctLv": "2",
            "acctStpMode": "cancel_maker", "posMode": "long_short_mode" if self.hedge
            else "net_mode", "autoLoan": False, "greeksType": "PA", "level": "Lv1",
            "levelTmp": "", "ctIsoMode": "automatic", "mgnIsoMode": "automatic",
            "roleType": "0", "traderInsts": [], "spotRoleType": "0", "spotTraderInsts": [],
            "opAuth": "0", "kycLv": "3", "label": "positionbot", "ip": "", "perm":
            "read_only,trade", "liquidationGear": "-1", "enableSpotBorrow": False,
            "spotBorrowAutoRepay": False, "type": "0"}])

    def positions(self, params: Params) -> dict[str, Any]:
        wanted = set((params.get("instId") or "").split(",")) - {""}
        rows = []
        for position in self.venue.positions():
            market = self.venue.markets[position.symbol]
            inst = wire.market_id(market)
            if wanted and inst not in wanted:
                continue
            rows.append(wire.position_json(
                position, inst, hedge=self.hedge,
                leverage=self.leverage.get(position.symbol, self._default_leverage),
                liquidation=self.liquidation.get(position.symbol), settle=market.settle))
        return wire.envelope(rows)

    # --- ordinary orders -----------------------------------------------------------------------

    def orders_pending(self, params: Params) -> dict[str, Any]:
        market = self._market(params, required=False)
        orders = [o for o in self.venue.open_orders() if market is None or o.symbol == market.symbol]
        return wire.envelope(self._page([(o.id, self._order(o)) for o in orders], params))

    def get_order(self, params: Params) -> dict[str, Any]:
        market = self._market(params)
        assert market is not None
        order_id, client_id = params.get("ordId"), params.get("clOrdId")
        if not order_id and not client_id:
            raise wire.error(wire.PARAM_ERROR, "Either parameter ordId or clOrdId is required")
        order = self.venue.find_order(market.symbol, order_id=order_id or None,
                                      client_order_id=None if order_id else client_id)
        if order is None:
            raise wire.error(wire.ORDER_NOT_FOUND, "Order does not exist")
        return wire.envelope([self._order(order)])

    def place_order(self, params: Params) -> dict[str, Any]:
        market = self._market(params)
        assert market is not None
        kind = params.get("ordType")
        if kind not in ("market", "limit"):
            raise wire.order_error(wire.PARAM_ERROR, "Parameter ordType error")
        side = self._side(params)
        position_side = self._pos_side(params, side)
        client_id = self._client_id(params, "clOrdId", market.symbol, stop=False)
        reduce_only = params.get("reduceOnly") == "true" and not self.hedge
        try:
            order = self.venue.place_order(
                market.symbol, side, _decimal(params, "sz"),
                price=_decimal(params, "px") if kind == "limit" else None,
                reduce_only=reduce_only, position_side=position_side, client_order_id=client_id)
        except OrderRejectedError as exc:
            raise _refusal(str(exc), client_id) from exc
        return wire.envelope([{"clOrdId": client_id or "", "ordId": order.id, "tag": "",
                               "ts": str(wire.now_ms()), "sCode": "0", "sMsg": "Order placed"}])

    def cancel_order(self, params: Params) -> dict[str, Any]:
        market = self._market(params)
        assert market is not None
        order_id, client_id = params.get("ordId"), params.get("clOrdId")
        order = self.venue.find_order(market.symbol, order_id=order_id or None,
                                      client_order_id=None if order_id else client_id)
        if order is None or order.status is not OrderStatus.OPEN:
            raise wire.order_error(wire.CANCEL_FAILED, "Order cancellation failed as the order "
                                   "has been filled, canceled or does not exist",
                                   ordId=order_id or "", clOrdId=client_id or "")
        self.venue.cancel_order(order.symbol, order.id)
        return wire.envelope([{"clOrdId": order.client_order_id or "", "ordId": order.id,
                               "ts": str(wire.now_ms()), "sCode": "0", "sMsg": ""}])

    # --- algo orders (stop losses) -------------------------------------------------------------

    def algos_pending(self, params: Params) -> dict[str, Any]:
        kinds = set((params.get("ordType") or "").split(","))
        if kinds == {""}:
            raise wire.error(wire.PARAM_ERROR, "Parameter ordType can not be empty")
        market = self._market(params, required=False)
        stops = [o for o in self.venue.open_stop_orders() if "conditional" in kinds
                 and (market is None or o.symbol == market.symbol)]
        return wire.envelope(self._page([(o.id, self._algo(o)) for o in stops], params))

    def get_algo(self, params: Params) -> dict[str, Any]:
        algo_id, client_id = params.get("algoId"), params.get("algoClOrdId")
        if not algo_id and not client_id:
            raise wire.error(wire.PARAM_ERROR, "Either parameter algoId or algoClOrdId is "
                                               "required")
        stop = None
        for symbol in self.venue.markets:
            stop = stop or self.venue.find_order(
                symbol, order_id=algo_id or None,
                client_order_id=None if algo_id else client_id, stop=True)
        if stop is None:
            raise wire.error(wire.ORDER_NOT_FOUND, "Order does not exist")
        return wire.envelope([self._algo(stop)])

    def place_algo(self, params: Params) -> dict[str, Any]:
        market = self._market(params)
        assert market is not None
        if params.get("ordType") != "conditional" or not params.get("slTriggerPx") \
                or params.get("slOrdPx") != "-1" or params.get("tpTriggerPx"):
            raise wire.order_error(wire.PARAM_ERROR, "fake OKX: only market stop losses "
                                   "(ordType conditional, slOrdPx -1) are served")
        side = self._side(params)
        position_side = self._pos_side(params, side)
        if position_side is None and params.get("reduceOnly") != "true":
            raise wire.order_error(wire.PARAM_ERROR, "fake OKX: net-mode stop losses must be "
                                   "reduce-only")
        client_id = self._client_id(params, "algoClOrdId", market.symbol, stop=True)
        try:
            stop = self.venue.place_stop(market.symbol, side, _decimal(params, "sz"),
                                         _decimal(params, "slTriggerPx"),
                                         position_side=position_side, client_order_id=client_id)
        except OrderRejectedError as exc:
            raise _refusal(str(exc), client_id, side=side) from exc
        self._trigger_types[stop.id] = params.get("slTriggerPxType") or "last"
        self._stops.append(stop.id)
        return wire.envelope([{"algoId": stop.id, "clOrdId": "", "algoClOrdId": client_id or "",
                               "sCode": "0", "sMsg": "", "tag": ""}])

    def cancel_algo(self, params: Params) -> dict[str, Any]:
        market = self._market(params)
        assert market is not None
        algo_id = params.get("algoId") or ""
        stop = self.venue.find_order(market.symbol, order_id=algo_id, stop=True)
        if stop is None or stop.status is not OrderStatus.OPEN:
            raise wire.order_error(wire.CANCEL_FAILED, "Cancellation failed as the order "
                                   "does not exist or has been completed", algoId=algo_id)
        self.venue.cancel_order(stop.symbol, stop.id, stop=True)
        return wire.envelope([{"algoId": stop.id, "sCode": "0", "sMsg": ""}])

    # --- fills ---------------------------------------------------------------------------------

    def fills(self, params: Params) -> dict[str, Any]:
        if params.get("instType") not in (None, "", "SWAP"):
            return wire.envelope([])
        market = self._market(params, required=False)
        begin, end = _int(params, "begin"), _int(params, "end")
        rows = []
        for fill in self.venue.fills:
            stamp = int(fill.timestamp.timestamp() * 1000)
            if (market is not None and fill.symbol != market.symbol) or (
                    begin is not None and stamp < begin) or (end is not None and stamp > end):
                continue
            rows.append((fill.id, self._fill(fill)))
        return wire.envelope(self._page(rows, params))

    def bills(self, params: Params) -> dict[str, Any]:
        """Funding bills (``type=8``), newest first; OKX's ``limit`` is at most 100."""
        if params.get("type") not in (None, "", "8"):
            return wire.envelope([])
        market = self._market(params, required=False)
        rows = [(r.id, wire.funding_bill(r.id, wire.market_id(self.venue.markets[r.symbol]),
                                         self.venue.markets[r.symbol].settle, r.amount,
                                         int(r.at.timestamp() * 1000)))
                for r in self.venue.income.rows(type=IncomeType.FUNDING_FEE)
                if market is None or r.symbol == market.symbol]
        return wire.envelope(self._page(rows, params))

    def _fill(self, fill: Fill) -> dict[str, Any]:
        market = self.venue.markets[fill.symbol]
        order = self.venue.find_order(fill.symbol, order_id=fill.order_id)
        cost = fill.amount * market.contract_size * fill.price
        maker = fill.fee == cost * self.venue.maker_fee_rate != cost * self.venue.taker_fee_rate
        return wire.fill_json(fill, wire.market_id(market),
                              (order.client_order_id or "") if order else "", int(fill.id),
                              self.replay.pnl.get(fill.id, ZERO), maker, market.settle,
                              self.venue.mark(fill.symbol))


def _refusal(message: str, client_id: str | None, *, side: OrderSide | None = None) -> WireError:
    if message.startswith("-2022"):
        return wire.order_error(wire.REDUCE_ONLY_REFUSED, "Order failed because you don't have "
                                "any positions in this direction for this contract to reduce "
                                "or close.", clOrdId=client_id or "")
    if message.startswith("-2021"):
        if side is OrderSide.BUY:
            return wire.order_error(51279, "SL trigger price must be greater than the last price")
        return wire.order_error(51280, "SL trigger price must be less than the last price")
    return wire.order_error(wire.PARAM_ERROR, f"Parameter error: {message}",
                            clOrdId=client_id or "")


def _bad_order_param(key: str) -> Exception:
    return wire.order_error(wire.PARAM_ERROR, f"Parameter {key} error")


def _bad_param(key: str) -> Exception:
    return wire.error(wire.PARAM_ERROR, f"Parameter {key} error")


def _decimal(params: Params, key: str) -> Decimal:
    return positive_decimal(params, key, _bad_order_param)


def _int(params: Params, key: str) -> int | None:
    return optional_int(params, key, _bad_param)
