"""Inline keyboards: the next obvious thing to do after reading a message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from positionbot.bot import callbacks
from positionbot.bot.symbols import short_name
from positionbot.tracker.core.models import Trade

MAX_TRADE_ROWS = 8  # per-trade button rows on a listing; more would bury the message


@dataclass(frozen=True, slots=True)
class Reply:
    """A message to send: its HTML and the buttons under it."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


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
    levels: Sequence[tuple[str, str]], remove_token: str | None
) -> InlineKeyboardMarkup:
    """Preset stop levels as (label, token) buttons, plus "Remove" when a stop is set."""
    row = [_button(label, callbacks.stop_set(token)) for label, token in levels]
    rows = [row[i:i + 3] for i in range(0, len(row), 3)]
    if remove_token is not None:
        rows.append([_button("Remove stop loss", callbacks.stop_set(remove_token))])
    return InlineKeyboardMarkup(rows)


MAX_CHOICE_ROWS = MAX_TRADE_ROWS * 2


def choose_trade_keyboard(
    choices: Sequence[tuple[Trade, tuple[str, str] | None]], *, next_page: int | None = None,
) -> InlineKeyboardMarkup:
    """Which trade did the user mean? A (trade, (what, token)) press applies the stop the token
    stands for; a (trade, None) press opens the trade's stop-loss menu. At most
    ``MAX_CHOICE_ROWS``: the caller says how many more there are, and ``next_page`` (the
    position the next page starts at) adds a button to see them."""
    rows = []
    for trade, offer in choices[:MAX_CHOICE_ROWS]:
        label = f"{trade.symbol} {trade.side.value} · {trade.account}"
        if offer is None:
            data = callbacks.stop_menu(trade.id)
        else:
            what, token = offer
            data = callbacks.stop_set(token)
            label += f" → {what}" if what else ""
        rows.append([_button(label, data)])
    if next_page is not None:
        rows.append([_button("More ▸", callbacks.stop_page(next_page))])
    return InlineKeyboardMarkup(rows)
