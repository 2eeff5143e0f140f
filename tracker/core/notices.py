"""Every push the product sends, as one frozen dataclass per kind, and their storage form.

A notice carries exact values (``Decimal``, ``datetime``, ``timedelta``, enums); the outbox
stores it as its kind plus its fields as JSON (decimals and times as strings), and ``decode``
gives back the same typed notice, so the renderer never parses strings.

To add a kind: add its ``NoticeKind`` (``models.py``), a frozen dataclass here with
``kind: ClassVar[NoticeKind]`` deriving from ``NoticeBase`` (or ``TradeNotice`` when it is about
one trade) using only the field types ``encode`` knows, list it in ``Notice`` and ``_KINDS``,
then give it a body and a summary in ``bot/render/notices.py``. A field added to an existing
kind needs a default: rows already in the outbox lack it.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar

from positionbot.tracker.core.models import NoticeKind, Side, Source


class CloseReason(StrEnum):
    """Why a trade closed, as stored on the trade and said in its push."""

    CLOSED = "closed"  # on the exchange, by hand or by another tool
    STOP_LOSS = "stop_loss"
    BY_BOT = "bot_close"  # the trader closed it from the chat
    DUST = "dust"  # shrank below the dust threshold
    FLIPPED = "flipped"


@dataclass(frozen=True, slots=True, kw_only=True)
class NoticeBase:
    """What every notice has: the account it concerns and a key that makes it unique."""

    kind: ClassVar[NoticeKind]
    account: str
    dedupe_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeNotice(NoticeBase):
    """A notice about one trade."""

    trade_id: int
    symbol: str
    side: Side
    source: Source


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionNotice(TradeNotice):
    """A change of a position's size, with the figures of the trade after it."""

    size_before: Decimal
    size_after: Decimal
    price: Decimal | None
    estimated: bool  # the fills did not explain it: price and P&L are estimates
    avg_entry: Decimal
    realized_pnl: Decimal  # of this change, net of its fees
    fees: Decimal
    trade_realized_pnl: Decimal  # of the whole trade so far
    stop_loss: Decimal | None
    notional: Decimal  # for the quiet-below-notional preference


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionOpened(PositionNotice):
    kind: ClassVar[NoticeKind] = NoticeKind.OPENED
    # A round trip folded into the open between two looks: what it closed and at what price.
    closed: Decimal = Decimal(0)
    exit_price: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionIncreased(PositionNotice):
    kind: ClassVar[NoticeKind] = NoticeKind.INCREASED
    # A partial close folded into the net add between two looks: what it closed, at what price.
    closed: Decimal = Decimal(0)
    exit_price: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionDecreased(PositionNotice):
    kind: ClassVar[NoticeKind] = NoticeKind.DECREASED
    by_bot: bool = False  # a partial close the trader sent from the chat


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionClosed(PositionNotice):
    kind: ClassVar[NoticeKind] = NoticeKind.CLOSED
    reason: CloseReason
    pnl_pct: Decimal  # the close's P&L against the closed size's entry value
    held: timedelta
    funding: Decimal = Decimal(0)  # the trade's funding so far, inside its realized P&L


@dataclass(frozen=True, slots=True, kw_only=True)
class StopLossHit(PositionClosed):
    kind: ClassVar[NoticeKind] = NoticeKind.STOP_LOSS_HIT


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionFlipped(PositionClosed):
    """The old trade closed and a new one opened on the other side."""

    kind: ClassVar[NoticeKind] = NoticeKind.FLIPPED
    new_trade_id: int
    new_side: Side
    new_size: Decimal
    new_entry: Decimal
    # What the new trade booked before the look that saw it: its opening fees, and the P&L of
    # any part of it closed again in the same fills (net of fees); it has no push of its own.
    new_realized_pnl: Decimal = Decimal(0)
    new_fees: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class StopNotice(TradeNotice):
    price: Decimal | None  # the stop's trigger price
    size: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class StopLossPlaced(StopNotice):
    kind: ClassVar[NoticeKind] = NoticeKind.STOP_LOSS_PLACED
    order_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StopLossFailed(StopNotice):
    kind: ClassVar[NoticeKind] = NoticeKind.STOP_LOSS_FAILED
    error: str
    unconfirmed: bool = False  # the exchange left the create's outcome unknown: being checked
    # Not a fault: the stop's price is already crossed, so it waits for the price to come back.
    # Says who found it crossed ("mark M", or the exchange's reason); empty for a real failure.
    crossed_by: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StopLossCleared(StopNotice):
    kind: ClassVar[NoticeKind] = NoticeKind.STOP_LOSS_CLEARED
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StopLossRemoved(StopNotice):
    """Someone cancelled the stop on the exchange by hand."""

    kind: ClassVar[NoticeKind] = NoticeKind.STOP_LOSS_REMOVED


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingCancelled(TradeNotice):
    kind: ClassVar[NoticeKind] = NoticeKind.PENDING_CANCELLED
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeUnreachable(NoticeBase):
    kind: ClassVar[NoticeKind] = NoticeKind.EXCHANGE_UNREACHABLE
    failures: int  # consecutive failed syncs (0: the stream is down, polling goes on)
    error: str
    last_success: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeRecovered(NoticeBase):
    kind: ClassVar[NoticeKind] = NoticeKind.EXCHANGE_RECOVERED
    down_for: timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class Startup(NoticeBase):
    kind: ClassVar[NoticeKind] = NoticeKind.STARTUP
    accounts: tuple[str, ...]
    open_trades: int
    pending_trades: int
    unclean_stop: bool  # the last run was killed or crashed
    fresh_record: bool = False  # the database held no record: the bot's stops are reconciled


@dataclass(frozen=True, slots=True, kw_only=True)
class Watchdog(NoticeBase):
    kind: ClassVar[NoticeKind] = NoticeKind.WATCHDOG
    job: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Stopped(NoticeBase):
    kind: ClassVar[NoticeKind] = NoticeKind.STOPPED
    accounts: tuple[str, ...]
    reason: str
    open_trades: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyReport(NoticeBase):
    """The day's realized P&L (in its main settle currency) and the open positions'."""

    kind: ClassVar[NoticeKind] = NoticeKind.DAILY_REPORT
    day: str  # the local date, ISO
    currency: str
    net: Decimal  # price P&L + funding - fees
    price: Decimal
    fees: Decimal
    funding: Decimal
    closes: int
    wins: int
    open_positions: int
    unrealized: Decimal


Notice = (
    PositionOpened | PositionIncreased | PositionDecreased | PositionClosed | StopLossHit
    | PositionFlipped | StopLossPlaced | StopLossFailed | StopLossCleared | StopLossRemoved
    | PendingCancelled | ExchangeUnreachable | ExchangeRecovered | Startup | Watchdog | Stopped
    | DailyReport
)
_KINDS: dict[str, type[NoticeBase]] = {cls.kind.value: cls for cls in typing.get_args(Notice)}


def trade_id_of(notice: Notice) -> int | None:
    return notice.trade_id if isinstance(notice, TradeNotice) else None


def notional_of(notice: Notice) -> Decimal | None:
    return notice.notional if isinstance(notice, PositionNotice) else None


class NoticeDecodeError(ValueError):
    """Stored fields that are not a notice this version knows."""


_FIELD_TYPES: dict[type[NoticeBase], dict[str, Any]] = {}  # one entry per kind


def _field_types(cls: type[NoticeBase]) -> dict[str, Any]:
    """The fields a kind stores; resolved once per kind (resolving the hints costs 20 times
    the encoding itself, paid by every notice a busy cycle writes)."""
    known = _FIELD_TYPES.get(cls)
    if known is None:
        hints = typing.get_type_hints(cls)
        known = _FIELD_TYPES[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)
                                     if f.name not in ("account", "dedupe_key")}
    return known


def _to_json(value: object) -> object:
    if value is None or isinstance(value, (bool, int, str)):
        return value  # (a StrEnum is a str)
    if isinstance(value, (Decimal, datetime)):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, timedelta):
        return str(Decimal(str(value.total_seconds())))
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    raise TypeError(f"a notice field cannot hold {type(value).__name__}")


def encode(notice: Notice) -> tuple[str, str]:
    """The kind and the fields as compact JSON: decimals, times and durations as strings."""
    fields = {name: _to_json(getattr(notice, name)) for name in _field_types(type(notice))}
    return notice.kind.value, json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def _from_json(tp: Any, raw: object) -> object:
    if isinstance(tp, types.UnionType):  # only ``X | None`` is used
        if raw is None:
            return None
        (tp,) = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is tuple:
        (item,) = {a for a in typing.get_args(tp) if a is not Ellipsis}
        if not isinstance(raw, list):
            raise TypeError("expected a list")
        return tuple(_from_json(item, v) for v in raw)
    if tp is bool or tp is int:
        if type(raw) is not tp:
            raise TypeError(f"expected {tp.__name__}")
        return raw
    if not isinstance(raw, str):
        raise TypeError("expected a string")
    if tp is Decimal:
        return Decimal(raw)
    if tp is datetime:
        return datetime.fromisoformat(raw)
    if tp is timedelta:
        return timedelta(seconds=float(Decimal(raw)))
    if isinstance(tp, type) and issubclass(tp, StrEnum):
        return tp(raw)
    if tp is str:
        return raw
    raise TypeError(f"unsupported field type {tp!r}")


def decode(kind: str, account: str, dedupe_key: str, fields: str) -> Notice:
    """The typed notice an outbox row stores; ``NoticeDecodeError`` when it is not one."""
    cls = _KINDS.get(kind)
    if cls is None:
        raise NoticeDecodeError(f"unknown notice kind {kind!r}")
    try:
        raw = json.loads(fields)
        if not isinstance(raw, dict):
            raise TypeError("the fields are not an object")
        optional = {f.name for f in dataclasses.fields(cls)
                    if f.default is not dataclasses.MISSING}  # added later: older rows lack it
        values = {name: _from_json(tp, raw[name]) for name, tp in _field_types(cls).items()
                  if name in raw or name not in optional}
        notice = cls(account=account, dedupe_key=dedupe_key, **values)
    except (KeyError, TypeError, ValueError, InvalidOperation) as err:
        raise NoticeDecodeError(f"{kind} notice unreadable: {err!r}") from None
    return typing.cast(Notice, notice)
