"""The bot's dependencies, and the views of the tracker's state that several commands show."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from telegram import InlineKeyboardMarkup

from positionbot.bot.config import TelegramConfig
from positionbot.bot.handlers.confirmations import STOP_TAP_TTL_S, ConfirmationStore, StopTap
from positionbot.bot.markets_cache import MarketsCache
from positionbot.bot.notifier import Notifier
from positionbot.bot.render.format import esc
from positionbot.bot.render.keyboards import listing_keyboard
from positionbot.bot.render.listing import AccountView, StreamHealth, render_positions
from positionbot.bot.symbols import matching_symbols
from positionbot.storage.store import Store
from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.models import Market, Trade
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.stream_follower import StreamFollower


def stream_health(follower: StreamFollower | None) -> StreamHealth | None:
    if follower is None:
        return None
    return StreamHealth(follower.connected, follower.last_event_at, follower.reconnects_today)


@dataclass(slots=True)
class Services:
    """The bot's dependencies, handed to every handler."""

    tracker: SimplePositionTracker
    store: Store
    telegram: TelegramConfig
    markets_cache: MarketsCache
    cycle_timeout: float = 60.0
    clock: Callable[[], datetime] = utc_now
    started: float = field(default_factory=time.monotonic)
    stop_taps: ConfirmationStore[StopTap] = field(
        default_factory=lambda: ConfirmationStore(ttl=STOP_TAP_TTL_S))
    notifier: Notifier | None = None  # told what a /sl reply said, so the push is not repeated

    @property
    def commands(self) -> TradeCommands:
        return TradeCommands(self.tracker)

    def is_allowed(self, chat_id: int | None, user_id: int | None) -> bool:
        """Members of an allowed chat, or allowed users in any chat; nobody else."""
        return (chat_id is not None and chat_id in self.telegram.allowed_chats) or (
            user_id is not None and user_id in self.telegram.allowed_users
        )

    def accounts_for(self, chat_id: int | None) -> list[str]:
        """The accounts a chat sees and trades (``accounts = [...]`` in its [telegram.chats]
        table; every account by default)."""
        scope = self.telegram.accounts_for(chat_id)
        return [a for a in self.tracker.accounts if scope is None or a in scope]

    async def no_match(self, query: str, chat_id: int | None, what: str) -> str:
        """Why ``query`` names no ``what`` the chat sees: a known symbol without one, or an
        unknown symbol (when the markets are loaded)."""
        symbols: set[str] = set()
        for account in self.accounts_for(chat_id):
            symbols.update(await self.markets(account))
        known = matching_symbols(query, symbols)
        if known:
            return f"No {what} on <b>{esc(', '.join(known[:3]))}</b>."
        if symbols:
            return f"Unknown symbol <b>{esc(query)}</b>."
        return f"No {what} matching <b>{esc(query)}</b>."

    def trades_for(self, chat_id: int | None) -> list[Trade]:
        """Open and pending trades of the accounts this chat sees."""
        return [t for a in self.accounts_for(chat_id) for t in self.tracker.book.active_trades(a)]

    def find_trade(self, chat_id: int | None, trade_id: int) -> Trade | None:
        """An open or pending trade, when this chat may see its account."""
        trade = self.tracker.book.find_active(trade_id)
        if trade is None or trade.account not in self.accounts_for(chat_id):
            return None
        return trade

    async def markets(self, account: str) -> Mapping[str, Market]:
        return await self.markets_cache.get(account)

    async def account_views(self, chat_id: int | None = None) -> list[AccountView]:
        views = []
        for account in self.accounts_for(chat_id):
            trades = self.tracker.book.active_trades(account)
            positions = {t.id: p for t in trades if (p := self.tracker.book.position_for(t))}
            views.append(AccountView(
                account, self.tracker.book.sync_state(account), trades, positions,
                await self.markets(account), self.tracker.book.last_report(account),
                stream_health(self.tracker.streams.get(account)),
                self.tracker.book.failing_since(account),
            ))
        return views

    async def positions_listing(self, chat_id: int | None = None
                                ) -> tuple[str, InlineKeyboardMarkup]:
        views = await self.account_views(chat_id)
        trades = [t for v in views for t in v.trades]
        return render_positions(views, self.clock()), listing_keyboard(trades)
