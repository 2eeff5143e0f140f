"""Plain, immutable domain data shared by the core, the gateways, storage and the bot.

Every amount, price and P&L is a ``Decimal``; sizes are in contracts (what orders use),
and ``contract_size`` converts them to the base asset for notional and P&L.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def opposite(self) -> Side:
        return Side.SHORT if self is Side.LONG else Side.LONG

    @property
    def entry_order_side(self) -> OrderSide:
        return OrderSide.BUY if self is Side.LONG else OrderSide.SELL

    @property
    def exit_order_side(self) -> OrderSide:
        return OrderSide.SELL if self is Side.LONG else OrderSide.BUY


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class PositionMode(StrEnum):
    ONE_WAY = "one_way"
    HEDGE = "hedge"


class TradeStatus(StrEnum):
    PENDING = "pending"
    OPEN = "position_opened"
    CLOSED = "position_closed"
    CANCELLED = "cancelled"


class Source(StrEnum):
    BOT = "bot"
    EXTERNAL = "external"


class OrderStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # fully filled
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    TRIGGERED = "triggered"  # a stop order that fired and became a new order


class ChangeKind(StrEnum):
    OPENED = "opened"
    INCREASED = "increased"
    DECREASED = "decreased"
    CLOSED = "closed"
    FLIPPED = "flipped"


class NoticeKind(StrEnum):
    """Every push the product sends; each can be set on/silent/off per chat."""

    OPENED = "opened"
    INCREASED = "increased"
    DECREASED = "decreased"
    CLOSED = "closed"
    FLIPPED = "flipped"
    STOP_LOSS_PLACED = "stop_loss_placed"
    STOP_LOSS_FAILED = "stop_loss_failed"
    STOP_LOSS_CLEARED = "stop_loss_cleared"
    STOP_LOSS_REMOVED = "stop_loss_removed"  # removed by hand on the exchange
    STOP_LOSS_HIT = "stop_loss_hit"
    PENDING_CANCELLED = "pending_cancelled"
    EXCHANGE_UNREACHABLE = "exchange_unreachable"
    EXCHANGE_RECOVERED = "exchange_recovered"
    STARTUP = "startup"
    WATCHDOG = "watchdog"
    STOPPED = "stopped"  # the process is shutting down (SIGTERM/SIGINT)
    DAILY_REPORT = "daily_report"


@dataclass(frozen=True, slots=True)
class Market:
    symbol: str
    base: str
    quote: str
    settle: str
    contract_size: Decimal = Decimal(1)
    amount_step: Decimal = Decimal("0.001")
    price_tick: Decimal = Decimal("0.01")
    min_amount: Decimal = ZERO
    min_notional: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Position:
    """One position as the exchange reports it, normalised to exact decimals."""

    symbol: str
    side: Side
    size: Decimal  # contracts, always > 0
    entry_price: Decimal
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    contract_size: Decimal = Decimal(1)
    leverage: Decimal | None = None
    margin_mode: str | None = None
    liquidation_price: Decimal | None = None

    @property
    def notional(self) -> Decimal:
        price = self.mark_price if self.mark_price is not None else self.entry_price
        return self.size * self.contract_size * price


@dataclass(frozen=True, slots=True)
class Balance:
    """One account's futures wallet in its settle currency, as the exchange reports it."""

    currency: str
    wallet: Decimal  # deposits plus realized P&L, fees and funding
    available: Decimal | None = None  # what new orders may still use
    unrealized_pnl: Decimal | None = None
    margin_used: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """All positions of one account from a single fetch."""

    positions: tuple[Position, ...]
    mode: PositionMode
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    symbol: str
    side: OrderSide
    type: str  # "market", "limit", "stop_market", ...
    status: OrderStatus
    amount: Decimal
    filled: Decimal = ZERO
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    reduce_only: bool = False
    is_stop: bool = False
    position_side: Side | None = None  # hedge mode only
    client_order_id: str | None = None
    triggered_order_id: str | None = None  # a fired stop's resulting order
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    id: str
    order_id: str
    symbol: str
    side: OrderSide
    amount: Decimal  # contracts
    price: Decimal
    fee: Decimal  # in the settle currency, positive = paid
    timestamp: datetime
    position_side: Side | None = None  # hedge mode only


@dataclass(frozen=True, slots=True)
class Trade:
    """One position lifecycle as recorded in the database."""

    id: int
    account: str
    symbol: str
    side: Side
    status: TradeStatus
    source: Source
    size: Decimal = ZERO  # current_position_size, contracts
    avg_entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO  # net of every fee this trade paid
    fees: Decimal = ZERO
    contract_size: Decimal = Decimal(1)
    entry_order_id: str | None = None
    entry_client_order_id: str | None = None
    entry_price_limit: Decimal | None = None  # limit price of a pending bot entry
    stop_loss_price: Decimal | None = None
    stop_loss_order_id: str | None = None
    stop_loss_size: Decimal | None = None  # size the live stop order covers
    stop_loss_note: str | None = None  # last warning/failure pushed, so it is pushed once
    close_reason: str | None = None  # a closed trade's CloseReason, a cancelled one's why
    exchange_entry_price: Decimal | None = None
    event_seq: int = 0  # number of events written; part of every dedupe key
    created_at: datetime | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    last_synced_at: datetime | None = None
    close_requested_by_bot: bool = False  # the trader closed (part of) it from the chat
    funding: Decimal = ZERO  # funding received (+) or paid (-); already inside realized_pnl

    @property
    def is_open(self) -> bool:
        return self.status is TradeStatus.OPEN

    @property
    def has_pending_stop(self) -> bool:
        return self.stop_loss_price is not None and self.stop_loss_order_id is None


@dataclass(frozen=True, slots=True)
class PositionEvent:
    """Append-only history row: one change of one trade."""

    trade_id: int
    seq: int
    kind: str
    size_before: Decimal
    size_after: Decimal
    price: Decimal | None
    realized_pnl: Decimal
    fees: Decimal
    estimated: bool
    at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class SyncState:
    account: str
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    alerted: bool = False  # an "unreachable" alert is out and awaits its "recovered"
