"""Pushes: every NoticeKind's outbox fields rendered as compact Telegram HTML.

Each kind has a full message (what a single push shows) and a one-line summary (what a
digest shows). Every dynamic value goes through ``esc`` or a number formatter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from positionbot.bot.render.format import (
    Chunk,
    esc,
    fmt_duration,
    fmt_money,
    fmt_number,
    fmt_pct,
    fmt_price,
    fmt_size,
    pack_blocks,
    settle_of,
    side_label,
    source_label,
    to_decimal,
)
from positionbot.bot.render.keyboards import info_keyboard, trade_push_keyboard
from positionbot.tracker.core.models import Market, NoticeKind

PNL = "P&amp;L"
Fields = Mapping[str, str]

_TITLES: dict[str, tuple[str, str]] = {
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
}
_REASONS = {
    "manual": "closed by hand", "closed": "closed on the exchange", "stop_loss": "stop loss",
    "bot_close": "closed by the bot", "dust": "shrank to dust", "flipped": "flipped",
}
_LIVE_TRADE_KINDS = frozenset({  # the trade is still open after these: offer its buttons
    NoticeKind.OPENED, NoticeKind.INCREASED, NoticeKind.DECREASED, NoticeKind.STOP_LOSS_PLACED,
    NoticeKind.STOP_LOSS_FAILED, NoticeKind.STOP_LOSS_REMOVED,
})
_MAX_UNKNOWN_FIELDS = 10
_TRADE_ID = re.compile(r"[1-9][0-9]{0,11}")


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    keyboard: InlineKeyboardMarkup | None = None


@dataclass(frozen=True, slots=True)
class NoticeView:
    """What the renderer needs of one outbox row."""

    kind: str
    account: str
    fields: Fields
    market: Market | None = None
    owner: int = 0  # the outbox row id, so a digest knows which rows each message carries


def _title(kind: str) -> tuple[str, str]:
    return _TITLES.get(kind, ("ℹ️", esc(kind.replace("_", " ").capitalize())))


def _est(f: Fields) -> str:
    return " <i>(est.)</i>" if f.get("estimated") == "1" else ""


def _stop(f: Fields, market: Market | None) -> str:
    return f"SL {fmt_price(f['stop_loss'], market)}" if f.get("stop_loss") else "SL none"


def _header(v: NoticeView) -> str:
    icon, title = _title(v.kind)
    symbol = v.fields.get("symbol")
    if not symbol:
        return f"{icon} <b>{title}</b> · {esc(v.account)}"
    return f"{icon} <b>{title}</b> · <b>{esc(symbol)}</b> {side_label(v.fields.get('side', ''))}"


def _footer(v: NoticeView) -> str:
    if not v.fields.get("symbol"):
        return ""  # the header already names the account
    source = v.fields.get("source")
    origin = f"{source_label(source)} · " if source else ""
    return f"<i>{origin}{esc(v.account)}</i>"


def _ccy(v: NoticeView) -> str:
    return settle_of(v.fields.get("symbol", ""), v.market)


def _sizes(v: NoticeView) -> str:
    f, m = v.fields, v.market
    return (f"Size {fmt_size(f.get('size_before'), m)} → {fmt_size(f.get('size_after'), m)}"
            f" @ {fmt_price(f.get('price'), m)}{_est(f)}")


def _body_opened(v: NoticeView) -> list[str]:
    f, m = v.fields, v.market
    return [f"Size {fmt_size(f.get('size_after'), m)} @ {fmt_price(f.get('price'), m)}{_est(f)}",
            f"Entry {fmt_price(f.get('avg_entry'), m)} · {_stop(f, m)}"]


def _body_increased(v: NoticeView) -> list[str]:
    f, m = v.fields, v.market
    return [_sizes(v), f"Avg entry {fmt_price(f.get('avg_entry'), m)} · {_stop(f, m)}"]


def _body_decreased(v: NoticeView) -> list[str]:
    f, m, ccy = v.fields, v.market, _ccy(v)
    lines = [_sizes(v),
             f"{PNL} <b>{fmt_money(f.get('realized_pnl'), ccy)}</b>"
             f" · fees {fmt_money(f.get('fees'), ccy, signed=False)}",
             f"Trade {PNL} {fmt_money(f.get('trade_realized_pnl'), ccy)}",
             f"Entry {fmt_price(f.get('avg_entry'), m)} · {_stop(f, m)}"]
    if f.get("reason") == "bot_close":
        lines.append(esc(_REASONS["bot_close"]))
    return lines


def _close_lines(v: NoticeView) -> list[str]:
    f, m, ccy = v.fields, v.market, _ccy(v)
    lines = [f"Exit {fmt_price(f.get('price'), m)}{_est(f)} · entry {fmt_price(f.get('avg_entry'), m)}"
             f" · size {fmt_size(f.get('size_before'), m)}",
             f"{PNL} <b>{fmt_money(f.get('realized_pnl'), ccy)}</b> ({fmt_pct(f.get('pnl_pct'))})"
             f" · fees {fmt_money(f.get('fees'), ccy, signed=False)}"]
    total, this = to_decimal(f.get("trade_realized_pnl")), to_decimal(f.get("realized_pnl"))
    if total is not None and total != this:
        lines.append(f"Trade {PNL} {fmt_money(total, ccy)}")
    reason = f.get("reason", "")
    lines.append(f"Held {fmt_duration(f.get('duration_s'))} · {esc(_REASONS.get(reason, reason))}")
    return lines


def _body_flipped(v: NoticeView) -> list[str]:
    f, m = v.fields, v.market
    return [*_close_lines(v),
            f"Now {side_label(f.get('new_side', ''))} {fmt_size(f.get('new_size'), m)}"
            f" @ {fmt_price(f.get('new_entry'), m)}"]


def _body_stop(v: NoticeView) -> list[str]:
    f, m = v.fields, v.market
    gone = v.kind in (NoticeKind.STOP_LOSS_CLEARED, NoticeKind.STOP_LOSS_REMOVED)
    size = f" for {fmt_size(f['size'], m)}" if f.get("size") and not gone else ""
    lines = [f"{'Was' if gone else 'Stop'} {fmt_price(f.get('price'), m)}{size}"]
    if f.get("order_id"):
        lines.append(f"Order <code>{esc(f['order_id'])}</code>")
    if f.get("error"):
        lines.append(f"Error: {esc(f['error'])}")
    if f.get("reason"):
        lines.append(f"Reason: {esc(f['reason'])}")
    if v.kind == NoticeKind.STOP_LOSS_FAILED:
        lines.append("The bot retries on the next sync.")
    if v.kind == NoticeKind.STOP_LOSS_REMOVED:
        lines.append("⚠️ The position has no stop loss now.")
    return lines


def _body_pending(v: NoticeView) -> list[str]:
    return [f"Reason: {esc(v.fields.get('reason', 'unknown'))}"]


def _body_unreachable(v: NoticeView) -> list[str]:
    f = v.fields
    return [f"{fmt_number(f.get('failures'))} failed syncs in a row",
            f"Last error: <code>{esc(f.get('error', ''))}</code>",
            "Positions shown may be stale until it recovers."]


def _body_recovered(v: NoticeView) -> list[str]:
    return [f"Down for {fmt_duration(v.fields.get('down_s'))}"]


def _body_startup(v: NoticeView) -> list[str]:
    f = v.fields
    lines = [f"Accounts: {esc(f.get('accounts', v.account))}",
             f"Open trades {fmt_number(f.get('open_trades'))}"
             f" · pending {fmt_number(f.get('pending_trades'))}"]
    if f.get("unclean_stop") == "1":
        lines.append("⚠️ Started after an unclean stop (killed or crashed): stop orders are "
                     "re-checked on the first sync.")
    return lines


def _body_stopped(v: NoticeView) -> list[str]:
    f = v.fields
    return [f"Reason: {esc(f.get('reason', 'unknown'))}",
            f"Accounts: {esc(f.get('accounts', v.account))}",
            "Open trades are not watched until it starts again."
            if f.get("open_trades", "0") != "0" else "No open trades."]


def _body_watchdog(v: NoticeView) -> list[str]:
    f = v.fields
    return [f"Job <code>{esc(f.get('job', '?'))}</code>", esc(f.get("detail", ""))]


def _body_unknown(v: NoticeView) -> list[str]:
    items = sorted(v.fields.items())[:_MAX_UNKNOWN_FIELDS]
    return [f"{esc(key)}: {esc(value)}" for key, value in items]


_BODIES: dict[str, Callable[[NoticeView], list[str]]] = {
    NoticeKind.OPENED: _body_opened,
    NoticeKind.INCREASED: _body_increased,
    NoticeKind.DECREASED: _body_decreased,
    NoticeKind.CLOSED: _close_lines,
    NoticeKind.STOP_LOSS_HIT: _close_lines,
    NoticeKind.FLIPPED: _body_flipped,
    NoticeKind.STOP_LOSS_PLACED: _body_stop,
    NoticeKind.STOP_LOSS_FAILED: _body_stop,
    NoticeKind.STOP_LOSS_CLEARED: _body_stop,
    NoticeKind.STOP_LOSS_REMOVED: _body_stop,
    NoticeKind.PENDING_CANCELLED: _body_pending,
    NoticeKind.EXCHANGE_UNREACHABLE: _body_unreachable,
    NoticeKind.EXCHANGE_RECOVERED: _body_recovered,
    NoticeKind.STARTUP: _body_startup,
    NoticeKind.WATCHDOG: _body_watchdog,
    NoticeKind.STOPPED: _body_stopped,
}


def _trade_id(f: Fields, key: str) -> int | None:
    raw = f.get(key, "")
    return int(raw) if _TRADE_ID.fullmatch(raw) else None


def notice_keyboard(v: NoticeView) -> InlineKeyboardMarkup:
    """Stop loss and close for a live trade; positions and sync for everything else."""
    live_id = _trade_id(v.fields, "new_trade_id") if v.kind == NoticeKind.FLIPPED else (
        _trade_id(v.fields, "trade_id") if v.kind in _LIVE_TRADE_KINDS else None
    )
    if live_id is not None:
        return trade_push_keyboard(live_id, v.account)
    return info_keyboard(v.account)


def render_notice(v: NoticeView) -> Rendered:
    """One push as a message: header, a few body lines, origin footer, and its buttons."""
    body = _BODIES.get(v.kind, _body_unknown)(v)
    lines = [_header(v), *body, _footer(v)]
    return Rendered("\n".join(line for line in lines if line), notice_keyboard(v))


def notice_summary(v: NoticeView) -> str:
    """One digest line: what happened, to what, and the figure that matters."""
    f, m = v.fields, v.market
    icon, title = _title(v.kind)
    subject = (f"<b>{esc(f['symbol'])}</b> {side_label(f.get('side', ''))}"
               if f.get("symbol") else esc(v.account))
    detail = ""
    if v.kind in (NoticeKind.OPENED, NoticeKind.INCREASED, NoticeKind.DECREASED):
        detail = f"{fmt_size(f.get('size_after'), m)} @ {fmt_price(f.get('price'), m)}{_est(f)}"
    if v.kind == NoticeKind.DECREASED:
        detail += f" · {PNL} {fmt_money(f.get('realized_pnl'), _ccy(v))}"
    elif v.kind in (NoticeKind.CLOSED, NoticeKind.STOP_LOSS_HIT, NoticeKind.FLIPPED):
        detail = (f"@ {fmt_price(f.get('price'), m)}{_est(f)} · {PNL}"
                  f" {fmt_money(f.get('realized_pnl'), _ccy(v))} ({fmt_pct(f.get('pnl_pct'))})")
    elif v.kind.startswith("stop_loss"):
        detail = f"@ {fmt_price(f.get('price'), m)}"
    elif v.kind == NoticeKind.PENDING_CANCELLED:
        detail = esc(f.get("reason", ""))
    return f"{icon} {title.lower() if f.get('symbol') else title} · {subject} {detail}".rstrip()


def render_digest(views: Sequence[NoticeView]) -> list[Chunk]:
    """Many pushes for one chat as few messages: one summary line each, under a header."""
    accounts = sorted({v.account for v in views})
    header = f"🧾 <b>{len(views)} updates</b> · {esc(', '.join(accounts))}"
    return pack_blocks([(notice_summary(v), v.owner) for v in views], header)
