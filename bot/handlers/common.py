"""What every handler shares: the access rule, answering a button (a stale one clearly),
replying and editing within Telegram's limits, and running a sync for a command."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop

from positionbot.bot import callbacks
from positionbot.bot.callbacks import Action, Callback
from positionbot.bot.handlers.context import BotContext, ButtonHandler, Handler
from positionbot.bot.handlers.services import Services
from positionbot.bot.render.format import SAFE_MESSAGE_CHARS, split_message
from positionbot.bot.render.listing import render_sync_report
from positionbot.tracker.core.models import Market

log = logging.getLogger(__name__)

STALE = "This button is out of date — send /positions for fresh ones."


async def guard(update: Update, context: BotContext) -> None:
    """A pre-handler that stops every update from outside the allow-list, silently."""
    chat, user = update.effective_chat, update.effective_user
    if context.services.is_allowed(chat.id if chat else None, user.id if user else None):
        return
    log.warning("ignored an update from unauthorized chat %s user %s",
                chat.id if chat else None, user.id if user else None)
    raise ApplicationHandlerStop


def button_pattern(*actions: Action) -> re.Pattern[str]:
    """The callback data a feature's ``CallbackQueryHandler`` takes: its actions, this version."""
    names = "|".join(re.escape(a.value) for a in actions)
    return re.compile(rf"^{re.escape(callbacks.VERSION)}\|(?:{names})\|")


def on_button(handle: ButtonHandler) -> Handler:
    """A feature's button callback: the data decoded and validated, a malformed one answered as
    stale (the pattern only looked at its prefix)."""

    async def decoded(update: Update, context: BotContext) -> None:
        query = update.callback_query
        if query is None:
            return
        pressed = callbacks.decode(query.data if isinstance(query.data, str) else None)
        if pressed is None:
            await answer_stale(query)
            return
        await handle(context, query, pressed)

    return decoded


async def answer_stale(query: CallbackQuery) -> None:
    log.info("stale or invalid button data %r", str(query.data or "")[:80])
    await query.answer(STALE)


async def stale_button(update: Update, _: BotContext) -> None:
    """The last callback handler: any press no feature claimed still gets a clear answer."""
    if update.callback_query is not None:
        await answer_stale(update.callback_query)


def pressed_message(query: CallbackQuery) -> Message | None:
    """The message under the pressed button, when Telegram still shows it to the bot."""
    return query.message if isinstance(query.message, Message) else None


def chat_of(query: CallbackQuery) -> int | None:
    """The chat a button was pressed in (for its account scope), when Telegram says."""
    return query.message.chat.id if query.message is not None else None


def buttons_of(message: Message | None) -> list[Callback | None]:
    """What each button under a message carries (None: not one of this version's)."""
    markup = message.reply_markup if message is not None else None
    if markup is None:
        return []
    return [callbacks.decode(b.callback_data if isinstance(b.callback_data, str) else None)
            for row in markup.inline_keyboard for b in row]


async def edit_in_place(
    query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> bool:
    """Edit the pressed message (cut to one message); False when nothing changed."""
    try:
        await query.edit_message_text(fit_one_message(text), parse_mode=ParseMode.HTML,
                                      reply_markup=keyboard)
    except BadRequest as err:
        if "not modified" in err.message.lower():
            return False
        raise
    return True


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
