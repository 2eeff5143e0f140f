"""/sync and the "Sync now" button: run a cycle now and show what changed."""

from __future__ import annotations

from telegram import CallbackQuery, Update
from telegram.constants import ChatAction
from telegram.ext import CallbackQueryHandler, CommandHandler

from positionbot.bot.callbacks import ALL_ACCOUNTS, Action, Callback
from positionbot.bot.handlers.common import (
    answer_stale,
    button_pattern,
    buttons_of,
    chat_of,
    edit_in_place,
    on_button,
    pressed_message,
    reply_html,
    sync_accounts,
)
from positionbot.bot.handlers.context import App, BotContext
from positionbot.bot.render.format import esc
from positionbot.bot.render.keyboards import info_keyboard

MAX_SYNC_ARGS = 20


async def _sync(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.services
    accounts = services.accounts_for(message.chat.id)
    args = context.args or []
    if len(args) > MAX_SYNC_ARGS:
        await reply_html(message, f"Name at most {MAX_SYNC_ARGS} accounts, or none for all.")
        return
    wanted = list(dict.fromkeys(args))  # one cycle per account, however often it is named
    unknown = [a for a in wanted if a not in accounts]
    if unknown:
        await reply_html(message, f"Unknown account <b>{esc(unknown[0])}</b>. "
                                  f"Accounts: {esc(', '.join(accounts))}")
        return
    await message.chat.send_action(ChatAction.TYPING)
    text, account = await sync_accounts(services, wanted or accounts)
    await reply_html(message, text, info_keyboard(account))


async def _button(context: BotContext, query: CallbackQuery, pressed: Callback) -> None:
    services = context.services
    account = pressed.arg
    scope = services.accounts_for(chat_of(query))
    if account != ALL_ACCOUNTS and account not in scope:
        await answer_stale(query)
        return
    await query.answer("Syncing…")
    accounts = scope if account == ALL_ACCOUNTS else [account]
    text, one = await sync_accounts(services, accounts)
    message = pressed_message(query)
    if message is None:
        return
    if any(b is not None and b.action is Action.REFRESH for b in buttons_of(message)):
        listing, keyboard = await services.positions_listing(chat_of(query))
        await edit_in_place(query, listing, keyboard)
    await reply_html(message, text, info_keyboard(one))


def register(application: App) -> None:
    application.add_handlers([
        CommandHandler("sync", _sync),
        CallbackQueryHandler(on_button(_button), pattern=button_pattern(Action.SYNC)),
    ])
