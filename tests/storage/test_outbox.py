"""The notification outbox: fan-out, dedupe, per-chat order, retries and permanent failures."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal

from positionbot.storage import Store, WriteBatch
from positionbot.storage.store import fixed_recipients
from positionbot.tracker.core.notices import decode
from tests.storage.factories import T0, make_notice, make_trade
from tests.support.notices import STOP_CLEARED

CHATS = (111, -1002, 333)


async def commit_notices(store: Store, *keys: str, chats: tuple[int, ...] = CHATS) -> None:
    store.recipients = fixed_recipients(chats)
    await store.commit(WriteBatch("main", notices=[make_notice(k) for k in keys]))


async def test_each_notice_fans_out_to_one_row_per_chat(store: Store) -> None:
    opened = make_notice("main:1:1", trade_id=1, notional=Decimal("32500.0500"),
                         symbol="BTC/USDT:USDT «<b>» ✓")
    cleared = make_notice("main:1:2", STOP_CLEARED, trade_id=1)
    store.recipients = fixed_recipients(CHATS)
    await store.commit(WriteBatch("main", trades=[make_trade(1)], notices=[opened, cleared]))

    rows = await store.pending_notifications(T0)

    assert [(r.dedupe_key, r.chat_id) for r in rows] == [
        ("main:1:1", 111), ("main:1:1", -1002), ("main:1:1", 333),
        ("main:1:2", 111), ("main:1:2", -1002), ("main:1:2", 333),
    ]
    first = rows[0]
    assert (first.kind, first.account, first.trade_id) == ("opened", "main", 1)
    assert decode(first.kind, first.account, first.dedupe_key, first.fields) == opened
    assert decode(rows[3].kind, "main", "main:1:2", rows[3].fields) == cleared
    assert first.notional is not None and str(first.notional) == "32500.0500"
    assert (first.created_at, first.next_attempt_at, first.attempts) == (T0, T0, 0)
    assert rows[3].notional is None
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert await store.outbox_backlog() == 6


async def test_notices_without_chats_write_nothing(store: Store) -> None:
    await commit_notices(store, "k1", chats=())

    assert await store.outbox_backlog() == 0


async def test_a_replayed_notice_is_queued_once_per_chat(store: Store) -> None:
    await commit_notices(store, "k1", "k2")
    await commit_notices(store, "k1", "k2")
    await commit_notices(store, "k2", "k3", chats=(111, 444))

    rows = await store.pending_notifications(T0)

    assert sorted((r.dedupe_key, r.chat_id) for r in rows) == sorted(
        [(k, c) for k in ("k1", "k2") for c in CHATS] + [("k3", 111), ("k2", 444), ("k3", 444)]
    )


async def test_a_notice_already_delivered_is_not_queued_again(store: Store) -> None:
    await commit_notices(store, "k1", chats=(111,))
    [row] = await store.pending_notifications(T0)
    await store.mark_sent(row.id, message_id=77, at=T0)

    await commit_notices(store, "k1", chats=(111,))

    assert await store.pending_notifications(T0 + timedelta(days=1)) == []
    with sqlite3.connect(store.path) as raw:
        assert raw.execute(
            "SELECT status, message_id, sent_at, attempts FROM notifications"
        ).fetchall() == [("sent", 77, "2025-01-02T03:04:05.678901+00:00", 1)]


async def test_rows_come_out_in_commit_order_and_respect_the_limit(store: Store) -> None:
    await commit_notices(store, "a", "b", chats=(1, 2))
    await commit_notices(store, "c", chats=(2, 1))

    rows = await store.pending_notifications(T0, limit=5)

    assert [(r.dedupe_key, r.chat_id) for r in rows] == [
        ("a", 1), ("a", 2), ("b", 1), ("b", 2), ("c", 2),
    ]


async def test_rows_are_not_due_before_they_exist(store: Store) -> None:
    await commit_notices(store, "k1")

    assert await store.pending_notifications(T0 - timedelta(microseconds=1)) == []


async def test_retry_waits_for_its_time_and_holds_back_that_chat_only(store: Store) -> None:
    await commit_notices(store, "k1", "k2", chats=(1, 2))
    first_for_chat_1 = (await store.pending_notifications(T0))[0]
    retry_at = T0 + timedelta(seconds=30)

    await store.mark_retry(first_for_chat_1.id, "429 retry_after=30", retry_at)

    # Chat 1's later row must not overtake the one waiting for its retry.
    due = await store.pending_notifications(T0 + timedelta(seconds=29))
    assert [(r.dedupe_key, r.chat_id) for r in due] == [("k1", 2), ("k2", 2)]
    assert await store.outbox_backlog() == 4

    due = await store.pending_notifications(retry_at)
    assert [(r.dedupe_key, r.chat_id) for r in due] == [("k1", 1), ("k1", 2), ("k2", 1), ("k2", 2)]
    retried = due[0]
    assert (retried.attempts, retried.next_attempt_at) == (1, retry_at)

    await store.mark_retry(retried.id, "network down " * 500, retry_at + timedelta(seconds=60))
    [again] = [r for r in await store.pending_notifications(retry_at + timedelta(seconds=60))
               if r.id == retried.id]
    assert again.attempts == 2
    with sqlite3.connect(store.path) as raw:
        [(error,)] = raw.execute("SELECT error FROM notifications WHERE id = ?", (retried.id,))
    assert error.startswith("network down") and len(error) <= 1000


async def test_a_failed_row_is_never_returned_again(store: Store) -> None:
    await commit_notices(store, "k1", "k2", chats=(1,))
    blocked, following = await store.pending_notifications(T0)

    await store.mark_failed(blocked.id, "Forbidden: bot was blocked by the user", T0)
    await store.mark_retry(blocked.id, "late retry must not revive it", T0)
    await store.mark_sent(blocked.id, 5, T0)

    later = T0 + timedelta(days=365)
    assert [r.id for r in await store.pending_notifications(later)] == [following.id]
    assert await store.outbox_backlog() == 1
    with sqlite3.connect(store.path) as raw:
        assert raw.execute(
            "SELECT status, attempts, error, message_id FROM notifications WHERE id = ?",
            (blocked.id,),
        ).fetchone() == ("failed", 1, "Forbidden: bot was blocked by the user", None)


async def test_sent_rows_leave_the_backlog(store: Store) -> None:
    await commit_notices(store, "k1", "k2")
    rows = await store.pending_notifications(T0)

    for row in rows[:4]:
        await store.mark_sent(row.id, None, T0)

    assert [r.id for r in await store.pending_notifications(T0)] == [r.id for r in rows[4:]]
    assert await store.outbox_backlog() == 2
