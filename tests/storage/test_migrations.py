"""Schema migrations carry old records forward."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from positionbot.storage import Store
from positionbot.storage.schema import MIGRATIONS
from positionbot.tracker.core.models import TradeStatus


async def test_a_bot_close_marker_on_an_open_trade_becomes_its_flag(tmp_path: Path) -> None:
    """Before version 3 a close sent from the chat was close_reason='bot_close' on the open
    trade; it becomes close_requested_by_bot, and a closed trade keeps its reason."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as raw:
        for version, statements in enumerate(MIGRATIONS[:2], start=1):
            for statement in statements:
                raw.execute(statement)
            raw.execute(f"PRAGMA user_version = {version}")
        for trade_id, status in ((1, "position_opened"), (2, "position_closed")):
            raw.execute(
                "INSERT INTO trades (id, account, symbol, side, status, source, "
                "current_position_size, avg_entry_price, realized_pnl, fees, contract_size, "
                "close_reason) VALUES (?, 'main', 'BTC/USDT:USDT', 'long', ?, 'bot', '1', '100', "
                "'0', '0', '1', 'bot_close')", (trade_id, status))

    store = await Store.open(path)
    try:
        (still_open,) = await store.load_active_trades("main")
        (closed,) = await store.list_trades(statuses=(TradeStatus.CLOSED,))
    finally:
        await store.close()
    assert still_open.close_requested_by_bot and still_open.close_reason is None
    assert closed.close_reason == "bot_close" and not closed.close_requested_by_bot
