"""Telegram handlers, one module per feature; each registers its commands and, with a
``CallbackQueryHandler(pattern=...)``, its own buttons. A press no feature claims (an old or
forged button) still gets a clear answer from the catch-all registered last.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import CallbackQueryHandler, MessageHandler, TypeHandler, filters

from positionbot.bot.handlers import (
    export,
    history,
    pause,
    pnl,
    positions,
    settings,
    start,
    status,
    stop_loss,
    sync,
    trading,
)
from positionbot.bot.handlers.common import guard, reply_html, stale_button
from positionbot.bot.handlers.context import App, BotContext
from positionbot.bot.handlers.services import Services
from positionbot.bot.handlers.start import bot_commands
from positionbot.bot.handlers.trading_desk import TradingDesk

__all__ = ["bot_commands", "register_handlers"]

log = logging.getLogger(__name__)
FEATURES = (start, positions, sync, stop_loss, trading, history, status, pnl, export, settings,
            pause)


async def _unknown(update: Update, _: BotContext) -> None:
    if update.effective_message is not None:
        await reply_html(update.effective_message, "I don't know that command. See /help.")


async def _on_error(update: object, context: BotContext) -> None:
    """Log every handler failure; tell the user something went wrong, without details."""
    log.error("handler failed for update %s", update, exc_info=context.error)
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer("Something went wrong; it has been logged.")
        elif update.effective_message is not None:
            await reply_html(update.effective_message,
                             "⚠️ Something went wrong; it has been logged.")
    except Exception:
        log.debug("could not report the failure to the chat", exc_info=True)


def register_handlers(application: App, services: Services) -> None:
    """Every feature's commands and buttons; updates from outside the allow-list stop at the
    guard, and whatever no feature takes gets an answer from the catch-alls."""
    application.bot_data.wire(services, TradingDesk(services))
    application.add_handler(TypeHandler(Update, guard), group=-1)
    for feature in FEATURES:
        feature.register(application)
    application.add_handlers([
        CallbackQueryHandler(stale_button),
        MessageHandler(filters.COMMAND, _unknown),
    ])
    application.add_error_handler(_on_error)
