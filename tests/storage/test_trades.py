"""Trades, events, sync state and fill cursors survive a round trip through a real SQLite file."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from positionbot.storage import FillCursor, Store, WriteBatch
from positionbot.tracker.core.models import Side, Source, SyncState, Trade, TradeStatus
from tests.storage.factories import T0, make_event, make_trade

IST = timezone(timedelta(hours=5, minutes=30))

FULL_TRADE = Trade(
    id=7,
    account="binance-main",
    symbol="ETH/USDT:USDT",
    side=Side.SHORT,
    status=TradeStatus.CLOSED,
    source=Source.BOT,
    size=Decimal("123456789.123456789"),
    avg_entry_price=Decimal("0.1"),
    realized_pnl=Decimal("-1E-8"),
    fees=Decimal("0.00000001"),
    contract_size=Decimal("0.001"),
    entry_order_id="8389765",
    entry_client_order_id="pb-7-entry",
    entry_price_limit=Decimal("3000.50"),
    stop_loss_price=Decimal("3100.0"),
    stop_loss_order_id="sl-9",
    stop_loss_size=Decimal("1E+3"),
    stop_loss_note="price crossed <b>3100</b> ✓",
    close_reason="stop loss hit",
    exchange_entry_price=Decimal("0.10000"),
    event_seq=5,
    created_at=T0,
    opened_at=datetime(2025, 1, 2, 9, 0, 0, 1, tzinfo=IST),
    closed_at=T0 + timedelta(days=3, microseconds=7),
    last_synced_at=T0 + timedelta(days=3, seconds=1),
)


def assert_exactly_equal(got: object, want: object) -> None:
    """Equal field by field, and decimals equal digit for digit (Decimal('0.10') == '0.1')."""
    assert got == want
    assert dataclasses.is_dataclass(want)
    for f in dataclasses.fields(want):
        value, expected = getattr(got, f.name), getattr(want, f.name)
        if isinstance(expected, Decimal):
            assert isinstance(value, Decimal)
            assert value.as_tuple() == expected.as_tuple(), f.name
        if isinstance(expected, datetime):
            assert value.tzinfo is UTC, f.name


async def test_every_trade_field_round_trips_exactly(store: Store) -> None:
    await store.commit(WriteBatch("binance-main", trades=[FULL_TRADE]))

    got = await store.get_trade(7)

    assert got is not None
    assert_exactly_equal(got, FULL_TRADE)


async def test_optional_trade_fields_round_trip_as_none(store: Store) -> None:
    bare = Trade(id=1, account="a", symbol="X/USDT:USDT", side=Side.LONG,
                 status=TradeStatus.PENDING, source=Source.BOT)

    await store.commit(WriteBatch("a", trades=[bare]))

    got = await store.get_trade(1)
    assert got is not None
    assert_exactly_equal(got, bare)
    assert got.created_at is None and got.stop_loss_price is None and got.has_pending_stop is False


async def test_trade_columns_use_spec_names_and_exact_text(store: Store) -> None:
    await store.commit(WriteBatch("binance-main", trades=[FULL_TRADE]))

    with sqlite3.connect(store.path) as raw:
        row = raw.execute(
            "SELECT current_position_size, typeof(current_position_size), avg_entry_price, "
            "realized_pnl, stop_loss_price, status, side, source, opened_at FROM trades"
        ).fetchone()
    assert row == (
        "123456789.123456789", "text", "0.1", "-1E-8", "3100.0",
        "position_closed", "short", "bot", "2025-01-02T03:30:00.000001+00:00",
    )


async def test_get_trade_of_unknown_id_is_none(store: Store) -> None:
    assert await store.get_trade(404) is None


async def test_upsert_replaces_every_column(store: Store) -> None:
    await store.commit(WriteBatch("binance-main", trades=[FULL_TRADE]))
    replacement = make_trade(7, account="binance-main", status=TradeStatus.OPEN,
                             size=Decimal("2"), stop_loss_price=None, closed_at=None)

    await store.commit(WriteBatch("binance-main", trades=[replacement]))

    got = await store.get_trade(7)
    assert got is not None
    assert_exactly_equal(got, replacement)
    assert got.close_reason is None and got.stop_loss_order_id is None
    assert [t.id for t in await store.list_trades()] == [7]


async def test_values_that_cannot_be_stored_exactly_are_refused(store: Store) -> None:
    naive = make_trade(1, created_at=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="naive datetime"):
        await store.commit(WriteBatch("main", trades=[naive]))
    with pytest.raises(ValueError, match="non-finite"):
        await store.commit(WriteBatch("main", trades=[make_trade(2, size=Decimal("NaN"))]))

    assert await store.list_trades() == []


async def test_load_active_trades_returns_pending_and_open_by_id(store: Store) -> None:
    trades = [
        make_trade(5, status=TradeStatus.OPEN, account="b"),
        make_trade(3, status=TradeStatus.PENDING),
        make_trade(4, status=TradeStatus.CLOSED),
        make_trade(1, status=TradeStatus.OPEN),
        make_trade(2, status=TradeStatus.CANCELLED),
    ]
    await store.commit(WriteBatch("main", trades=trades))

    assert [t.id for t in await store.load_active_trades()] == [1, 3, 5]
    assert [t.id for t in await store.load_active_trades("main")] == [1, 3]
    assert await store.load_active_trades("nobody") == []


async def test_list_trades_newest_first_with_filters_and_limit(store: Store) -> None:
    statuses = [TradeStatus.CLOSED, TradeStatus.OPEN, TradeStatus.CANCELLED]
    trades = [
        make_trade(i, status=statuses[i % 3], account="a" if i % 2 else "b")
        for i in range(1, 31)
    ]
    await store.commit(WriteBatch("a", trades=trades))

    assert [t.id for t in await store.list_trades()] == list(range(30, 10, -1))
    assert [t.id for t in await store.list_trades(limit=3)] == [30, 29, 28]
    done = [TradeStatus.CLOSED, TradeStatus.CANCELLED]
    assert [t.id for t in await store.list_trades("a", done, limit=4)] == [29, 27, 23, 21]
    assert [t.id for t in await store.list_trades(statuses=iter([TradeStatus.OPEN]), limit=2)] == [
        28, 25,
    ]
    assert await store.list_trades(statuses=[]) == []


async def test_events_are_returned_by_seq_and_round_trip(store: Store) -> None:
    trade = make_trade(1, event_seq=3)
    events = [
        make_event(1, 3, kind="closed", size_before=Decimal("0.7"), size_after=Decimal(0),
                   price=None, realized_pnl=Decimal("-12.345678901"), estimated=True,
                   note="no fills: mark price", at=datetime(2025, 1, 3, tzinfo=IST)),
        make_event(1, 1),
        make_event(1, 2, kind="increased", size_before=Decimal("0.5"),
                   size_after=Decimal("0.70"), price=Decimal("1E-8")),
    ]
    await store.commit(WriteBatch("main", trades=[trade], events=events))

    got = await store.events_for_trade(1)

    assert [e.seq for e in got] == [1, 2, 3]
    for got_event, want in zip(got, sorted(events, key=lambda e: e.seq), strict=True):
        assert_exactly_equal(got_event, want)
    assert await store.events_for_trade(2) == []


async def test_events_are_append_only(store: Store) -> None:
    await store.commit(WriteBatch("main", trades=[make_trade(1)], events=[make_event(1, 1)]))

    with sqlite3.connect(store.path) as raw:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE position_events SET kind = 'closed'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM position_events")

    assert [e.kind for e in await store.events_for_trade(1)] == ["opened"]


async def test_event_of_unknown_trade_is_refused(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await store.commit(WriteBatch("main", events=[make_event(99, 1)]))


async def test_sync_state_defaults_round_trips_and_upserts(store: Store) -> None:
    assert await store.get_sync_state("main") == SyncState("main")

    failing = SyncState("main", last_attempt_at=T0, last_success_at=T0 - timedelta(minutes=5),
                        consecutive_failures=3, last_error="timeout after 10 s", alerted=True)
    await store.commit(WriteBatch("main", sync_state=failing))
    await store.commit(WriteBatch("bybit", sync_state=SyncState("bybit", last_attempt_at=T0)))
    assert_exactly_equal(await store.get_sync_state("main"), failing)

    recovered = SyncState("main", last_attempt_at=T0, last_success_at=T0)
    await store.commit(WriteBatch("main", sync_state=recovered))

    assert await store.all_sync_states() == [SyncState("bybit", last_attempt_at=T0), recovered]


async def test_fill_cursors_round_trip_per_account_and_symbol(store: Store) -> None:
    assert await store.get_fill_cursor("main", "BTC/USDT:USDT") is None
    first = FillCursor(at=datetime(2025, 1, 2, 8, 0, tzinfo=IST), fill_ids=("f1", "f2"))
    await store.commit(WriteBatch("main", fill_cursors={"BTC/USDT:USDT": first}))
    await store.commit(WriteBatch("other", fill_cursors={
        "BTC/USDT:USDT": FillCursor(at=T0, fill_ids=()),
    }))

    got = await store.get_fill_cursor("main", "BTC/USDT:USDT")
    assert got == first and got is not None and got.at.tzinfo is UTC

    later = FillCursor(at=T0 + timedelta(seconds=1), fill_ids=("f3",))
    await store.commit(WriteBatch("main", fill_cursors={"BTC/USDT:USDT": later}))

    assert await store.get_fill_cursor("main", "BTC/USDT:USDT") == later
    assert await store.get_fill_cursor("other", "BTC/USDT:USDT") == FillCursor(T0, ())
    assert await store.get_fill_cursor("main", "ETH/USDT:USDT") is None


async def test_new_trade_id_counts_past_committed_ids(store: Store) -> None:
    assert [store.new_trade_id(), store.new_trade_id()] == [1, 2]

    await store.commit(WriteBatch("main", trades=[make_trade(100)]))

    assert store.new_trade_id() == 101
