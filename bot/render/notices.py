"""Pushes: every typed notice rendered as compact Telegram HTML.

Each kind has a full message (what a single push shows) and a one-line summary (what a
digest shows). Every dynamic value goes through ``esc`` or a number formatter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup

from positionbot.bot.render.format import (
    Chunk,
    esc,
    fmt_duration,
    fmt_money,
    fmt_pct,
    fmt_price,
    fmt_size,
    pack_blocks,
    settle_of,
    side_label,
    source_label,
)
from positionbot.bot.render.keyboards import Reply, info_keyboard, trade_push_keyboard
from positionbot.tracker.core.models import Market, NoticeKind
from positionbot.tracker.core.notices import (
    CloseReason,
    DailyReport,
    ExchangeRecovered,
    ExchangeUnreachable,
    Notice,
    PendingCancelled,
    PositionClosed,
    PositionDecreased,
    PositionFlipped,
    PositionIncreased,
    PositionNotice,
    PositionOpened,
    Startup,
    StopLossCleared,
    StopLossFailed,
    StopLossHit,
    StopLossPlaced,
    StopLossRemoved,
    StopNotice,
    Stopped,
    TradeNotice,
    Watchdog,
)

PNL = "P&amp;L"

_TITLES: dict[NoticeKind, tuple[str, str]] = {
    NoticeKind.OPENED: ("🆕", "Opened"),
    NoticeKind.INCREASED: ("➕", "Increased"),
    NoticeKind.DECREASED: ("➖", "Decreased"),
    NoticeKind.CLOSED: ("🏁", "Closed"),
    NoticeKind.FLIPPED: ("🔄", "Flipped"),
    NoticeKind.STOP_LOSS_PLACED: ("🛡", "Stop loss placed"),
    NoticeKind.STOP_LOSS_FAILED: ("⚠️", "Stop loss failed"),
    NoticeKind.STOP_LOSS_CLEARED: ("🧹", "Stop loss cleared"),
    NoticeKind.STOP_LOSS_REMOVED: ("✋", "Stop loss removed on the exchange"),
    NoticeKind.STOP_LOSS_HIT: ("🛑", "Stop loss hit"),
    NoticeKind.PENDING_CANCELLED: ("🚫", "Pending entry cancelled"),
    NoticeKind.EXCHANGE_UNREACHABLE: ("🔌", "Exchange unreachable"),
    NoticeKind.EXCHANGE_RECOVERED: ("🔗", "Exchange reachable again"),
    NoticeKind.STARTUP: ("🚀", "PositionBot started"),
    NoticeKind.WATCHDOG: ("⏱", "Watchdog"),
    NoticeKind.STOPPED: ("⏹", "PositionBot stopped"),
    NoticeKind.DAILY_REPORT: ("📅", "Daily report"),
}
_REASONS = {
    CloseReason.CLOSED: "closed on the exchange", CloseReason.STOP_LOSS: "stop loss",
    CloseReason.BY_BOT: "closed by the bot", CloseReason.DUST: "shrank to dust",
    CloseReason.FLIPPED: "flipped",
}
_LIVE_TRADE_KINDS = (  # the trade is still open after these: offer its buttons
    PositionOpened, PositionIncreased, PositionDecreased, StopLossPlaced, StopLossFailed,
    StopLossRemoved,
)


@dataclass(frozen=True, slots=True)
class NoticeView:
    """One outbox row to render: its notice, the market it concerns, the row id (a digest
    says which rows each message carries)."""

    notice: Notice
    market: Market | None = None
    owner: int = 0


def _title(n: Notice) -> tuple[str, str]:
    if isinstance(n, StopLossFailed) and n.unconfirmed:
        return "❓", "Stop loss not confirmed"
    if isinstance(n, StopLossFailed) and n.crossed_by:
        return "⚠️", "Stop loss not placed: price already crossed"
    return _TITLES.get(n.kind, ("ℹ️", esc(n.kind.value.replace("_", " ").capitalize())))


def _est(n: PositionNotice) -> str:
    return " <i>(est.)</i>" if n.estimated else ""


def _stop(n: PositionNotice, market: Market | None) -> str:
    return f"SL {fmt_price(n.stop_loss, market)}" if n.stop_loss is not None else "SL none"


def _header(n: Notice) -> str:
    icon, title = _title(n)
    if not isinstance(n, TradeNotice):
        return f"{icon} <b>{title}</b> · {esc(n.account)}"
    return f"{icon} <b>{title}</b> · <b>{esc(n.symbol)}</b> {side_label(n.side.value)}"


def _footer(n: Notice) -> str:
    if not isinstance(n, TradeNotice):
        return ""  # the header already names the account
    return f"<i>{source_label(n.source.value)} · {esc(n.account)}</i>"


def _ccy(n: TradeNotice, market: Market | None) -> str:
    return settle_of(n.symbol, market)


def _sizes(n: PositionNotice, m: Market | None) -> str:
    return (f"Size {fmt_size(n.size_before, m)} → {fmt_size(n.size_after, m)}"
            f" @ {fmt_price(n.price, m)}{_est(n)}")


def _closed_something(n: PositionNotice) -> bool:
    """The change's fills closed part of a position (its gross P&L is not nil): a take-profit or
    a round trip folded into a net add or open between two looks, as well as every decrease."""
    return n.realized_pnl + n.fees != 0


def _pnl_lines(n: PositionNotice, m: Market | None, *, trade: bool = True) -> list[str]:
    """What the change booked and (``trade``) the trade's running P&L, as a decrease says it."""
    ccy = _ccy(n, m)
    lines = [f"{PNL} <b>{fmt_money(n.realized_pnl, ccy)}</b>"
             f" · fees {fmt_money(n.fees, ccy, signed=False)}"]
    if trade:
        lines.append(f"Trade {PNL} {fmt_money(n.trade_realized_pnl, ccy)}")
    return lines


def _booked_lines(n: PositionOpened | PositionIncreased, m: Market | None, *,
                  trade: bool = True) -> list[str]:
    """An open or an increase says what it booked: what its fills also closed and its P&L
    (else the trader never sees that P&L), just its fees when they only added.
    An open is a new trade: its running P&L is the change's, so it is not said twice."""
    if _closed_something(n):
        also = [f"Also closed {fmt_size(n.closed, m)} @ {fmt_price(n.exit_price, m)}"
                ] if n.closed else []  # (older outbox rows do not say)
        return [*also, *_pnl_lines(n, m, trade=trade)]
    if not n.fees:
        return []  # no fills explained it (or free ones): nothing was booked
    ccy = _ccy(n, m)
    running = f" · trade {PNL} {fmt_money(n.trade_realized_pnl, ccy)}" if trade else ""
    return [f"Fees {fmt_money(n.fees, ccy, signed=False)}{running}"]


def _body_opened(n: PositionOpened, m: Market | None) -> list[str]:
    return [f"Size {fmt_size(n.size_after, m)} @ {fmt_price(n.price, m)}{_est(n)}",
            *_booked_lines(n, m, trade=False),
            f"Entry {fmt_price(n.avg_entry, m)} · {_stop(n, m)}"]


def _stop_resized(n: PositionNotice, m: Market | None) -> str:
    """The bot resizes a trade's stop order to the whole position right after a change, so the
    change's push says what the stop covers now (a failed resize is pushed on its own)."""
    if n.stop_loss is None:
        return _stop(n, m)
    return f"{_stop(n, m)} for {fmt_size(n.size_after, m)}"


def _body_increased(n: PositionIncreased, m: Market | None) -> list[str]:
    return [_sizes(n, m), *_booked_lines(n, m),
            f"Avg entry {fmt_price(n.avg_entry, m)} · {_stop_resized(n, m)}"]


def _body_decreased(n: PositionDecreased, m: Market | None) -> list[str]:
    lines = [_sizes(n, m), *_pnl_lines(n, m),
             f"Entry {fmt_price(n.avg_entry, m)} · {_stop_resized(n, m)}"]
    if n.by_bot:
        lines.append(esc(_REASONS[CloseReason.BY_BOT]))
    return lines


def _close_lines(n: PositionClosed, m: Market | None) -> list[str]:
    ccy = _ccy(n, m)
    lines = [f"Exit {fmt_price(n.price, m)}{_est(n)} · entry {fmt_price(n.avg_entry, m)}"
             f" · size {fmt_size(n.size_before, m)}",
             f"{PNL} <b>{fmt_money(n.realized_pnl, ccy)}</b> ({fmt_pct(n.pnl_pct)})"
             f" · fees {fmt_money(n.fees, ccy, signed=False)}"]
    if n.trade_realized_pnl != n.realized_pnl:  # the trade's entry fees and earlier closes
        earlier = n.trade_realized_pnl - n.realized_pnl
        parts = "entry fees, earlier closes" + (", funding" if n.funding else "")
        lines.append(f"Trade {PNL} {fmt_money(n.trade_realized_pnl, ccy)} · before this close "
                     f"{fmt_money(earlier, ccy)} ({parts})")
    if n.funding:
        lines.append(f"Funding {fmt_money(n.funding, ccy)} (inside the trade {PNL})")
    lines.append(f"Held {fmt_duration(n.held.total_seconds())} · {esc(_REASONS[n.reason])}")
    return lines


def _new_trade_booked(n: PositionFlipped, ccy: str) -> list[str]:
    """The new trade gets no push of its own: what its fills booked before this look is said
    here (its opening fees; a P&L when part of it was closed again in the same fills)."""
    if n.new_realized_pnl + n.new_fees != 0:
        return [f"New trade {PNL} <b>{fmt_money(n.new_realized_pnl, ccy)}</b>"
                f" · fees {fmt_money(n.new_fees, ccy, signed=False)}"]
    return [f"New trade fees {fmt_money(n.new_fees, ccy, signed=False)}"] if n.new_fees else []


def _body_flipped(n: PositionFlipped, m: Market | None) -> list[str]:
    return [*_close_lines(n, m),
            f"Now {side_label(n.new_side.value)} {fmt_size(n.new_size, m)}"
            f" @ {fmt_price(n.new_entry, m)}", *_new_trade_booked(n, _ccy(n, m))]


def _body_stop(n: StopNotice, m: Market | None) -> list[str]:
    gone = isinstance(n, (StopLossCleared, StopLossRemoved))
    size = f" for {fmt_size(n.size, m)}" if n.size and not gone else ""
    lines = [f"{'Was' if gone else 'Stop'} {fmt_price(n.price, m)}{size}"]
    if isinstance(n, StopLossPlaced) and n.order_id:
        lines.append(f"Order <code>{esc(n.order_id)}</code>")
    if isinstance(n, StopLossFailed) and n.unconfirmed:
        lines += ["The exchange did not say whether it took the stop order. The bot checks on "
                  "the next syncs, never places it twice, and tells you when it is settled."]
    elif isinstance(n, StopLossFailed) and n.crossed_by:
        lines += [_crossed_by(n.crossed_by, m),
                  "Your position is unprotected until the price is back on the right side; "
                  "the stop is placed then, or change it with /sl."]
    elif isinstance(n, StopLossFailed):
        lines += [f"Error: {esc(n.error)}", "The bot retries on the next sync."]
    if isinstance(n, StopLossCleared) and n.reason:
        lines.append(f"Reason: {esc(n.reason)}")
    if isinstance(n, StopLossRemoved):
        lines.append("⚠️ The position has no stop loss now.")
    return lines


def _crossed_by(why: str, m: Market | None) -> str:
    """The mark that is past the stop, or the exchange's words when it refused it."""
    mark = why.removeprefix("mark ")
    return f"Mark {fmt_price(mark, m)}" if mark != why else f"Exchange: {esc(why)}"


def _body_pending(n: PendingCancelled, _: Market | None) -> list[str]:
    return [f"Reason: {esc(n.reason or 'unknown')}"]


def _body_unreachable(n: ExchangeUnreachable, _: Market | None) -> list[str]:
    return [f"{n.failures} failed syncs in a row",
            f"Last error: <code>{esc(n.error)}</code>",
            "Positions shown may be stale until it recovers."]


def _body_recovered(n: ExchangeRecovered, _: Market | None) -> list[str]:
    return [f"Down for {fmt_duration(n.down_for.total_seconds())}"]


def _body_startup(n: Startup, _: Market | None) -> list[str]:
    lines = [f"Accounts: {esc(', '.join(n.accounts) or n.account)}",
             f"Open trades {n.open_trades} · pending {n.pending_trades}"]
    if n.unclean_stop:
        lines.append("⚠️ Started after an unclean stop (killed or crashed): stop orders are "
                     "re-checked on the first sync.")
    if n.fresh_record:
        lines.append("⚠️ The record was started fresh (no earlier trades in the database): "
                     "positions found are adopted, and positionbot's stops left on the exchange "
                     "are adopted or cancelled on the first sync, each reported.")
    return lines


def _body_stopped(n: Stopped, _: Market | None) -> list[str]:
    return [f"Reason: {esc(n.reason or 'unknown')}",
            f"Accounts: {esc(', '.join(n.accounts) or n.account)}",
            "Open trades are not watched until it starts again."
            if n.open_trades else "No open trades."]


def _body_watchdog(n: Watchdog, _: Market | None) -> list[str]:
    return [f"Job <code>{esc(n.job or '?')}</code>", esc(n.detail)]


def _body_daily(n: DailyReport, _: Market | None) -> list[str]:
    ccy = n.currency
    return [f"{esc(n.day)} · {PNL} <b>{fmt_money(n.net, ccy)}</b>",
            f"Price {fmt_money(n.price, ccy)} · fees {fmt_money(n.fees, ccy, signed=False)}"
            f" · funding {fmt_money(n.funding, ccy)}",
            f"{n.closes} closes · {n.wins} won",
            f"Open positions {n.open_positions} · unrealized {fmt_money(n.unrealized, ccy)}"]


_BODIES: dict[type[Any], Callable[[Any, Market | None], list[str]]] = {
    PositionOpened: _body_opened,
    PositionIncreased: _body_increased,
    PositionDecreased: _body_decreased,
    PositionClosed: _close_lines,
    StopLossHit: _close_lines,
    PositionFlipped: _body_flipped,
    StopLossPlaced: _body_stop,
    StopLossFailed: _body_stop,
    StopLossCleared: _body_stop,
    StopLossRemoved: _body_stop,
    PendingCancelled: _body_pending,
    ExchangeUnreachable: _body_unreachable,
    ExchangeRecovered: _body_recovered,
    Startup: _body_startup,
    Watchdog: _body_watchdog,
    Stopped: _body_stopped,
    DailyReport: _body_daily,
}


def notice_keyboard(n: Notice) -> InlineKeyboardMarkup:
    """Stop loss and close for a live trade; positions and sync for everything else."""
    if isinstance(n, PositionFlipped):
        return trade_push_keyboard(n.new_trade_id, n.account)
    if isinstance(n, _LIVE_TRADE_KINDS):
        return trade_push_keyboard(n.trade_id, n.account)
    return info_keyboard(n.account)


def render_notice(v: NoticeView) -> Reply:
    """One push as a message: header, a few body lines, origin footer, and its buttons."""
    n = v.notice
    lines = [_header(n), *_BODIES[type(n)](n, v.market), _footer(n)]
    return Reply("\n".join(line for line in lines if line), notice_keyboard(n))


def _summary_detail(n: Notice, m: Market | None) -> str:
    if isinstance(n, PositionFlipped | PositionClosed):  # (stop loss hit included)
        return (f"@ {fmt_price(n.price, m)}{_est(n)} · {PNL}"
                f" {fmt_money(n.realized_pnl, _ccy(n, m))} ({fmt_pct(n.pnl_pct)})")
    if isinstance(n, PositionNotice):
        detail = f"{fmt_size(n.size_after, m)} @ {fmt_price(n.price, m)}{_est(n)}"
        if isinstance(n, PositionDecreased) or _closed_something(n):
            detail += f" · {PNL} {fmt_money(n.realized_pnl, _ccy(n, m))}"
        return detail
    if isinstance(n, StopNotice):
        return f"@ {fmt_price(n.price, m)}"
    if isinstance(n, PendingCancelled):
        return esc(n.reason)
    if isinstance(n, DailyReport):
        return f"{esc(n.day)} · {PNL} {fmt_money(n.net, n.currency)}"
    return ""


def notice_summary(v: NoticeView) -> str:
    """One digest line: what happened, to what, and the figure that matters."""
    n = v.notice
    icon, title = _title(n)
    if isinstance(n, TradeNotice):
        subject = f"<b>{esc(n.symbol)}</b> {side_label(n.side.value)}"
        title = title.lower()
    else:
        subject = esc(n.account)
    return f"{icon} {title} · {subject} {_summary_detail(n, v.market)}".rstrip()


def render_digest(views: Sequence[NoticeView]) -> list[Chunk]:
    """Many pushes for one chat as few messages: one summary line each, under a header."""
    accounts = sorted({v.notice.account for v in views})
    header = f"🧾 <b>{len(views)} updates</b> · {esc(', '.join(accounts))}"
    return pack_blocks([(notice_summary(v), v.owner) for v in views], header)
