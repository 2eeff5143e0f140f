"""Inline keyboards: the next obvious thing to do after reading a message."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from positionbot.bot import callbacks
from positionbot.bot.symbols import short_name
from positionbot.tracker.core.models import Trade

MAX_TRADE_ROWS = 8  # per-trade button rows on a listing; more would bury the message


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def listing_keyboard(trades: Sequence[Trade]) -> InlineKeyboardMarkup:
    """Under /positions: stop loss and close per trade, then refresh (in place) and sync."""
    rows = [
        [
            _button(f"🛑 SL {short_name(t)}", callbacks.stop_menu(t.id)),
            _button(f"✖ Close {short_name(t)}", callbacks.close(t.id)),
        ]
        for t in trades[:MAX_TRADE_ROWS]
    ]
    rows.append([
        _button("🔄 Refresh", callbacks.refresh_positions()),
        _button("⟳ Sync now", callbacks.sync()),
    ])
    return InlineKeyboardMarkup(rows)


def trade_push_keyboard(trade_id: int, account: str) -> InlineKeyboardMarkup:
    """Under a push about a live trade."""
    return InlineKeyboardMarkup([
        [_button("🛑 Stop loss", callbacks.stop_menu(trade_id)),
         _button("✖ Close", callbacks.close(trade_id))],
        [_button("📊 Positions", callbacks.list_positions()),
         _button("⟳ Sync now", callbacks.sync(account))],
    ])


def info_keyboard(account: str | None) -> InlineKeyboardMarkup:
    """Under a push that concerns an account rather than one live trade."""
    return InlineKeyboardMarkup([[
        _button("📊 Positions", callbacks.list_positions()),
        _button("⟳ Sync now", callbacks.sync(account)),
    ]])


def stop_menu_keyboard(
    trade_id: int, choices: Sequence[tuple[str, str]], has_stop: bool
) -> InlineKeyboardMarkup:
    """Preset stop prices as (label, price) buttons, plus "off" when a stop is set."""
    row = [_button(label, callbacks.stop_set(trade_id, price)) for label, price in choices]
    rows = [row[i:i + 3] for i in range(0, len(row), 3)]
    if has_stop:
        rows.append([_button("Remove stop loss", callbacks.stop_set(trade_id, "off"))])
    return InlineKeyboardMarkup(rows)


def choose_trade_keyboard(choices: Sequence[tuple[Trade, str | None]]) -> InlineKeyboardMarkup:
    """Which trade did the user mean? A (trade, stop value) press applies that value;
    a (trade, None) press opens the trade's stop-loss menu."""
    rows = []
    for trade, value in choices[:MAX_TRADE_ROWS * 2]:
        label = f"{trade.symbol} {trade.side.value} · {trade.account}"
        if value is None:
            data = callbacks.stop_menu(trade.id)
        else:
            data = callbacks.stop_set(trade.id, value)
            label += "" if value == "off" else f" → {value}"
        rows.append([_button(label, data)])
    return InlineKeyboardMarkup(rows)
