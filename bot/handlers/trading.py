"""/long, /short, /close, /cancel and the buttons that confirm them, on python-telegram-bot.

The conversation itself lives in ``bot.trading_desk``; this module reads updates, answers every
press (a stale Confirm clearly, and without sending anything) and edits the preview in place so
a confirmed action cannot be tapped twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler

from positionbot.bot.callbacks import Action, Callback
from positionbot.bot.handlers.common import (
    button_pattern,
    edit_in_place,
    on_button,
    pressed_message,
    reply_html,
)
from positionbot.bot.handlers.confirmations import ClaimStatus
from positionbot.bot.handlers.context import App, BotContext, Handler
from positionbot.bot.handlers.trading_desk import (
    Asker,
    CancelChoice,
    CancelOrder,
    CloseChoice,
    CloseOrder,
    EntryChoice,
    EntryOrder,
    Intent,
    MoreChoices,
    TradingDesk,
)
from positionbot.bot.handlers.trading_parse import ClosePortion
from positionbot.bot.render.keyboards import Reply
from positionbot.bot.render.trading import CANCELLED, NOT_YOURS, STALE_CONFIRM, TOO_LATE
from positionbot.tracker.core.models import Side

log = logging.getLogger(__name__)

_CHOICES = (EntryChoice, CloseChoice, CancelChoice, MoreChoices)
_INTENTS = (EntryOrder, CloseOrder, CancelOrder)


def _asker(update: Update) -> Asker | None:
    chat, user = update.effective_chat, update.effective_user
    return Asker(chat.id, user.id if user else None) if chat is not None else None


ReplyFor = Callable[[TradingDesk, Sequence[str], Asker], Awaitable[Reply]]


def _command(reply_for: ReplyFor) -> Handler:
    """A command handler: the desk turns the typed arguments into the reply (and its buttons)."""
    async def handle(update: Update, context: BotContext) -> None:
        message, asker = update.effective_message, _asker(update)
        if message is None or asker is None:
            return
        reply = await reply_for(context.desk, context.args or [], asker)
        await reply_html(message, reply.text, reply.keyboard)

    return handle


async def _entry(side: Side, desk: TradingDesk, args: Sequence[str], asker: Asker) -> Reply:
    return await desk.entry_reply(side, args, asker)


async def _drop_keyboard(query: CallbackQuery) -> None:
    try:
        await query.edit_message_reply_markup(None)
    except BadRequest as err:
        if "not modified" not in err.message.lower():
            raise


async def _button(context: BotContext, query: CallbackQuery, pressed: Callback) -> None:
    """✖ Close, Confirm, Cancel or a pick; the guard has already checked who pressed."""
    desk = context.desk
    message = pressed_message(query)
    if message is None:  # too old for Telegram to show us: nothing to confirm against
        await query.answer(STALE_CONFIRM if pressed.action is not Action.CLOSE
                           else "This message is too old; use /close.", show_alert=True)
        return
    asker = Asker(message.chat.id, query.from_user.id if query.from_user else None)
    if pressed.action is Action.CLOSE:
        await _close_pressed(desk, query, message, pressed.trade_id, asker)
        return
    claim = desk.confirmations.claim(pressed.arg, asker.chat_id, asker.user_id)
    if pressed.action is Action.CONFIRM and isinstance(claim.item, _INTENTS):
        if await _acknowledged(query, "Sending…"):
            await _send(desk, query, claim.item)
        else:  # the trader would never learn what happened: send nothing, say so, keep the token
            desk.confirmations.give_back(pressed.arg, claim.item, asker.chat_id, asker.user_id)
            await reply_html(message, TOO_LATE)
        return
    if claim.status is ClaimStatus.NOT_YOURS:
        await query.answer(NOT_YOURS, show_alert=True)
        return
    item = claim.item
    if pressed.action is Action.ABORT:
        await query.answer("Cancelled" if item is not None else "Nothing was sent.")
        await edit_in_place(query, CANCELLED)
    elif pressed.action is Action.PICK and isinstance(item, _CHOICES):
        await query.answer()
        reply = await desk.prepare(item, asker)
        await edit_in_place(query, reply.text, reply.keyboard)
    else:
        log.info("stale or mismatched trading button %s", pressed.action)
        await query.answer(STALE_CONFIRM, show_alert=True)
        await _drop_keyboard(query)


async def _acknowledged(query: CallbackQuery, text: str) -> bool:
    """Answer the press; False when Telegram no longer takes an answer (the tap reached us
    after its answer window closed), so the trader would never know what happened."""
    try:
        await query.answer(text)
    except BadRequest as err:
        log.warning("a Confirm press could not be answered: %s", err.message)
        return False
    return True


async def _send(desk: TradingDesk, query: CallbackQuery, order: Intent) -> None:
    await _drop_keyboard(query)  # at once: a second tap must find nothing to press
    text, account = await desk.execute(order)
    await edit_in_place(query, text)
    if account is not None:
        await desk.services.tracker.run_cycle(account)


async def _close_pressed(desk: TradingDesk, query: CallbackQuery, message: Message,
                         trade_id: int, asker: Asker) -> None:
    """✖ Close under a push or listing: confirm closing a position, or cancelling an entry."""
    trade = desk.services.find_trade(asker.chat_id, trade_id)
    if trade is None:
        await query.answer(f"Trade #{trade_id} is no longer open or pending.")
        return
    await query.answer()
    if trade.is_open:
        reply = await desk.prepare_close(CloseChoice(trade.id, ClosePortion()), asker)
    else:
        reply = await desk.prepare_cancel(CancelChoice(trade.id), asker)
    await reply_html(message, reply.text, reply.keyboard)


def register(application: App) -> None:
    application.add_handlers([
        CommandHandler("long", _command(partial(_entry, Side.LONG))),
        CommandHandler("short", _command(partial(_entry, Side.SHORT))),
        CommandHandler("close", _command(TradingDesk.close_reply)),
        CommandHandler("cancel", _command(TradingDesk.cancel_reply)),
        CallbackQueryHandler(on_button(_button), pattern=button_pattern(
            Action.CLOSE, Action.CONFIRM, Action.ABORT, Action.PICK)),
    ])
