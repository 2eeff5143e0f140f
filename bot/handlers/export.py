"""/export [period] [account] [symbol]: the period's events with their trades as a CSV document.

Every decimal is written as the exact text the database holds (never through a float), and
times as UTC ISO-8601, so a spreadsheet or a script gets the very figures the bot used.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from telegram import InputFile, Update
from telegram.ext import CommandHandler

from positionbot.bot.handlers.common import reply_html
from positionbot.bot.handlers.context import App, BotContext
from positionbot.bot.handlers.pnl import in_scope, parse_request
from positionbot.bot.render.format import esc
from positionbot.storage.reports import MAX_EXPORT_ROWS, Scope, export_rows
from positionbot.tracker.core.funding import FUNDING, NOTE_PREFIX
from positionbot.tracker.core.models import PositionEvent, Trade
from positionbot.tracker.core.pnl import PeriodError, parse_period

COLUMNS = (
    "trade_id", "account", "symbol", "side", "source", "trade_status", "event_seq", "event",
    "at_utc", "size_before", "size_after", "price", "net_pnl", "fees", "estimated",
    "funding_id", "trade_net_pnl", "opened_at_utc", "closed_at_utc",
    "close_reason",
)
"""The CSV header, documented in the README (section "P&L reports")."""


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _when(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else ""


def csv_row(t: Trade, e: PositionEvent) -> list[str]:
    funding_id = (e.note or "").removeprefix(NOTE_PREFIX) if e.kind == FUNDING else ""
    return [
        str(t.id), t.account, t.symbol, t.side.value, t.source.value, t.status.value, str(e.seq),
        e.kind, _when(e.at), str(e.size_before), str(e.size_after), _text(e.price),
        str(e.realized_pnl), str(e.fees), "1" if e.estimated else "0", funding_id,
        str(t.realized_pnl), _when(t.opened_at), _when(t.closed_at), _text(t.close_reason),
    ]


def export_csv(rows: Sequence[tuple[Trade, PositionEvent]]) -> bytes:
    """UTF-8 CSV with a header row, one line per event: ``net_pnl`` is what the event realized
    net of its ``fees`` (a funding event: the payment), exactly as stored."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(csv_row(t, e) for t, e in rows)
    return out.getvalue().encode("utf-8")


async def _export(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.services
    try:
        accounts = services.accounts_for(message.chat.id)
        request = in_scope(services, message.chat.id,
                           parse_request(context.args or ["month"], accounts))
        period = parse_period(request.period, services.clock(), services.telegram.zone)
    except PeriodError as e:
        await reply_html(message, f"{esc(str(e))}\nUsage: <code>/export [today|week|month|all|"
                                  "&lt;N&gt;d] [account] [symbol]</code> (default: this month)")
        return
    rows = await export_rows(services.store, Scope(period, request.account, request.symbol))
    if not rows:
        await reply_html(message, f"🗂 Nothing recorded in {esc(period.label)}.")
        return
    if len(rows) > MAX_EXPORT_ROWS:
        await reply_html(message, f"🗂 More than {MAX_EXPORT_ROWS:,} events in {esc(period.label)}"
                                  ": choose a shorter period, e.g. <code>/export 7d</code>.")
        return
    start = (period.start or rows[0][1].at).astimezone(services.telegram.zone).date()
    end = period.end.astimezone(services.telegram.zone).date()
    name = f"positionbot-{start.isoformat()}-{end.isoformat()}.csv"
    await message.reply_document(InputFile(export_csv(rows), filename=name), do_quote=False,
                                 caption=f"🗂 {len(rows)} events · {esc(period.label)}")


def register(application: App) -> None:
    application.add_handler(CommandHandler("export", _export))
