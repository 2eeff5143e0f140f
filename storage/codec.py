"""Conversions between domain objects and SQLite rows.

Decimals are stored as their exact ``str`` and read back with ``Decimal(text)``, so no value
ever passes through a float. Datetimes are stored as fixed-width ISO-8601 UTC text, which
keeps them sortable as text and reads them back timezone-aware.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from positionbot.tracker.core import notices
from positionbot.tracker.core.models import PositionEvent, Side, Source, SyncState, Trade, TradeStatus
from positionbot.tracker.core.notices import Notice
from positionbot.tracker.core.records import FillCursor, OutboxRow

Row = Sequence[Any]

# Dict lookups: several times faster than calling the enum, which matters for 10,000 rows.
_SIDES = {m.value: m for m in Side}
_STATUSES = {m.value: m for m in TradeStatus}
_SOURCES = {m.value: m for m in Source}

TRADE_COLUMNS = (
    "id",
    "account",
    "symbol",
    "side",
    "status",
    "source",
    "current_position_size",
    "avg_entry_price",
    "realized_pnl",
    "fees",
    "contract_size",
    "entry_order_id",
    "entry_client_order_id",
    "entry_price_limit",
    "stop_loss_price",
    "stop_loss_order_id",
    "stop_loss_size",
    "stop_loss_note",
    "close_reason",
    "exchange_entry_price",
    "event_seq",
    "created_at",
    "opened_at",
    "closed_at",
    "last_synced_at",
    "close_requested_by_bot",
    "funding",
)

EVENT_COLUMNS = (
    "trade_id",
    "seq",
    "kind",
    "size_before",
    "size_after",
    "price",
    "realized_pnl",
    "fees",
    "estimated",
    "at",
    "note",
)

OUTBOX_COLUMNS = (
    "id",
    "chat_id",
    "kind",
    "account",
    "dedupe_key",
    "fields",
    "trade_id",
    "notional",
    "created_at",
    "attempts",
    "next_attempt_at",
)

SYNC_STATE_COLUMNS = (
    "account",
    "last_attempt_at",
    "last_success_at",
    "consecutive_failures",
    "last_error",
    "alerted",
)


def dec_text(value: Decimal) -> str:
    """Exact text of a finite decimal; NaN and infinities are refused, never stored."""
    if not value.is_finite():
        raise ValueError(f"refusing to store non-finite decimal {value!r}")
    return str(value)


def opt_dec_text(value: Decimal | None) -> str | None:
    return None if value is None else dec_text(value)


def opt_dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def dt_text(value: datetime) -> str:
    """Fixed-width ISO-8601 in UTC; naive datetimes are refused because their zone is a guess."""
    if value.tzinfo is not UTC:
        if value.utcoffset() is None:
            raise ValueError(f"refusing to store naive datetime {value!r}")
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def opt_dt_text(value: datetime | None) -> str | None:
    return None if value is None else dt_text(value)


def opt_dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def trade_row(t: Trade) -> tuple[Any, ...]:
    return (
        t.id,
        t.account,
        t.symbol,
        t.side.value,
        t.status.value,
        t.source.value,
        dec_text(t.size),
        dec_text(t.avg_entry_price),
        dec_text(t.realized_pnl),
        dec_text(t.fees),
        dec_text(t.contract_size),
        t.entry_order_id,
        t.entry_client_order_id,
        opt_dec_text(t.entry_price_limit),
        opt_dec_text(t.stop_loss_price),
        t.stop_loss_order_id,
        opt_dec_text(t.stop_loss_size),
        t.stop_loss_note,
        t.close_reason,
        opt_dec_text(t.exchange_entry_price),
        t.event_seq,
        opt_dt_text(t.created_at),
        opt_dt_text(t.opened_at),
        opt_dt_text(t.closed_at),
        opt_dt_text(t.last_synced_at),
        int(t.close_requested_by_bot),
        dec_text(t.funding),
    )


def trade_from_row(row: Row) -> Trade:
    """Inlined conversions: this runs for every active trade a cycle loads."""
    fromisoformat = datetime.fromisoformat
    (
        trade_id, account, symbol, side, status, source, size, avg_entry_price, realized_pnl,
        fees, contract_size, entry_order_id, entry_client_order_id, entry_price_limit,
        stop_loss_price, stop_loss_order_id, stop_loss_size, stop_loss_note, close_reason,
        exchange_price, event_seq, created_at, opened_at, closed_at, last_synced_at,
        close_requested_by_bot, funding,
    ) = row
    return Trade(
        id=trade_id,
        account=account,
        symbol=symbol,
        side=_SIDES[side],
        status=_STATUSES[status],
        source=_SOURCES[source],
        size=Decimal(size),
        avg_entry_price=Decimal(avg_entry_price),
        realized_pnl=Decimal(realized_pnl),
        fees=Decimal(fees),
        contract_size=Decimal(contract_size),
        entry_order_id=entry_order_id,
        entry_client_order_id=entry_client_order_id,
        entry_price_limit=None if entry_price_limit is None else Decimal(entry_price_limit),
        stop_loss_price=None if stop_loss_price is None else Decimal(stop_loss_price),
        stop_loss_order_id=stop_loss_order_id,
        stop_loss_size=None if stop_loss_size is None else Decimal(stop_loss_size),
        stop_loss_note=stop_loss_note,
        close_reason=close_reason,
        exchange_entry_price=None if exchange_price is None else Decimal(exchange_price),
        event_seq=event_seq,
        created_at=None if created_at is None else fromisoformat(created_at),
        opened_at=None if opened_at is None else fromisoformat(opened_at),
        closed_at=None if closed_at is None else fromisoformat(closed_at),
        last_synced_at=None if last_synced_at is None else fromisoformat(last_synced_at),
        close_requested_by_bot=bool(close_requested_by_bot),
        funding=Decimal(funding),
    )


def event_row(e: PositionEvent) -> tuple[Any, ...]:
    return (
        e.trade_id,
        e.seq,
        e.kind,
        dec_text(e.size_before),
        dec_text(e.size_after),
        opt_dec_text(e.price),
        dec_text(e.realized_pnl),
        dec_text(e.fees),
        int(e.estimated),
        dt_text(e.at),
        e.note,
    )


def event_from_row(row: Row) -> PositionEvent:
    trade_id, seq, kind, size_before, size_after, price, pnl, fees, estimated, at, note = row
    return PositionEvent(
        trade_id=trade_id,
        seq=seq,
        kind=kind,
        size_before=Decimal(size_before),
        size_after=Decimal(size_after),
        price=opt_dec(price),
        realized_pnl=Decimal(pnl),
        fees=Decimal(fees),
        estimated=bool(estimated),
        at=datetime.fromisoformat(at),
        note=note,
    )


def outbox_rows(
    batch_notices: Sequence[Notice], recipients: Callable[[Notice], Sequence[int]], now: str
) -> list[tuple[Any, ...]]:
    """One row per (notice, chat), notice-major so each chat's rows keep the notices' order."""
    rows: list[tuple[Any, ...]] = []
    for n in batch_notices:
        kind, fields = notices.encode(n)
        trade_id, notional = notices.trade_id_of(n), opt_dec_text(notices.notional_of(n))
        rows.extend(
            (chat, n.account, kind, n.dedupe_key, fields, trade_id, notional, now, now)
            for chat in recipients(n)
        )
    return rows


def outbox_from_row(row: Row) -> OutboxRow:
    (
        row_id, chat_id, kind, account, dedupe_key, fields, trade_id, notional, created_at,
        attempts, next_attempt_at,
    ) = row
    return OutboxRow(
        id=row_id,
        chat_id=chat_id,
        kind=kind,
        account=account,
        dedupe_key=dedupe_key,
        fields=fields,
        trade_id=trade_id,
        notional=opt_dec(notional),
        created_at=datetime.fromisoformat(created_at),
        attempts=attempts,
        next_attempt_at=datetime.fromisoformat(next_attempt_at),
    )


def sync_state_row(s: SyncState) -> tuple[Any, ...]:
    return (
        s.account,
        opt_dt_text(s.last_attempt_at),
        opt_dt_text(s.last_success_at),
        s.consecutive_failures,
        s.last_error,
        int(s.alerted),
    )


def sync_state_from_row(row: Row) -> SyncState:
    account, last_attempt_at, last_success_at, failures, last_error, alerted = row
    return SyncState(
        account=account,
        last_attempt_at=opt_dt(last_attempt_at),
        last_success_at=opt_dt(last_success_at),
        consecutive_failures=failures,
        last_error=last_error,
        alerted=bool(alerted),
    )


def fill_cursor_row(account: str, symbol: str, cursor: FillCursor) -> tuple[Any, ...]:
    return (account, symbol, dt_text(cursor.at), json.dumps(list(cursor.fill_ids)))


def fill_cursor_from_row(row: Row) -> FillCursor:
    at, fill_ids = row
    return FillCursor(at=datetime.fromisoformat(at), fill_ids=tuple(json.loads(fill_ids)))
