"""``ExchangeGateway`` over a ``PaperExchange``: the tracker's view of the simulated venue.

Every method that would be an HTTP request against a real exchange counts in ``calls`` and
consumes the next injected fault. The paper gateway does not retry: retrying transient faults
is the ccxt gateway's job, so here each injected fault surfaces, as the error it maps to, on the
very call that consumed it. Nothing sleeps, so a "timeout" fails at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from positionbot.tracker.core.funding import FundingPayment
from positionbot.tracker.core.models import Balance, Fill, Market, Order, PositionSnapshot, Side
from positionbot.tracker.engine.ports import (
    OrderRejectedError,
    PermanentExchangeError,
    TransientExchangeError,
)
from positionbot.tracker.exchange.paper.faults import Fault
from positionbot.tracker.exchange.paper.income import IncomeType
from positionbot.tracker.exchange.paper.venue import PaperExchange

_TRANSIENT_MESSAGES = {
    Fault.TIMEOUT: "paper: request timed out",
    Fault.TIMEOUT_AFTER_SUBMIT: "paper: request timed out",
    Fault.UNAVAILABLE: "paper: 503 Service Unavailable",
    Fault.RATE_LIMIT: "paper: 429 Too Many Requests",
}


class PaperGateway:
    def __init__(self, exchange: PaperExchange, account: str = "paper") -> None:
        self.account = account
        self.calls = 0
        self.exchange = exchange
        self._markets_loaded = False

    async def markets(self) -> Mapping[str, Market]:
        """Only the first successful load is a request; later calls read the cache."""
        if not self._markets_loaded:
            fault = self._begin()
            self._end(fault)
            self._markets_loaded = True
        return self.exchange.markets

    async def fetch_positions(self) -> PositionSnapshot:
        fault = self._begin(fetching_positions=True)
        if fault is Fault.EMPTY_POSITIONS:
            return PositionSnapshot((), self.exchange.mode, self.exchange.now())
        snapshot = self.exchange.snapshot()
        self._end(fault)
        return snapshot

    async def fetch_open_orders(self, symbols: Sequence[str] = ()) -> list[Order]:
        fault = self._begin()
        orders = self.exchange.open_orders()
        self._end(fault)
        return orders

    async def fetch_open_stop_orders(self) -> list[Order]:
        fault = self._begin()
        orders = self.exchange.open_stop_orders()
        self._end(fault)
        return orders

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None,
        client_order_id: str | None = None, stop: bool = False,
    ) -> Order | None:
        fault = self._begin()
        order = self.exchange.find_order(symbol, order_id=order_id,
                                         client_order_id=client_order_id, stop=stop)
        self._end(fault)
        return order

    async def fetch_mark_price(self, symbol: str) -> Decimal | None:
        fault = self._begin()
        try:
            mark: Decimal | None = self.exchange.mark(symbol)
        except KeyError:
            mark = None
        self._end(fault)
        return mark

    async def fetch_fills(self, symbol: str, since: datetime) -> list[Fill]:
        fault = self._begin()
        fills = self.exchange.fills_since(symbol, since)
        self._end(fault)
        return fills

    async def fetch_funding(self, since: datetime) -> list[FundingPayment]:
        fault = self._begin()
        rows = self.exchange.income.rows(since, type=IncomeType.FUNDING_FEE)
        self._end(fault)
        return [FundingPayment(r.id, r.symbol, r.amount, r.at, r.position_side) for r in rows]

    async def fetch_balance(self) -> Balance:
        fault = self._begin()
        balance = self.exchange.balance()
        self._end(fault)
        return balance

    async def place_stop_loss(
        self, symbol: str, position_side: Side, amount: Decimal, trigger_price: Decimal,
        client_order_id: str, hedge: bool,
    ) -> Order:
        fault = self._begin_order()
        order = self.exchange.place_stop(
            symbol, position_side.exit_order_side, amount, trigger_price,
            position_side=position_side if hedge else None, client_order_id=client_order_id,
        )
        self._end(fault)
        return order

    async def place_entry(
        self, symbol: str, side: Side, amount: Decimal, price: Decimal | None,
        client_order_id: str, hedge: bool,
    ) -> Order:
        fault = self._begin_order()
        order = self.exchange.place_order(
            symbol, side.entry_order_side, amount, price=price,
            position_side=side if hedge else None, client_order_id=client_order_id,
        )
        self._end(fault)
        return order

    async def place_reduce(
        self, symbol: str, position_side: Side, amount: Decimal, client_order_id: str, hedge: bool,
    ) -> Order:
        fault = self._begin_order()
        order = self.exchange.place_order(
            symbol, position_side.exit_order_side, amount, reduce_only=True,
            position_side=position_side if hedge else None, client_order_id=client_order_id,
        )
        self._end(fault)
        return order

    async def cancel_order(self, symbol: str, order_id: str, *, stop: bool = False) -> None:
        fault = self._begin()
        self.exchange.cancel_order(symbol, order_id, stop=stop)
        self._end(fault)

    async def close(self) -> None:
        """Nothing to release: there is no session."""

    def _begin(self, *, fetching_positions: bool = False) -> Fault | None:
        """Count the request and raise the fault it meets, unless that fault only shows later
        (a lost response, an empty payload): those are returned for the caller to apply."""
        self.calls += 1
        fault = self.exchange.faults.take_fault(fetching_positions=fetching_positions)
        if fault is None or fault in (Fault.TIMEOUT_AFTER_SUBMIT, Fault.EMPTY_POSITIONS):
            return fault
        if fault is Fault.AUTH:
            raise PermanentExchangeError("paper: 401 Invalid API-key, IP, or permissions")
        raise TransientExchangeError(_TRANSIENT_MESSAGES[fault])

    def _begin_order(self) -> Fault | None:
        fault = self._begin()
        reason = self.exchange.faults.take_order_rejection()
        if reason is not None:
            raise OrderRejectedError(reason)
        return fault

    @staticmethod
    def _end(fault: Fault | None) -> None:
        """The request took effect; a lost response still reads as a timeout to the caller."""
        if fault is Fault.TIMEOUT_AFTER_SUBMIT:
            raise TransientExchangeError(_TRANSIENT_MESSAGES[fault])
