"""An in-process venue with Binance USDⓈ-M semantics, for tests, the demo and benchmarks.

It is synchronous state plus the controls a test or the demo needs: moving the mark, trading by
hand as a human would in the exchange app, forcing fills, seeding positions in bulk and
injecting faults that the next gateway calls consume (see ``tracker.paper_gateway``).
Stop orders live apart from ordinary orders, as in Binance's Algo service.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.models import (
    ZERO,
    Balance,
    Fill,
    Market,
    Order,
    OrderSide,
    OrderStatus,
    Position,
    PositionMode,
    PositionSnapshot,
    Side,
)
from positionbot.tracker.engine.ports import OrderRejectedError, StopPriceCrossedError
from positionbot.tracker.exchange.paper.events import (
    EventHub,
    FillBooked,
    OrderChanged,
    PositionChanged,
)
from positionbot.tracker.exchange.paper.faults import Fault, FaultPlan
from positionbot.tracker.exchange.paper.fills import FillLog
from positionbot.tracker.exchange.paper.income import Income, IncomeLedger, IncomeType
from positionbot.tracker.exchange.paper.ledger import PositionLedger, leg_view
from positionbot.tracker.exchange.paper.orders import OrderBook
from positionbot.tracker.exchange.paper.rules import (
    check_amount,
    check_client_id,
    check_notional,
    check_position_side,
    check_price,
    is_closing,
    limit_crossed,
    stop_crossed,
)

_ORDER_ID_BASE = 8_000_000_000  # Binance-like ids; fixed width keeps them increasing as strings
_FILL_ID_BASE = 500_000_000


class PaperExchange:
    """One simulated account: positions, orders, fills and marks.

    The clock must return timezone-aware UTC datetimes; it stamps orders, fills and snapshots.
    """

    def __init__(
        self, markets: Iterable[Market], *, mode: PositionMode = PositionMode.ONE_WAY,
        clock: Callable[[], datetime] = utc_now, taker_fee_rate: Decimal = Decimal("0.0004"),
        maker_fee_rate: Decimal = Decimal("0.0002"), marks: Mapping[str, Decimal] | None = None,
        max_fills: int = 100_000, max_orders: int = 100_000,
        wallet: Decimal = Decimal(10_000), leverage: Decimal | None = None,
    ) -> None:
        self.mode = mode
        self.taker_fee_rate = taker_fee_rate
        self.maker_fee_rate = maker_fee_rate
        self._clock = clock
        self._markets = {market.symbol: market for market in markets}
        self._marks: dict[str, Decimal] = {}
        self._ledger = PositionLedger(mode)
        self.events = EventHub()  # what a user-data stream would report, as it happens
        self._orders = OrderBook(max_orders, lambda o: self.events.emit(OrderChanged(o)))
        self._fills = FillLog(max_fills)
        self.income = IncomeLedger(3 * max_fills)  # realized P&L, commissions and funding
        self.initial_wallet = wallet
        self.leverage = leverage
        self._views: dict[tuple[str, Side], Position] = {}
        self._positions_cache: tuple[Position, ...] | None = None
        self.faults = FaultPlan()  # consumed by the gateway calls
        self._order_seq = itertools.count(1)
        self._fill_seq = itertools.count(1)
        for symbol, price in (marks or {}).items():
            self.set_mark(symbol, price)

    @property
    def markets(self) -> Mapping[str, Market]:
        return MappingProxyType(self._markets)

    def now(self) -> datetime:
        return self._clock()

    def mark(self, symbol: str) -> Decimal:
        if symbol not in self._marks:
            raise KeyError(f"no mark price set for {symbol}")
        return self._marks[symbol]

    def set_mark(self, symbol: str, price: Decimal) -> list[Fill]:
        """Move the mark, then fire the stops and fill the resting limits it crosses."""
        self._market(symbol)
        if price <= ZERO:
            raise ValueError(f"mark price must be positive, got {price}")
        self._marks[symbol] = price
        self._refresh_views(symbol)
        fills: list[Fill] = []
        for order_id in self._orders.open_ids(symbol):
            order = self._orders.get(order_id)
            if order is None or order.status is not OrderStatus.OPEN:
                continue
            if order.is_stop and order.trigger_price is not None:
                if stop_crossed(order.side, order.trigger_price, price):
                    fills += self._trigger_stop(order)
            elif order.price is not None and limit_crossed(order.side, order.price, price):
                fills += self._trade(order, order.amount - order.filled, order.price, maker=True)
        return fills

    def positions(self) -> list[Position]:
        """Every non-zero position, with unrealized P&L at the current mark."""
        return list(self._position_tuple())

    def snapshot(self) -> PositionSnapshot:
        return PositionSnapshot(self._position_tuple(), self.mode, self._clock())

    @property
    def fills(self) -> list[Fill]:
        """The most recent ``max_fills`` fills, oldest first."""
        return self._fills.all()

    def fills_since(self, symbol: str, since: datetime) -> list[Fill]:
        return self._fills.since(symbol, since)

    def realized_pnl(self, symbol: str | None = None) -> Decimal:
        """Gross P&L of all fills so far (fees not deducted), like Binance's realizedPnl."""
        return self._fills.realized_pnl(symbol)

    def fees_paid(self, symbol: str | None = None) -> Decimal:
        return self._fills.fees(symbol)

    def apply_funding(self, symbol: str, rate: Decimal) -> list[Income]:
        """Settle one funding round on ``symbol`` at ``rate`` and the current mark: longs pay
        shorts when it is positive."""
        mark = self.mark(symbol)
        legs = [(side, leg) for side in Side if (leg := self._ledger.leg(symbol, side))]
        return self.income.book_funding(symbol, legs, mark, self._markets[symbol].contract_size,
                                        rate, self._clock(), self.mode is PositionMode.HEDGE)

    def balance(self) -> Balance:
        """Wallet (start plus every income row), unrealized P&L and margin at ``leverage``."""
        positions = self._position_tuple()
        unrealized = sum((p.unrealized_pnl or ZERO for p in positions), ZERO)
        margin = (sum((p.notional for p in positions), ZERO) / self.leverage
                  if self.leverage else ZERO)
        wallet = self.initial_wallet + self.income.total
        return Balance("USDT", wallet, wallet + min(unrealized, ZERO) - margin, unrealized, margin)

    def place_order(
        self, symbol: str, side: OrderSide, amount: Decimal, *, price: Decimal | None = None,
        reduce_only: bool = False, position_side: Side | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """A market order (``price`` None) or a limit; a limit already crossed fills as a taker."""
        market = self._market(symbol)
        check_position_side(self.mode, position_side)
        check_client_id(self._orders.by_client_id(client_order_id) if client_order_id else None,
                        client_order_id)
        check_amount(market, amount)
        if price is not None:
            check_price(market, price)
        closing = is_closing(side, reduce_only, position_side)
        reducible = self._ledger.reducible(symbol, side, position_side)
        if closing and reducible == ZERO:
            raise OrderRejectedError("-2022 ReduceOnly Order is rejected: no position to reduce")
        mark = self._marks.get(symbol)
        quoted = price if price is not None else mark
        if quoted is None:
            raise OrderRejectedError(f"no mark price for {symbol}: cannot fill a market order")
        if not closing:
            check_notional(market, amount, quoted)
        if price is None and closing:
            amount = min(amount, reducible)
        order = Order(
            id=self._next_order_id(), symbol=symbol, side=side,
            type="market" if price is None else "limit", status=OrderStatus.OPEN, amount=amount,
            price=price, reduce_only=reduce_only, position_side=position_side,
            client_order_id=client_order_id, timestamp=self._clock(),
        )
        self._orders.add(order)
        if mark is not None and limit_crossed(side, quoted, mark):
            self._trade(order, amount, mark, maker=False)
        return self._order(order.id)

    def place_stop(
        self, symbol: str, side: OrderSide, amount: Decimal, trigger_price: Decimal, *,
        position_side: Side | None = None, client_order_id: str | None = None,
    ) -> Order:
        """A reduce-only stop-market order; it is checked for a position only when it fires."""
        market = self._market(symbol)
        check_position_side(self.mode, position_side)
        if position_side is not None and side is not position_side.exit_order_side:
            raise OrderRejectedError(f"-4061 a {side} stop cannot close a {position_side} position")
        check_client_id(self._orders.by_client_id(client_order_id) if client_order_id else None,
                        client_order_id)
        check_amount(market, amount)
        check_price(market, trigger_price, "trigger price")
        mark = self._marks.get(symbol)
        if mark is not None and stop_crossed(side, trigger_price, mark):
            raise StopPriceCrossedError("-2021 Order would immediately trigger")
        order = Order(
            id=self._next_order_id(), symbol=symbol, side=side, type="stop_market",
            status=OrderStatus.OPEN, amount=amount, trigger_price=trigger_price,
            reduce_only=True, is_stop=True, position_side=position_side,
            client_order_id=client_order_id, timestamp=self._clock(),
        )
        self._orders.add(order)
        return order

    def cancel_order(self, symbol: str, order_id: str, *, stop: bool = False) -> None:
        """Cancel an open order; unknown, finished or wrong-kind ids are left alone."""
        order = self._orders.get(order_id)
        if order is None or order.symbol != symbol or order.is_stop != stop:
            return
        self._cancel(order)

    def find_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None,
        stop: bool = False,
    ) -> Order | None:
        """One order by id (preferred) or client id, among stops or ordinary orders only."""
        if order_id is not None:
            order = self._orders.get(order_id)
        elif client_order_id is not None:
            order = self._orders.by_client_id(client_order_id)
        else:
            raise ValueError("find_order needs an order_id or a client_order_id")
        if order is None or order.symbol != symbol or order.is_stop != stop:
            return None
        return order

    def open_orders(self) -> list[Order]:
        return self._orders.open_orders(stops=False)

    def open_stop_orders(self) -> list[Order]:
        return self._orders.open_orders(stops=True)

    # --- what a human does in the exchange app -----------------------------------------------

    def manual_order(
        self, symbol: str, side: OrderSide, amount: Decimal, *, price: Decimal | None = None,
        reduce_only: bool = False, position_side: Side | None = None,
    ) -> Order:
        return self.place_order(symbol, side, amount, price=price, reduce_only=reduce_only,
                                position_side=position_side)

    def manual_cancel(self, order_id: str) -> None:
        """Cancel any open order, stops included; finished orders stay as they are."""
        order = self._orders.get(order_id)
        if order is None:
            raise KeyError(f"unknown order {order_id}")
        self._cancel(order)

    def fill_order(self, order_id: str, amount: Decimal | None = None) -> list[Fill]:
        """Force a (partial) fill of a resting limit at its price, as a maker."""
        order = self._orders.get(order_id)
        if order is None or order.type != "limit" or order.status is not OrderStatus.OPEN:
            raise ValueError(f"{order_id} is not a resting limit order")
        remaining = order.amount - order.filled
        amount = remaining if amount is None else amount
        if not ZERO < amount <= remaining:
            raise ValueError(f"fill amount {amount} outside (0, {remaining}]")
        if amount % self._market(order.symbol).amount_step != ZERO:
            raise ValueError(f"fill amount {amount} is not a multiple of the amount step")
        assert order.price is not None
        return self._trade(order, amount, order.price, maker=True)

    def open_position(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> None:
        """Set a position directly, without a fill (bulk seeding); also sets a missing mark."""
        self._market(symbol)
        if size < ZERO or price <= ZERO:
            raise ValueError("size must be >= 0 and price > 0")
        self._ledger.set(symbol, side, size, price)
        self._marks.setdefault(symbol, price)
        self._refresh_views(symbol)
        self._emit_position(symbol)

    def inject(self, *faults: Fault | str) -> None:
        """Queue faults for the next gateway calls, one call each, in order."""
        self.faults.inject(*faults)

    def set_order_rejection(self, reason: str | None, *, count: int | None = None) -> None:
        """Make gateway order placements fail with ``reason``: the next ``count`` of them, or all
        until cleared with ``None``. Manual orders are never affected."""
        self.faults.reject_orders(reason, count=count)

    def _market(self, symbol: str) -> Market:
        market = self._markets.get(symbol)
        if market is None:
            raise OrderRejectedError(f"-1121 Invalid symbol {symbol}")
        return market

    def _order(self, order_id: str) -> Order:
        order = self._orders.get(order_id)
        assert order is not None, order_id
        return order

    def _cancel(self, order: Order) -> None:
        if order.status is OrderStatus.OPEN:
            self._orders.update(replace(order, status=OrderStatus.CANCELED))

    def _trigger_stop(self, stop: Order) -> list[Fill]:
        """A fired stop becomes a new market order; with nothing left to close it expires."""
        reducible = self._ledger.reducible(stop.symbol, stop.side, stop.position_side)
        if reducible == ZERO:
            self._orders.update(replace(stop, status=OrderStatus.EXPIRED))
            return []
        child = Order(
            id=self._next_order_id(), symbol=stop.symbol, side=stop.side, type="market",
            status=OrderStatus.OPEN, amount=min(stop.amount, reducible), reduce_only=True,
            position_side=stop.position_side, timestamp=self._clock(),
        )
        self._orders.add(child)
        fired = replace(stop, status=OrderStatus.TRIGGERED, triggered_order_id=child.id)
        self._orders.update(fired)
        return self._trade(child, child.amount, self._marks[stop.symbol], maker=False)

    def _trade(self, order: Order, amount: Decimal, price: Decimal, *, maker: bool) -> list[Fill]:
        """Fill up to ``amount`` of ``order`` (a closing order only what it can close) and
        settle its status; a closing order with nothing left to close expires."""
        closing = is_closing(order.side, order.reduce_only, order.position_side)
        if closing:
            amount = min(amount, self._ledger.reducible(order.symbol, order.side,
                                                        order.position_side))
        fills = [self._book_fill(order, amount, price, maker)] if amount > ZERO else []
        filled = order.filled + amount
        if filled == order.amount:
            status = OrderStatus.CLOSED
        elif closing and self._ledger.reducible(
                order.symbol, order.side, order.position_side) == ZERO:
            status = OrderStatus.EXPIRED
        else:
            status = OrderStatus.OPEN
        self._orders.update(replace(order, filled=filled, status=status))
        return fills

    def _book_fill(self, order: Order, amount: Decimal, price: Decimal, maker: bool) -> Fill:
        market = self._markets[order.symbol]
        pnl = self._ledger.apply(order.symbol, order.side, amount, price, market.contract_size,
                                 order.position_side)
        rate = self.maker_fee_rate if maker else self.taker_fee_rate
        fee = amount * market.contract_size * price * rate
        fill = Fill(
            id=str(_FILL_ID_BASE + next(self._fill_seq)), order_id=order.id, symbol=order.symbol,
            side=order.side, amount=amount, price=price, fee=fee, timestamp=self._clock(),
            position_side=order.position_side,
        )
        self._fills.add(fill, pnl)
        if pnl != ZERO:
            self.income.add(Income(f"{fill.id}-P", order.symbol, IncomeType.REALIZED_PNL, pnl,
                                   fill.timestamp, order.position_side))
        self.income.add(Income(f"{fill.id}-C", order.symbol, IncomeType.COMMISSION, -fee,
                               fill.timestamp, order.position_side))
        self._refresh_views(order.symbol)
        self.events.emit(FillBooked(fill))
        self._emit_position(order.symbol)
        return fill

    def _emit_position(self, symbol: str) -> None:
        legs = []
        for side in Side:
            leg = self._ledger.leg(symbol, side)
            legs.append((side, leg.size, leg.entry) if leg else (side, ZERO, ZERO))
        self.events.emit(PositionChanged(symbol, tuple(legs)))

    def _next_order_id(self) -> str:
        return str(_ORDER_ID_BASE + next(self._order_seq))

    def _refresh_views(self, symbol: str) -> None:
        """Rebuild the cached ``Position`` of both legs of ``symbol``, so a positions fetch is a
        copy of ready objects rather than n constructions."""
        self._positions_cache = None
        for side in Side:
            leg = self._ledger.leg(symbol, side)
            if leg is None:
                self._views.pop((symbol, side), None)
            else:
                self._views[(symbol, side)] = leg_view(
                    symbol, side, leg, self._markets[symbol].contract_size,
                    self._marks.get(symbol), self.leverage)

    def _position_tuple(self) -> tuple[Position, ...]:
        if self._positions_cache is None:
            self._positions_cache = tuple(self._views.values())
        return self._positions_cache
