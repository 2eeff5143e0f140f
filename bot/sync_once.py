"""``positionbot sync --once``: one cycle per account, a plain-text report, an honest exit code.

The cycle is the real one: changes are recorded in the database and their pushes wait in the
outbox for ``positionbot run`` to deliver. Figures are printed exactly as stored (no rounding),
so the report can be checked against the exchange's own numbers.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

from positionbot.bot.config import AppConfig
from positionbot.bot.wiring import Runtime, StartupError, open_runtime
from positionbot.tracker.core.ledger import AppliedChange
from positionbot.tracker.core.models import Position, Trade, TradeStatus
from positionbot.tracker.engine.report import CycleReport
from positionbot.tracker.engine.runner import SimplePositionTracker

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_STARTUP = 2


def sync_once(config: AppConfig, out: TextIO | None = None) -> int:
    """Run the command; the report goes to ``out`` (default stdout), problems to stderr."""
    stream = out if out is not None else sys.stdout
    try:
        return asyncio.run(_sync_all(config, stream))
    except StartupError as err:
        sys.stderr.write(f"{err}\n")
        return EXIT_STARTUP


async def _sync_all(config: AppConfig, out: TextIO) -> int:
    async with open_runtime(config, announce=False) as runtime:
        tracker = runtime.tracker
        reports = await asyncio.gather(*(tracker.run_cycle(a) for a in tracker.accounts))
        for report in reports:
            out.write(format_account(report, tracker))
        out.write(await _summary(reports, runtime))
        out.flush()
        return EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED


def format_account(report: CycleReport, tracker: SimplePositionTracker) -> str:
    """One account's block: headline, positions, changes, actions, pending entries, errors."""
    if not report.ok:
        lines = [f"{report.account}: FAILED after {report.duration_s:.2f} s · "
                 f"{report.exchange_calls} exchange calls"]
        lines += [f"  error: {error}" for error in report.errors]
        return "\n".join(lines) + "\n\n"
    verified = " · closes verified by a second fetch" if report.verified else ""
    lines = [f"{report.account}: ok in {report.duration_s:.2f} s · {report.exchange_calls} "
             f"exchange calls · {report.positions} positions{verified}"]
    trades = tracker.book.active_trades(report.account)
    opened = [t for t in trades if t.is_open]
    pending = [t for t in trades if t.status is TradeStatus.PENDING]
    lines += _section("positions", [_position_line(t, tracker.book.position_for(t)) for t in opened])
    lines += _section("changes", [_change_line(c) for c in report.changes])
    lines += _section("actions", list(report.actions))
    lines += _section("pending bot entries", [_pending_line(t) for t in pending])
    lines += _section("errors", list(report.errors))
    if not report.changes and not report.actions:
        lines.append("  no changes")
    return "\n".join(lines) + "\n\n"


def _section(title: str, lines: Sequence[str]) -> list[str]:
    return [f"  {title}:", *(f"    {line}" for line in lines)] if lines else []


def _stop_text(t: Trade) -> str:
    if t.stop_loss_price is None:
        return "no stop loss"
    if t.stop_loss_order_id is None:
        note = f" — {t.stop_loss_note}" if t.stop_loss_note else ""
        return f"stop loss {t.stop_loss_price} not placed yet{note}"
    return f"stop loss {t.stop_loss_price} (order {t.stop_loss_order_id})"


def _position_line(t: Trade, p: Position | None) -> str:
    parts = [f"#{t.id} {t.symbol} {t.side.value} {t.size} @ {t.avg_entry_price} ({t.source.value})"]
    if p is not None:
        if p.entry_price != t.avg_entry_price:
            parts.append(f"exchange entry {p.entry_price}")
        if p.mark_price is not None:
            parts.append(f"mark {p.mark_price}")
        if p.unrealized_pnl is not None:
            parts.append(f"unrealized P&L {p.unrealized_pnl}")
    parts.append(_stop_text(t))
    return " · ".join(parts)


def _change_line(c: AppliedChange) -> str:
    t = c.trade
    price = f" @ {c.price}" if c.price is not None else ""
    estimated = " (estimated from the mark: no fills found)" if c.estimated else ""
    text = (f"{c.kind.value} #{t.id} {t.symbol} {t.side.value}: "
            f"{c.size_before} → {c.size_after}{price}{estimated}")
    if c.realized_pnl or c.fees:
        text += f" · realized P&L {c.realized_pnl} · fees {c.fees}"
    if c.closed_trade is not None:
        text += f" · closed #{c.closed_trade.id} ({c.closed_trade.side.value})"
    return text


def _pending_line(t: Trade) -> str:
    limit = f"limit {t.entry_price_limit}" if t.entry_price_limit is not None else "market"
    order = t.entry_order_id or "no order id yet"
    return f"#{t.id} {t.symbol} {t.side.value} {limit} · entry order {order} · {_stop_text(t)}"


async def _summary(reports: Sequence[CycleReport], runtime: Runtime) -> str:
    failed = [r.account for r in reports if not r.ok]
    head = f"{len(reports) - len(failed)} of {len(reports)} account(s) synced"
    if failed:
        head += f"; FAILED: {', '.join(failed)}"
    backlog = await runtime.store.outbox_backlog()
    waiting = (f"{backlog} push(es) wait in the outbox for `positionbot run` to deliver"
               if backlog else "no pushes waiting")
    return f"{head} · {waiting}\n"
