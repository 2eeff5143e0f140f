"""/status: accounts, last sync, failures, cycle timings, outbox backlog, version."""

from __future__ import annotations

import time

from telegram import Update
from telegram.ext import CommandHandler

from positionbot.bot import package_version
from positionbot.bot.handlers.common import reply_html
from positionbot.bot.handlers.context import App, BotContext
from positionbot.bot.render.listing import render_status


async def _status(update: Update, context: BotContext) -> None:
    if update.effective_message is None:
        return
    services = context.services
    views = await services.account_views(
        update.effective_chat.id if update.effective_chat else None)
    text = render_status(views, await services.store.outbox_backlog(), package_version(),
                         time.monotonic() - services.started,
                         list(services.tracker.book.mismatches.values()), services.clock())
    await reply_html(update.effective_message, text)


def register(application: App) -> None:
    application.add_handler(CommandHandler("status", _status))
