"""/positions and its buttons: refresh a listing in place, or send a fresh one under a push."""

from __future__ import annotations

from telegram import CallbackQuery, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from positionbot.bot.callbacks import Action, Callback
from positionbot.bot.handlers.common import (
    button_pattern,
    chat_of,
    edit_in_place,
    on_button,
    pressed_message,
    reply_html,
)
from positionbot.bot.handlers.context import App, BotContext


async def _positions(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        chat = update.effective_chat.id if update.effective_chat else None
        text, keyboard = await context.services.positions_listing(chat)
        await reply_html(update.effective_message, text, keyboard)


async def _button(context: BotContext, query: CallbackQuery, pressed: Callback) -> None:
    text, keyboard = await context.services.positions_listing(chat_of(query))
    if pressed.action is Action.REFRESH:
        changed = await edit_in_place(query, text, keyboard)
        await query.answer("Refreshed" if changed else "Already up to date")
        return
    await query.answer()
    message = pressed_message(query)
    if message is not None:
        await reply_html(message, text, keyboard)


def register(application: App) -> None:
    application.add_handlers([
        CommandHandler("positions", _positions),
        CallbackQueryHandler(on_button(_button), pattern=button_pattern(Action.REFRESH,
                                                                         Action.LIST)),
    ])
