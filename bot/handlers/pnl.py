"""/pnl with its period buttons and chart, /daily /weekly /monthly, and /balance.

Everything is read from the records (never the exchange), except /balance, which asks each
account's exchange once, within the cycle time limit. Buttons carry ``pnl|<what>|<period>|
<account>|<symbol>`` (``*`` for none) and are routed here by their own pattern.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler

from positionbot.bot.handlers.common import chat_of, pressed_message, reply_html
from positionbot.bot.handlers.context import App, BotContext
from positionbot.bot.handlers.services import Services
from positionbot.bot.render.chart import ChartData, render_chart
from positionbot.bot.render.format import esc, fmt_money, settle_of
from positionbot.bot.render.pnl import (
    by_currency,
    render_balances,
    render_period_rows,
    render_pnl,
    scope_label,
)
from positionbot.storage.reports import Scope, closed_trades, pnl_events
from positionbot.tracker.core.models import Balance
from positionbot.tracker.core.pnl import (
    PERIOD_WORDS,
    ClosedTrade,
    Period,
    PeriodError,
    PnlEvent,
    Unit,
    daily_series,
    parse_period,
    period_rows,
    periods,
)
from positionbot.tracker.engine.ports import ExchangeError

log = logging.getLogger(__name__)

BUTTON_PREFIX = "pnl"
_MAX_CALLBACK_BYTES = 64
_TABLES: dict[str, tuple[Unit, int, int, str]] = {  # command: unit, default N, max N, title
    "daily": ("day", 7, 90, "Daily"),
    "weekly": ("week", 4, 52, "Weekly"),
    "monthly": ("month", 6, 36, "Monthly"),
}
USAGE = ("Usage: <code>/pnl [today|week|month|all|&lt;N&gt;d] [account] [symbol]</code>, "
         "e.g. <code>/pnl week</code>, <code>/pnl 30d main BTC</code>")


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed /pnl: the period word and the optional filters."""

    period: str = "today"
    account: str | None = None
    symbol: str | None = None


def parse_request(args: Sequence[str], accounts: Sequence[str]) -> Request:
    """``[period] [account] [symbol]`` in any order: a period word or ``<N>d``, a configured
    account name, anything else is a symbol (``BTC`` or ``BTC/USDT:USDT``)."""
    period, account, symbol = "today", None, None
    for raw in args:
        word = raw.strip()
        if word.lower() in PERIOD_WORDS or (word[:-1].isdigit() and word.lower().endswith("d")):
            period = word.lower()
        elif word in accounts and account is None:
            account = word
        elif symbol is None and 0 < len(word) <= 40:
            symbol = word.upper() if "/" not in word else word
        else:
            raise PeriodError(f"did not understand {word!r}")
    return Request(period, account, symbol)


def in_scope(services: Services, chat_id: int | None, request: Request) -> Request:
    """A chat limited to some accounts sees only theirs: one is implied, of several the
    trader names one."""
    accounts = services.accounts_for(chat_id)
    if request.account is not None or len(accounts) == len(services.tracker.accounts):
        return request
    if len(accounts) == 1:
        return replace(request, account=accounts[0])
    raise PeriodError(f"this chat sees the accounts {', '.join(accounts)}: name one of them")


async def load(services: Services, request: Request
               ) -> tuple[Scope, list[PnlEvent], list[ClosedTrade]]:
    period = parse_period(request.period, services.clock(), services.telegram.zone)
    scope = Scope(period, request.account, request.symbol)
    return scope, await pnl_events(services.store, scope), await closed_trades(services.store, scope)


def _data(what: str, request: Request) -> str:
    data = "|".join([BUTTON_PREFIX, what, request.period, request.account or "*",
                     request.symbol or "*"])
    return data if len(data.encode()) <= _MAX_CALLBACK_BYTES else ""


def pnl_keyboard(request: Request) -> InlineKeyboardMarkup | None:
    """Switch the period (same filters), or draw the chart of this one."""
    row = []
    for word, label in (("today", "Today"), ("week", "Week"), ("month", "Month"), ("all", "All")):
        data = _data("p", Request(word, request.account, request.symbol))
        if data:
            row.append(InlineKeyboardButton(("• " if word == request.period else "") + label,
                                            callback_data=data))
    chart = _data("c", request)
    if not row or not chart:
        return None
    return InlineKeyboardMarkup([row, [InlineKeyboardButton("📈 Chart", callback_data=chart)]])


def decode(data: str, accounts: Sequence[str]) -> tuple[str, Request] | None:
    parts = data.split("|")
    if len(parts) != 5 or parts[0] != BUTTON_PREFIX or parts[1] not in ("p", "c"):
        return None
    args = [a for a in parts[2:] if a != "*"]
    try:
        request = parse_request(args, accounts)
    except PeriodError:
        return None
    return parts[1], request


async def pnl_text(services: Services, request: Request) -> str:
    scope, events, closed = await load(services, request)
    return render_pnl(events, closed, scope_label(scope.period, scope.account, scope.symbol))


async def chart_png(services: Services, request: Request) -> tuple[bytes, ChartData] | None:
    """The chart of the request's main settle currency (the one with most events), rendered in
    a worker thread; None when nothing was realized."""
    scope, events, closed = await load(services, request)
    groups = by_currency(events, closed)
    if not events:
        return None
    ccy = max(groups, key=lambda c: len(groups[c][0]))
    series = daily_series(scope.period, groups[ccy][0], services.telegram.zone)
    title = f"P&L · {scope.period.label}" + (f" · {request.symbol}" if request.symbol else "")
    data = ChartData.of(title, ccy, series)
    return await asyncio.to_thread(render_chart, data), data


async def send_chart(services: Services, message: Message, request: Request) -> None:
    drawn = await chart_png(services, request)
    if drawn is None:
        await reply_html(message, "📈 Nothing realized in this period: no chart to draw.")
        return
    png, data = drawn
    days = len(data.days)
    caption = (f"📈 Net P&amp;L {esc(data.title.removeprefix('P&L · '))}: "
               f"<b>{fmt_money(data.cumulative[-1], data.currency)}</b>"
               f" over {days} day{'s' if days != 1 else ''}")
    await message.reply_photo(InputFile(png, filename="pnl-chart.png"), caption=caption,
                              parse_mode=ParseMode.HTML, do_quote=False)


async def _pnl(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.services
    try:
        chat = message.chat.id
        request = in_scope(services, chat,
                           parse_request(context.args or [], services.accounts_for(chat)))
        text = await pnl_text(services, request)
    except PeriodError as e:
        await reply_html(message, f"{esc(str(e))}\n{USAGE}")
        return
    await reply_html(message, text, pnl_keyboard(request))


async def _button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None:
        return
    services = context.services
    decoded = decode(str(query.data or ""), services.accounts_for(chat_of(query)))
    message = pressed_message(query)
    if decoded is None or message is None:
        await query.answer("This button is out of date — send /pnl for fresh ones.")
        return
    what, request = decoded
    try:
        request = in_scope(services, chat_of(query), request)
    except PeriodError:
        await query.answer("This button is out of date — send /pnl for fresh ones.")
        return
    if what == "c":
        await query.answer("Drawing the chart…")
        await send_chart(services, message, request)
        return
    text = await pnl_text(services, request)
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML,
                                      reply_markup=pnl_keyboard(request))
    except BadRequest as err:
        if "not modified" not in err.message.lower():
            raise
    await query.answer()


async def _table(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or message.text is None:
        return
    command = message.text.split()[0].lstrip("/").split("@")[0].lower()
    unit, default, most, title = _TABLES[command]
    args = context.args or []
    if len(args) > 1 or (args and not (args[0].isdigit() and 1 <= int(args[0]) <= most)):
        await reply_html(message, f"Usage: <code>/{command}</code> or <code>/{command} N</code> "
                                  f"with N from 1 to {most}")
        return
    count = int(args[0]) if args else default
    services = context.services
    buckets = periods(unit, count, services.clock(), services.telegram.zone)
    try:
        account = in_scope(services, message.chat.id, Request()).account
    except PeriodError as e:
        await reply_html(message, f"{esc(str(e))} (the tables cover one account)")
        return
    scope = Scope(Period(title, buckets[-1].start, buckets[0].end), account)
    events = await pnl_events(services.store, scope)
    closed = await closed_trades(services.store, scope)
    main = _main_currency(events)
    events = [e for e in events if settle_of(e.symbol, None) == main]
    closed = [t for t in closed if settle_of(t.symbol, None) == main]
    await reply_html(message, render_period_rows(title, period_rows(buckets, events, closed),
                                                 events))


def _main_currency(events: Sequence[PnlEvent]) -> str:
    counts: dict[str, int] = {}
    for e in events:
        ccy = settle_of(e.symbol, None)
        counts[ccy] = counts.get(ccy, 0) + 1
    return max(counts, key=lambda c: counts[c]) if counts else "USDT"


async def balances(services: Services, chat_id: int | None
                   ) -> list[tuple[str, Balance | None, str | None]]:
    """Each account's wallet (of those the chat sees) from its exchange; one that fails says
    why, the others show."""
    out: list[tuple[str, Balance | None, str | None]] = []
    for account in services.accounts_for(chat_id):
        try:
            async with asyncio.timeout(services.cycle_timeout):
                out.append((account, await services.tracker.gateway(account).fetch_balance(), None))
        except (ExchangeError, TimeoutError) as e:
            log.warning("balance of %s: %s", account, e)
            out.append((account, None, str(e) or "timed out"))
    return out


async def _balance(update: Update, context: BotContext) -> None:
    if update.effective_message is not None:
        chat = update.effective_chat.id if update.effective_chat else None
        await reply_html(update.effective_message,
                         render_balances(await balances(context.services, chat)))


def register(application: App) -> None:
    application.add_handlers([
        CommandHandler("pnl", _pnl),
        CommandHandler(list(_TABLES), _table),
        CommandHandler("balance", _balance),
        CallbackQueryHandler(_button, pattern=rf"^{BUTTON_PREFIX}\|"),
    ])
