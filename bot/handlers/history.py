"""/history: the most recently closed trades."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from telegram import Update
from telegram.ext import CommandHandler

from positionbot.bot.handlers.common import reply_html
from positionbot.bot.handlers.context import App, BotContext
from positionbot.bot.render.listing import render_history
from positionbot.storage.reports import funding_totals
from positionbot.tracker.core.models import Trade, TradeStatus

MAX_HISTORY = 50
_COUNT = re.compile(r"[1-9][0-9]?")


async def _history(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    args = context.args or []
    count = 10
    if args:
        if len(args) > 1 or not _COUNT.fullmatch(args[0]) or int(args[0]) > MAX_HISTORY:
            await reply_html(message, f"Usage: <code>/history</code> or "
                                      f"<code>/history N</code> with N from 1 to {MAX_HISTORY}")
            return
        count = int(args[0])
    services = context.services
    done = (TradeStatus.CLOSED, TradeStatus.CANCELLED)
    accounts = services.accounts_for(message.chat.id)
    if len(accounts) == len(services.tracker.accounts):
        trades = await services.store.list_trades(statuses=done, limit=count, by_close=True)
    else:  # a chat limited to some accounts: the latest of those, merged by close time
        trades = [t for a in accounts
                  for t in await services.store.list_trades(a, done, count, by_close=True)]
        trades.sort(key=_closed_first, reverse=True)
        del trades[count:]
    funding = await funding_totals(services.store, [t.id for t in trades])
    await reply_html(message, render_history(trades, services.clock(), funding))


def _closed_first(trade: Trade) -> tuple[datetime, int]:
    return trade.closed_at or trade.opened_at or datetime.min.replace(tzinfo=UTC), trade.id


def register(application: App) -> None:
    application.add_handler(CommandHandler("history", _history))
