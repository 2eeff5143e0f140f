"""Inline buttons: every press is answered, stale or forged ones clearly and harmlessly."""

from __future__ import annotations

import logging
from decimal import Decimal

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from positionbot.bot import callbacks
from positionbot.bot.callbacks import ALL_ACCOUNTS, Action, Callback
from positionbot.bot.handlers.common import Handler, Services, fit_one_message, reply_html, sync_accounts
from positionbot.bot.handlers.stop_loss import (
    StopInputError,
    StopRequest,
    apply_stop,
    stop_menu,
    stop_price_for,
)
from positionbot.bot.handlers.trading import TRADING_ACTIONS, trading_button
from positionbot.bot.handlers.trading_desk import TradingDesk
from positionbot.bot.render.keyboards import info_keyboard
from positionbot.tracker.core.models import Trade

log = logging.getLogger(__name__)

STALE = "This button is out of date — send /positions for fresh ones."
_MENU_ACTIONS = frozenset({Action.STOP_MENU, Action.STOP_SET})


def _buttons(message: Message | None) -> list[Callback | None]:
    markup = message.reply_markup if message is not None else None
    if markup is None:
        return []
    return [callbacks.decode(b.callback_data if isinstance(b.callback_data, str) else None)
            for row in markup.inline_keyboard for b in row]


def _is_stop_picker(message: Message | None) -> bool:
    """A message that only offers stop-loss choices may be replaced by the outcome."""
    buttons = _buttons(message)
    return bool(buttons) and all(b is not None and b.action in _MENU_ACTIONS for b in buttons)


def _is_listing(message: Message | None) -> bool:
    return any(b is not None and b.action is Action.REFRESH for b in _buttons(message))


async def _edit(query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup | None) -> bool:
    """Edit the pressed message in place; False when nothing changed."""
    try:
        await query.edit_message_text(fit_one_message(text), parse_mode=ParseMode.HTML,
                                      reply_markup=keyboard)
    except BadRequest as err:
        if "not modified" in err.message.lower():
            return False
        raise
    return True


async def _show(query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup | None) -> None:
    """Replace a stop picker with what came of it; anything else keeps its text."""
    message = query.message if isinstance(query.message, Message) else None
    if _is_stop_picker(message):
        await _edit(query, text, keyboard)
    elif message is not None:
        await reply_html(message, text, keyboard)


def _active_trade(services: Services, trade_id: int) -> Trade | None:
    return services.tracker.book.find_active(trade_id)


async def _refresh(services: Services, query: CallbackQuery) -> None:
    text, keyboard = await services.positions_listing()
    changed = await _edit(query, text, keyboard)
    await query.answer("Refreshed" if changed else "Already up to date")


async def _list(services: Services, query: CallbackQuery) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        text, keyboard = await services.positions_listing()
        await reply_html(query.message, text, keyboard)


async def _sync(services: Services, query: CallbackQuery, account: str) -> None:
    accounts = services.tracker.accounts if account == ALL_ACCOUNTS else [account]
    if account != ALL_ACCOUNTS and account not in services.tracker.accounts:
        await query.answer(STALE)
        return
    await query.answer("Syncing…")
    text, one = await sync_accounts(services, accounts)
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        return
    if _is_listing(message):
        listing, keyboard = await services.positions_listing()
        await _edit(query, listing, keyboard)
    await reply_html(message, text, info_keyboard(one))


async def _stop_menu(services: Services, query: CallbackQuery, trade: Trade) -> None:
    await query.answer()
    text, keyboard = await stop_menu(services, trade)
    await _show(query, text, keyboard)


async def _stop_set(services: Services, query: CallbackQuery, trade: Trade, value: str) -> None:
    if value == "off":
        price = None
    else:
        market = (await services.markets(trade.account)).get(trade.symbol)
        try:
            price = stop_price_for(services, trade, StopRequest(price=Decimal(value)), market)
        except StopInputError as err:
            await query.answer()
            await _show(query, f"⚠️ {err}", None)
            return
    await query.answer("Setting the stop loss…" if price is not None else "Removing the stop…")
    await _show(query, await apply_stop(services, trade, price), None)


def button_handler(services: Services, desk: TradingDesk) -> Handler:
    async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        data = query.data if isinstance(query.data, str) else None
        pressed = callbacks.decode(data)
        if pressed is None:
            log.info("stale or invalid button data %r", (data or "")[:80])
            await query.answer(STALE)
            return
        if pressed.action is Action.REFRESH:
            await _refresh(services, query)
        elif pressed.action is Action.LIST:
            await _list(services, query)
        elif pressed.action is Action.SYNC:
            await _sync(services, query, pressed.arg)
        elif pressed.action in TRADING_ACTIONS:
            await trading_button(desk, query, pressed)
        else:
            trade = _active_trade(services, pressed.trade_id)
            if trade is None:
                await query.answer(f"Trade #{pressed.arg} is no longer open or pending.")
            elif pressed.action is Action.STOP_MENU:
                await _stop_menu(services, query, trade)
            else:
                await _stop_set(services, query, trade, pressed.value)

    return handle
