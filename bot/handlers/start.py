"""/start and /help: what the bot does and every command with an example."""

from __future__ import annotations

from telegram import BotCommand, Update
from telegram.ext import CommandHandler

from positionbot.bot.handlers.common import reply_html
from positionbot.bot.handlers.context import App, BotContext
from positionbot.bot.render.keyboards import info_keyboard

COMMANDS: tuple[tuple[str, str], ...] = (
    ("positions", "Open positions: P&L, stop loss, age"),
    ("sync", "Sync with the exchange now and show what changed"),
    ("sl", "Set, move or clear a stop loss: /sl BTC 58000"),
    ("long", "Open a long (asks to confirm): /long BTC 0.01 @59000 sl 58000"),
    ("short", "Open a short (asks to confirm): /short ETH 0.5 sl -2%"),
    ("close", "Close a position, all or part: /close BTC 50%"),
    ("cancel", "Cancel a pending bot entry: /cancel 12"),
    ("history", "Recently closed trades"),
    ("pnl", "Net P&L with fees and funding: /pnl week"),
    ("daily", "Net P&L per day: /daily 14"),
    ("weekly", "Net P&L per week"),
    ("monthly", "Net P&L per month"),
    ("export", "The period's trades and events as CSV: /export month"),
    ("balance", "Wallet, available, unrealized P&L, margin per account"),
    ("status", "Accounts, last sync, failures, outbox"),
    ("settings", "Which pushes this chat gets, and how"),
    ("pause", "Pause the trading commands"),
    ("resume", "Allow the trading commands again"),
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
/pnl — net P&amp;L today with price, fees and funding, win rate, best and worst, per symbol
  (<code>/pnl week</code>, <code>/pnl month</code>, <code>/pnl 30d main BTC</code>); 📈 Chart button
/daily, /weekly, /monthly — net P&amp;L per day, week or month (<code>/daily 14</code>)
/export — this month's trades and events as a CSV file (<code>/export 7d</code>)
/balance — wallet, available, unrealized P&amp;L and margin in use per account
/status — accounts, last sync, failures, cycle timings, outbox backlog, version
/settings — switch each kind of push on, silent or off for this chat, and the quiet threshold
/pause, /resume — stop and allow the trading commands (stops already set are still managed)

Symbols may be short (<code>BTC</code>) when that names one trade; otherwise I ask with buttons."""


async def _start(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        accounts = context.services.tracker.accounts
        account = accounts[0] if len(accounts) == 1 else None
        await reply_html(update.effective_message, "👋 " + HELP, info_keyboard(account))


async def _help(update: Update, _: BotContext) -> None:
    if update.effective_message is not None:
        await reply_html(update.effective_message, HELP)


def bot_commands() -> list[BotCommand]:
    """The command menu Telegram clients show."""
    return [BotCommand(name, description) for name, description in COMMANDS]


def register(application: App) -> None:
    application.add_handlers([CommandHandler("start", _start), CommandHandler("help", _help)])
