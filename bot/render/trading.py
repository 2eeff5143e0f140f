"""Messages and keyboards of the trading commands: previews to confirm and what the exchange did.

A preview says exactly what will be sent (side, size, price or "market ~mark", stop loss) so
the trader checks it before tapping Confirm; every dynamic value is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from positionbot.bot import callbacks
from positionbot.bot.render.format import (
    esc,
    fmt_duration,
    fmt_money,
    fmt_price,
    fmt_size,
    settle_of,
    side_label,
)
from positionbot.bot.render.listing import stop_state
from positionbot.tracker.core.models import Market, Order, Side, Trade
from positionbot.tracker.engine.commands import EntryPreview

CANCELLED = "✖ Cancelled — nothing was sent."
STALE_CONFIRM = ("This confirmation has expired or was already used — nothing was sent. "
                 "Send the command again.")
NOT_YOURS = "Only the person who asked can confirm this."
TOO_LATE = ("⌛ Your Confirm reached me too late for Telegram to take my answer, so nothing was "
            "sent. Tap Confirm again if you still want it (the preview holds for a short while).")


def confirm_keyboard(token: str, confirm_label: str = "✅ Confirm",
                     abort_label: str = "✖ Cancel") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(confirm_label, callback_data=callbacks.confirm(token)),
        InlineKeyboardButton(abort_label, callback_data=callbacks.abort(token)),
    ]])


def choices_keyboard(choices: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One button per (label, token); picking only previews, so no Cancel is needed."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=callbacks.pick(token))]
         for label, token in choices]
    )


def _units(market: Market) -> str:
    return esc(market.base) if market.contract_size == 1 else "contracts"


def _head(symbol: str, side: Side, account: str) -> str:
    return f"<b>{esc(symbol)}</b> {side_label(side.value)} · {esc(account)}"


def _validity(ttl: float) -> str:
    return f"<i>Nothing is sent until you tap Confirm (valid {fmt_duration(ttl)}).</i>"


def _stop_hint(p: EntryPreview) -> str:
    """An example stop 2% on the losing side of this entry (below a long's, above a short's),
    so the suggestion can be typed as it is; and the percent form."""
    reference = p.price if p.price is not None else p.reference_price
    if reference is None or reference <= 0:
        return "No stop loss (add <code>sl -2%</code>)"
    example = reference * (Decimal("0.98") if p.side is Side.LONG else Decimal("1.02"))
    return (f"No stop loss (add <code>sl {fmt_price(example, p.market)}</code> or "
            "<code>sl -2%</code>)")


def entry_preview(p: EntryPreview, stop_note: str, ttl: float) -> str:
    m = p.market
    how = (f"limit @ {fmt_price(p.price, m)}" if p.price is not None
           else f"market ~{fmt_price(p.reference_price, m)} (mark)")
    stop = (f"Stop loss {fmt_price(p.stop_loss, m)}{stop_note}" if p.stop_loss is not None
            else _stop_hint(p))
    return "\n".join([
        f"📝 <b>{'Buy' if p.side is Side.LONG else 'Sell'} to open</b> · "
        f"{_head(m.symbol, p.side, p.account)}",
        f"Size {fmt_size(p.amount, m)} {_units(m)} · {how}",
        f"Notional ≈ {fmt_money(p.notional, settle_of(m.symbol, m), signed=False)}",
        stop,
        _validity(ttl),
    ])


def entry_sent(p: EntryPreview, trade: Trade, pending_timeout: timedelta) -> str:
    m = p.market
    order = f"<code>{esc(trade.entry_order_id or '?')}</code>"
    lines = [f"✅ <b>Entry sent</b> · {_head(m.symbol, p.side, p.account)}"]
    if p.price is None:
        lines.append(f"Market order {order} accepted for {fmt_size(p.amount, m)} {_units(m)}.")
        lines.append(f"Trade #{trade.id} becomes a position with this sync; the push follows.")
    else:
        minutes = int(pending_timeout.total_seconds() // 60)
        lines.append(f"Limit order {order} resting at {fmt_price(p.price, m)} for "
                     f"{fmt_size(p.amount, m)} {_units(m)}.")
        lines.append(f"Trade #{trade.id} is pending until it fills; not filled within "
                     f"{minutes} min, it is cancelled (or now: <code>/cancel {trade.id}</code>).")
    if p.stop_loss is not None:
        lines.append(f"Stop loss {fmt_price(p.stop_loss, m)} is placed as soon as it fills.")
    return "\n".join(lines)


def close_preview(trade: Trade, market: Market | None, qty: Decimal, mark: Decimal | None,
                  ttl: float) -> str:
    full = qty == trade.size
    what = "Close all" if full else "Close part"
    part = "" if full else f" of {fmt_size(trade.size, market)}"
    price = f" ~{fmt_price(mark, market)} (mark)" if mark is not None else ""
    lines = [f"📝 <b>{what}</b> · {_head(trade.symbol, trade.side, trade.account)}",
             f"Reduce-only market {trade.side.exit_order_side.value} {fmt_size(qty, market)}"
             f"{part}{price}",
             f"Entry {fmt_price(trade.avg_entry_price, market)} · {stop_state(trade, market)}"]
    if mark is not None and trade.avg_entry_price > 0:
        sign = 1 if trade.side is Side.LONG else -1
        pnl = sign * (mark - trade.avg_entry_price) * qty * trade.contract_size
        lines.append(f"P&amp;L at the mark ≈ {fmt_money(pnl, settle_of(trade.symbol, market))}"
                     " before fees")
    lines.append(_validity(ttl))
    return "\n".join(lines)


def close_sent(trade: Trade, order: Order, market: Market | None) -> str:
    filled = (f", filled {fmt_size(order.filled, market)}" if order.filled > 0 else "")
    return "\n".join([
        f"✅ <b>Close sent</b> · {_head(trade.symbol, trade.side, trade.account)}",
        f"Reduce-only market {order.side.value} {fmt_size(order.amount, market)} · order "
        f"<code>{esc(order.id)}</code> {esc(order.status.value)}{filled}.",
        "The sync records the change; its push says it came from the bot.",
    ])


def cancel_preview(trade: Trade, market: Market | None, now: datetime, ttl: float) -> str:
    limit = (f" · limit {fmt_price(trade.entry_price_limit, market)}"
             if trade.entry_price_limit is not None else "")
    order = (f"Entry order <code>{esc(trade.entry_order_id)}</code> is cancelled on the exchange, "
             "then the trade." if trade.entry_order_id else "It has no entry order on record; "
             "only the trade is cancelled.")
    age = fmt_duration((now - trade.created_at).total_seconds()) if trade.created_at else "—"
    return "\n".join([
        f"📝 <b>Cancel pending entry #{trade.id}</b> · "
        f"{_head(trade.symbol, trade.side, trade.account)}",
        f"Pending {age}{limit} · {stop_state(trade, market)}",
        order,
        _validity(ttl),
    ])


def cancel_done(trade: Trade) -> str:
    return (f"🚫 <b>Pending entry #{trade.id} cancelled</b> · "
            f"{_head(trade.symbol, trade.side, trade.account)}\n"
            "Its entry order is cancelled on the exchange; nothing of it remains.")


def trade_label(trade: Trade, market: Market | None) -> str:
    """A button label naming one trade among several."""
    size = f" {fmt_size(trade.size, market)}" if trade.is_open else " pending"
    return f"#{trade.id} {trade.symbol} {trade.side.value}{size} · {trade.account}"
