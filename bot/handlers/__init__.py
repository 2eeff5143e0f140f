"""Commands: /start, /help, /positions, /sync, /sl, the trading commands, /history, /status,
and their registration."""

from __future__ import annotations

import logging
import re
import time

from telegram import BotCommand, Update
from telegram.constants import ChatAction
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from positionbot.bot.handlers.buttons import button_handler
from positionbot.bot.handlers.common import (
    App,
    Handler,
    Services,
    guard,
    package_version,
    reply_html,
    sync_accounts,
)
from positionbot.bot.handlers.stop_loss import sl_command
from positionbot.bot.handlers.trading import cancel_command, close_command, entry_command
from positionbot.bot.handlers.trading_desk import TradingDesk
from positionbot.bot.render.format import esc
from positionbot.bot.render.keyboards import info_keyboard
from positionbot.bot.render.listing import render_history, render_status
from positionbot.tracker.core.models import Side, TradeStatus

log = logging.getLogger(__name__)

COMMANDS: tuple[tuple[str, str], ...] = (
    ("positions", "Open positions: P&L, stop loss, age"),
    ("sync", "Sync with the exchange now and show what changed"),
    ("sl", "Set, move or clear a stop loss: /sl BTC 58000"),
    ("long", "Open a long (asks to confirm): /long BTC 0.01 @59000 sl 58000"),
    ("short", "Open a short (asks to confirm): /short ETH 0.5 sl -2%"),
    ("close", "Close a position, all or part: /close BTC 50%"),
    ("cancel", "Cancel a pending bot entry: /cancel 12"),
    ("history", "Recently closed trades"),
    ("status", "Accounts, last sync, failures, outbox"),
    ("help", "How to use the bot"),
    ("start", "Start"),
)
HELP = """<b>PositionBot</b> keeps your positions true to the exchange and pushes every change here.

/positions — open and pending trades: size, entry, mark, P&amp;L, stop loss, age
/sync — sync every account now and show what changed (<code>/sync main</code>: one account)
/sl BTC 58000 — set or move the stop loss of the BTC trade
/sl BTC -2% — a stop 2% from the mark on the losing side: below it for a long,
  above it for a short (a pending trade counts from its limit price)
/sl BTC off — remove the stop loss
/sl — pick a trade from a list
/long BTC 0.01 — buy 0.01 BTC at market; <code>/short</code> sells
/long BTC 0.01 @59000 sl 58000 — a limit entry with its stop loss (<code>sl -2%</code>: 2% from
  the entry)
/close BTC — close the BTC position (reduce-only market); <code>/close BTC 50%</code> or
  <code>/close BTC 0.004</code> for part of it
/cancel 12 — cancel pending entry #12 and its order; <code>/cancel</code> lists them
Every order is shown first and sent only when you tap Confirm.
/history — the last 10 closed trades (<code>/history 30</code> for more)
/status — accounts, last sync, failures, cycle timings, outbox backlog, version

Symbols may be short (<code>BTC</code>) when that names one trade; otherwise I ask with buttons."""
MAX_HISTORY = 50
MAX_SYNC_ARGS = 20
_COUNT = re.compile(r"[1-9][0-9]?")


def _start(services: Services) -> Handler:
    async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            account = services.tracker.accounts[0] if len(services.tracker.accounts) == 1 else None
            await reply_html(update.effective_message, "👋 " + HELP, info_keyboard(account))

    return handle


async def _help(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message is not None:
        await reply_html(update.effective_message, HELP)


def _positions(services: Services) -> Handler:
    async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            text, keyboard = await services.positions_listing()
            await reply_html(update.effective_message, text, keyboard)

    return handle


def _sync(services: Services) -> Handler:
    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        accounts = services.tracker.accounts
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

    return handle


def _history(services: Services) -> Handler:
    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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
        trades = await services.store.list_trades(
            statuses=(TradeStatus.CLOSED, TradeStatus.CANCELLED), limit=count)
        await reply_html(message, render_history(trades, services.clock()))

    return handle


def _status(services: Services) -> Handler:
    async def handle(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is None:
            return
        views = await services.account_views()
        text = render_status(views, await services.store.outbox_backlog(), package_version(),
                             time.monotonic() - services.started,
                             list(services.tracker.book.mismatches.values()), services.clock())
        await reply_html(update.effective_message, text)

    return handle


async def _unknown(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message is not None:
        await reply_html(update.effective_message, "I don't know that command. See /help.")


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
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
    """Every command and button; updates from outside the allow-list stop at the guard."""
    application.add_handler(TypeHandler(Update, guard(services)), group=-1)
    desk = TradingDesk(services)
    application.add_handlers([
        CommandHandler("start", _start(services)),
        CommandHandler("help", _help),
        CommandHandler("positions", _positions(services)),
        CommandHandler("sync", _sync(services)),
        CommandHandler("sl", sl_command(services)),
        CommandHandler("long", entry_command(desk, Side.LONG)),
        CommandHandler("short", entry_command(desk, Side.SHORT)),
        CommandHandler("close", close_command(desk)),
        CommandHandler("cancel", cancel_command(desk)),
        CommandHandler("history", _history(services)),
        CommandHandler("status", _status(services)),
        CallbackQueryHandler(button_handler(services, desk)),
        MessageHandler(filters.COMMAND, _unknown),
    ])
    application.add_error_handler(_on_error)


def bot_commands() -> list[BotCommand]:
    return [BotCommand(name, description) for name, description in COMMANDS]
