"""Command replies: the /positions listing, /history, /status and the /sync report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from positionbot.bot.render.format import (
    esc,
    fmt_ago,
    fmt_duration,
    fmt_money,
    fmt_pct,
    fmt_price,
    fmt_size,
    money_shown,
    plural,
    settle_of,
    side_label,
    source_label,
)
from positionbot.tracker.core.ledger import AppliedChange
from positionbot.tracker.core.models import ChangeKind, Market, Position, SyncState, Trade, TradeStatus
from positionbot.tracker.engine.report import CycleReport, EntryMismatch

PNL = "P&amp;L"
_MAX_REPORT_LINES = 30


@dataclass(frozen=True, slots=True)
class StreamHealth:
    """An account's user-data stream, as /status shows it."""

    connected: bool
    last_event_at: datetime | None
    reconnects_today: int


@dataclass(frozen=True, slots=True)
class AccountView:
    """One account as /positions and /status show it, read from the tracker's memory."""

    account: str
    sync: SyncState
    trades: Sequence[Trade]
    positions: Mapping[int, Position] = field(default_factory=dict)  # by trade id
    markets: Mapping[str, Market] = field(default_factory=dict)
    report: CycleReport | None = None
    stream: StreamHealth | None = None  # None: the account is polled only
    failing_since: datetime | None = None  # the exchange is not answering right now


def _age(since: datetime | None, now: datetime) -> str:
    return fmt_duration((now - since).total_seconds()) if since else "—"


def stop_state(trade: Trade, market: Market | None) -> str:
    if trade.stop_loss_price is None:
        return "no SL"
    price = fmt_price(trade.stop_loss_price, market)
    if trade.stop_loss_note:
        return f"SL {price} ⚠️"
    return f"SL {price} (pending)" if trade.has_pending_stop else f"SL {price} ✅"


def unrealized(trade: Trade, position: Position | None) -> tuple[Decimal, Decimal] | None:
    """Unrealized P&L and its % of the entry notional, from the exchange's figure or the mark."""
    if position is None:
        return None
    pnl = position.unrealized_pnl
    if pnl is None and position.mark_price is not None:
        sign = 1 if trade.side.value == "long" else -1
        pnl = sign * (position.mark_price - trade.avg_entry_price) * trade.size * trade.contract_size
    basis = trade.avg_entry_price * trade.size * trade.contract_size
    if pnl is None:
        return None
    return pnl, (pnl / basis * 100 if basis else Decimal(0))


def _trade_lines(trade: Trade, view: AccountView, now: datetime) -> list[str]:
    market = view.markets.get(trade.symbol)
    head = f"<b>{esc(trade.symbol)}</b> {side_label(trade.side.value)}"
    if trade.status is TradeStatus.PENDING:
        limit = (f" · limit {fmt_price(trade.entry_price_limit, market)}"
                 if trade.entry_price_limit is not None else "")
        return [f"⏳ {head} pending{limit}",
                f"{stop_state(trade, market)} · {_age(trade.created_at, now)}"]
    position = view.positions.get(trade.id)
    mark = position.mark_price if position else None
    lines = [f"{head} {fmt_size(trade.size, market)} · {source_label(trade.source.value)}",
             f"Entry {fmt_price(trade.avg_entry_price, market)} · mark {fmt_price(mark, market)}"]
    upnl = unrealized(trade, position)
    money = (f"u{PNL} <b>{fmt_money(upnl[0], settle_of(trade.symbol, market))}</b>"
             f" ({fmt_pct(upnl[1])})" if upnl else f"u{PNL} —")
    lines.append(f"{money} · {stop_state(trade, market)} · {_age(trade.opened_at, now)}")
    margin_line = _margin_line(trade, position, market)
    if margin_line:
        lines.append(margin_line)
    return lines


def _margin_line(trade: Trade, position: Position | None, market: Market | None) -> str:
    """Leverage, liquidation price, margin and return on margin, where the exchange reports
    the leverage (margin = notional at the mark / leverage; ROE = unrealized P&L / margin)."""
    if position is None or not position.leverage:
        return ""
    ccy = settle_of(trade.symbol, market)
    margin = position.notional / position.leverage
    parts = [f"{position.leverage.normalize():f}x {esc(position.margin_mode or '')}".rstrip()]
    if position.liquidation_price:
        parts.append(f"liq {fmt_price(position.liquidation_price, market)}")
    parts.append(f"margin {fmt_money(margin, ccy, signed=False)}")
    upnl = unrealized(trade, position)
    if upnl is not None and margin:
        parts.append(f"ROE {fmt_pct(upnl[0] / margin * 100)}")
    return " · ".join(parts)


def _sync_line(view: AccountView, now: datetime) -> list[str]:
    last = view.sync.last_success_at
    synced = f"synced {fmt_ago(now - last)}" if last else "never synced"
    lines = [f"📊 <b>{esc(view.account)}</b> · {synced}"]
    if view.sync.consecutive_failures > 0:
        lines.append(
            f"⚠️ Exchange unreachable: {view.sync.consecutive_failures} failed syncs"
            f" (last error: {esc(view.sync.last_error or 'unknown', 200)})."
            " Showing the last known data; it may be stale."
        )
    elif view.failing_since is not None:
        lines.append(f"⚠️ The exchange is not answering (for "
                     f"{fmt_duration((now - view.failing_since).total_seconds())});"
                     " retrying. Showing the last known data; it may be stale.")
    return lines


def render_positions(views: Sequence[AccountView], now: datetime) -> str:
    """Every open and pending trade per account, newest data first-class, stale data flagged."""
    blocks: list[str] = []
    for view in views:
        lines = _sync_line(view, now)
        trades = sorted(view.trades, key=lambda t: (t.status is TradeStatus.PENDING, t.id))
        if not trades:
            lines.append("No open positions.")
        for trade in trades:
            lines.append("")
            lines.extend(_trade_lines(trade, view, now))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "No accounts configured."


def render_history(trades: Sequence[Trade], now: datetime,
                   funding: Mapping[int, Decimal] | None = None) -> str:
    """Finished trades, newest first, with net P&L totals per settle currency; the funding a
    trade paid or received (part of its net) is shown beside it."""
    if not trades:
        return "📜 No closed trades yet."
    lines = [f"📜 <b>History</b> · last {len(trades)}"]
    totals: dict[str, Decimal] = {}
    for t in trades:
        ccy = settle_of(t.symbol, None)
        head = f"<b>{esc(t.symbol)}</b> {side_label(t.side.value)}"
        when = _age(t.closed_at or t.created_at, now)
        if t.status is TradeStatus.CANCELLED:
            lines.append(f"🚫 {head} cancelled · {esc(t.close_reason or '')} · {when} ago")
            continue
        totals[ccy] = totals.get(ccy, Decimal(0)) + money_shown(t.realized_pnl, ccy)  # as shown
        held = (fmt_duration((t.closed_at - t.opened_at).total_seconds())
                if t.closed_at and t.opened_at else "—")
        reason = esc((t.close_reason or "closed").replace("_", " "))
        paid = (funding or {}).get(t.id)
        with_funding = f" (funding {fmt_money(paid, ccy)})" if paid else ""
        lines.append(f"🏁 {head} · <b>{fmt_money(t.realized_pnl, ccy)}</b>{with_funding}"
                     f" · held {held} · {reason} · {when} ago")
    if totals:
        lines.append("Total: " + " · ".join(fmt_money(v, k) for k, v in sorted(totals.items())))
    return "\n".join(lines)


def render_status(
    views: Sequence[AccountView], backlog: int, version: str, uptime_s: float,
    mismatches: Sequence[EntryMismatch], now: datetime,
) -> str:
    lines = [f"ℹ️ <b>Status</b> · positionbot {esc(version)} · up {fmt_duration(uptime_s)}"]
    for view in views:
        state = "✅" if view.sync.consecutive_failures == 0 else "⚠️"
        last = view.sync.last_success_at
        opened = sum(t.is_open for t in view.trades)
        pending = len(view.trades) - opened
        lines.append(f"{state} <b>{esc(view.account)}</b> · synced "
                     f"{fmt_ago(now - last) if last else 'never'} · {opened} open · "
                     f"{pending} pending · {plural(view.sync.consecutive_failures, 'failure')}")
        if view.report is not None:
            r = view.report
            lines.append(f"   last cycle {r.duration_s:.2f}s · {plural(r.exchange_calls, 'call')} · "
                         f"{plural(len(r.changes), 'change')} · {'ok' if r.ok else 'failed'}")
        if view.stream is not None:
            lines.append("   " + _stream_line(view.stream, now))
        if view.sync.last_error and view.sync.consecutive_failures:
            lines.append(f"   last error: {esc(view.sync.last_error, 200)}")
    lines.append(f"Outbox backlog: {backlog}")
    markets = {symbol: market for view in views for symbol, market in view.markets.items()}
    for m in mismatches[:10]:  # (in the market's format, like every other price)
        market = markets.get(m.symbol)
        lines.append(f"⚠️ Entry differs #{m.trade_id} {esc(m.symbol)}: ours "
                     f"{fmt_price(m.ours, market)}, exchange {fmt_price(m.exchange, market)}")
    return "\n".join(lines)


def _stream_line(stream: StreamHealth, now: datetime) -> str:
    state = "stream connected" if stream.connected else "⚠️ stream down, polling"
    last = (f"last event {fmt_ago(now - stream.last_event_at)}" if stream.last_event_at
            else "no event yet")
    return f"{state} · {last} · {plural(stream.reconnects_today, 'reconnect')} today"


def _change_line(c: AppliedChange, market: Market | None) -> str:
    """One applied change: "opened BTC LONG 0.010 @ 60000.0", with P&L when it realized some."""
    before, after = fmt_size(c.size_before, market), fmt_size(c.size_after, market)
    if c.size_before == 0:
        sizes = after
    elif c.size_after == 0:
        sizes = before
    else:
        sizes = f"{before} → {after}"
    price = f" @ {fmt_price(c.price, market)}" if c.price is not None else ""
    est = " (est.)" if c.estimated else ""
    reduced = c.kind in (ChangeKind.DECREASED, ChangeKind.CLOSED, ChangeKind.FLIPPED)
    pnl = (f" · {PNL} {fmt_money(c.realized_pnl, settle_of(c.trade.symbol, market))}"
           if reduced else "")
    return (f"• {esc(c.kind.value)} <b>{esc(c.trade.symbol)}</b> "
            f"{side_label(c.trade.side.value)} {sizes}{price}{est}{pnl}")


def render_sync_report(reports: Sequence[CycleReport], markets: Mapping[str, Market]) -> str:
    """What a cycle did: changes, stop-loss actions and errors, bounded in length."""
    lines: list[str] = []
    for r in reports:
        if not r.ok:
            lines.append(f"❌ <b>{esc(r.account)}</b> sync failed: {esc('; '.join(r.errors))}")
            continue
        lines.append(f"✅ <b>{esc(r.account)}</b> synced in {r.duration_s:.2f}s · "
                     f"{plural(r.positions, 'position')} · {plural(r.exchange_calls, 'call')}")
        lines.extend(_change_line(c, markets.get(c.trade.symbol)) for c in r.changes)
        lines.extend(f"• {esc(action)}" for action in r.actions)
        lines.extend(f"⚠️ {esc(error)}" for error in r.errors)
        if not r.changes and not r.actions:
            lines.append("No changes.")
    if len(lines) > _MAX_REPORT_LINES:
        hidden = len(lines) - _MAX_REPORT_LINES
        lines = [*lines[:_MAX_REPORT_LINES], f"… and {hidden} more lines (see /positions)"]
    return "\n".join(lines)
