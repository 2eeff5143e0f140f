"""The engine's ports: the exchange gateway it drives (and the errors it may raise) and the
record store it writes through.

Gateways retry transient faults themselves within their own caps; whatever they raise
has already exhausted those retries. The store is injected by the wiring, so the engine
never imports an implementation of either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from positionbot.tracker.core.fills import FillCursor
from positionbot.tracker.core.funding import FundingPayment
from positionbot.tracker.core.models import (
    Balance,
    Fill,
    Market,
    Order,
    PositionSnapshot,
    Side,
    SyncState,
    Trade,
)
from positionbot.tracker.core.records import WriteBatch


class ExchangeError(Exception):
    """Base of every error a gateway raises; ``reason`` is what the trader is told (the
    exchange's own words and code, short), the message what the log keeps."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class TransientExchangeError(ExchangeError):
    """Network error, timeout, 5xx or rate limit that outlived the retries."""


class OrderOutcomeUnknownError(TransientExchangeError):
    """An order create whose outcome the exchange left unknown and the look-ups by client id
    have not settled: the order may exist or appear later; it must not be sent again."""

    def __init__(self, message: str, client_order_id: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


class PermanentExchangeError(ExchangeError):
    """Authentication, permission, bad symbol: retrying cannot help."""


class OrderRejectedError(PermanentExchangeError):
    """The exchange refused an order (invalid, insufficient funds, would trigger now...)."""


class StopPriceCrossedError(OrderRejectedError):
    """The exchange refused a stop because the price is already past it (it would trigger at
    once): the same news as the bot's own crossed check, not a fault to retry now."""


class ExchangeGateway(Protocol):
    """What the tracker needs from one exchange account."""

    account: str
    calls: int  # exchange requests made so far; the tracker reads deltas per cycle

    async def markets(self) -> Mapping[str, Market]:
        """Markets by unified symbol, loaded once and cached (refresh is the gateway's job)."""
        ...

    async def fetch_positions(self) -> PositionSnapshot:
        """Every non-zero position of the account in one call (or one per settle coin)."""
        ...

    async def fetch_open_orders(self, symbols: Sequence[str] = ()) -> list[Order]:
        """Ordinary (non-conditional) open orders: resting bot entries and manual orders.

        One call without a symbol where the exchange allows it; otherwise one call per symbol
        of interest (``symbols``), the only orders the caller needs then."""
        ...

    async def fetch_open_stop_orders(self) -> list[Order]:
        """Open conditional orders (stop losses). On Binance these live in the Algo service."""
        ...

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None,
        client_order_id: str | None = None, stop: bool = False,
    ) -> Order | None:
        """One order by id or client id, or None when the exchange does not know it."""
        ...

    async def fetch_mark_price(self, symbol: str) -> Decimal | None:
        """The symbol's current mark price (market entries are previewed and checked at it)."""
        ...

    async def fetch_fills(self, symbol: str, since: datetime) -> list[Fill]:
        """The account's fills on ``symbol`` at or after ``since``, oldest first."""
        ...

    async def fetch_funding(self, since: datetime) -> list[FundingPayment]:
        """The account's funding payments at or after ``since``, oldest first, from its income
        history (Binance: ``GET /fapi/v1/income?incomeType=FUNDING_FEE``), each with the
        exchange's own id so booking it twice is impossible. Costly on some exchanges: the
        caller polls it rarely."""
        ...

    async def fetch_balance(self) -> Balance:
        """The account's futures wallet in its settle currency (USDT first where several)."""
        ...

    async def place_stop_loss(
        self, symbol: str, position_side: Side, amount: Decimal, trigger_price: Decimal,
        client_order_id: str, hedge: bool,
    ) -> Order:
        """A reduce-only stop-market order closing ``amount`` of the ``position_side`` position."""
        ...

    async def place_entry(
        self, symbol: str, side: Side, amount: Decimal, price: Decimal | None,
        client_order_id: str, hedge: bool,
    ) -> Order:
        """An opening order: market when ``price`` is None, otherwise a resting limit."""
        ...

    async def place_reduce(
        self, symbol: str, position_side: Side, amount: Decimal, client_order_id: str, hedge: bool,
    ) -> Order:
        """A reduce-only market order closing ``amount`` of the ``position_side`` position."""
        ...

    async def cancel_order(self, symbol: str, order_id: str, *, stop: bool = False) -> None:
        """Cancel an order; an order that is already gone is not an error."""
        ...

    async def close(self) -> None:
        """Release sessions."""
        ...


@runtime_checkable
class PositionsBySymbol(Protocol):
    """A gateway that can list the positions of a few symbols only (optional capability)."""

    async def fetch_positions_of(self, symbols: Sequence[str]) -> PositionSnapshot:
        """The positions on ``symbols`` only, for verifying a suspected close cheaply."""
        ...


@dataclass(frozen=True, slots=True)
class FillListing:
    """Fills of several symbols from one listing of the account's fills: for each symbol in
    ``fills`` (oldest first), every fill at or after ``complete_from`` is there."""

    fills: Mapping[str, Sequence[Fill]]
    complete_from: datetime


@runtime_checkable
class FillsAcrossSymbols(Protocol):
    """A gateway that can list fills of many symbols at once (optional capability)."""

    async def fetch_fills_listing(self, symbols: Sequence[str],
                                  since: datetime) -> FillListing | None:
        """Fills on ``symbols`` since ``since`` from the account's listing across symbols, as
        far as a few pages reach; None where the exchange lists fills per symbol only."""
        ...


class RecordStore(Protocol):
    """Durable records: every write is one ``WriteBatch`` applied in one transaction.

    Kept this narrow so that another implementation (PostgreSQL, several workers) can follow
    without engine changes.
    """

    @property
    def location(self) -> str:
        """Where the records live, for error messages (a file path, a DSN without secrets)."""
        ...

    @property
    def unclean_shutdown(self) -> bool:
        """The previous owner died without closing the store (its last actions are unsure)."""
        ...

    @property
    def started_fresh(self) -> bool:
        """The store holds no record yet (new, or started fresh on purpose): orders the bot
        left on the exchange are not in it."""
        ...

    def new_trade_id(self) -> int: ...

    async def load_active_trades(self, account: str | None = None) -> list[Trade]: ...

    async def get_sync_state(self, account: str) -> SyncState: ...

    async def get_fill_cursor(self, account: str, symbol: str) -> FillCursor | None: ...

    async def trades_for_funding(self, account: str, since: datetime) -> list[Trade]:
        """The account's trades open at some moment at or after ``since`` (funding owners)."""
        ...

    async def commit(self, batch: WriteBatch) -> None: ...
