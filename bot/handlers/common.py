"""What every handler shares: the services, the access rule, and reading the tracker's state."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from positionbot.bot.config import TelegramConfig
from positionbot.bot.markets_cache import MarketsCache
from positionbot.bot.render.format import SAFE_MESSAGE_CHARS, split_message
from positionbot.bot.render.keyboards import listing_keyboard
from positionbot.bot.render.listing import AccountView, render_positions, render_sync_report
from positionbot.storage.store import Store
from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.models import Market
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.engine.runner import SimplePositionTracker

log = logging.getLogger(__name__)

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]
App = Application[Any, Any, Any, Any, Any, Any]


def package_version() -> str:
    try:
        return version("positionbot")
    except PackageNotFoundError:
        return "dev"


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

    @property
    def commands(self) -> TradeCommands:
        return TradeCommands(self.tracker)

    def is_allowed(self, chat_id: int | None, user_id: int | None) -> bool:
        """Members of an allowed chat, or allowed users in any chat; nobody else."""
        return (chat_id is not None and chat_id in self.telegram.allowed_chats) or (
            user_id is not None and user_id in self.telegram.allowed_users
        )

    async def markets(self, account: str) -> Mapping[str, Market]:
        return await self.markets_cache.get(account)

    async def account_views(self) -> list[AccountView]:
        views = []
        for account in self.tracker.accounts:
            trades = self.tracker.book.active_trades(account)
            positions = {t.id: p for t in trades if (p := self.tracker.book.position_for(t))}
            views.append(AccountView(
                account, self.tracker.book.sync_state(account), trades, positions,
                await self.markets(account), self.tracker.book.last_report(account),
            ))
        return views

    async def positions_listing(self) -> tuple[str, InlineKeyboardMarkup]:
        views = await self.account_views()
        trades = [t for v in views for t in v.trades]
        return render_positions(views, self.clock()), listing_keyboard(trades)


def guard(services: Services) -> Handler:
    """A pre-handler that stops every update from outside the allow-list, silently."""

    async def check(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user = update.effective_chat, update.effective_user
        if services.is_allowed(chat.id if chat else None, user.id if user else None):
            return
        log.warning("ignored an update from unauthorized chat %s user %s",
                    chat.id if chat else None, user.id if user else None)
        raise ApplicationHandlerStop

    return check


def fit_one_message(text: str) -> str:
    """A text that fits one message (for edits in place): cut on a line, pointing to more."""
    if len(text) <= SAFE_MESSAGE_CHARS:
        return text
    head = split_message(text, SAFE_MESSAGE_CHARS - 40)[0]
    return f"{head}\n… more in /positions"


async def reply_html(
    message: Message, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> Message:
    """Reply in as many messages as the text needs; the keyboard goes under the last one."""
    parts = split_message(text)
    sent = message
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        sent = await message.reply_text(part, parse_mode=ParseMode.HTML,
                                        reply_markup=keyboard if last else None,
                                        do_quote=False)
    return sent


async def sync_accounts(services: Services, accounts: Sequence[str]) -> tuple[str, str | None]:
    """Run the cycles and render the report; returns (html, the one account or None)."""
    reports = [await services.tracker.run_cycle(account) for account in accounts]
    markets: dict[str, Market] = {}
    for account in accounts:
        markets.update(await services.markets(account))
    return render_sync_report(reports, markets), accounts[0] if len(accounts) == 1 else None
