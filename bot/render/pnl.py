"""P&L replies: the /pnl summary, the /daily /weekly /monthly tables, /balance, the daily push.

Figures are per settle currency (USDT and BTC P&L never add up); money is shown rounded for
reading, while /export carries every digit.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from positionbot.bot.render.format import SAFE_MESSAGE_CHARS, esc, fmt_money, fmt_pct, settle_of
from positionbot.tracker.core.models import Balance
from positionbot.tracker.core.pnl import ClosedTrade, Period, PeriodRow, PnlEvent, Summary, summarize

PNL = "P&amp;L"
MAX_SYMBOL_ROWS = 25
"""The per-symbol table shows the best and worst rows beyond this many; /export has them all."""


def by_currency(events: Sequence[PnlEvent], closed: Sequence[ClosedTrade]
                ) -> dict[str, tuple[list[PnlEvent], list[ClosedTrade]]]:
    """Events and closed trades grouped by their symbol's settle currency, stable order."""
    groups: dict[str, tuple[list[PnlEvent], list[ClosedTrade]]] = {}
    for e in events:
        groups.setdefault(settle_of(e.symbol, None), ([], []))[0].append(e)
    for t in closed:
        groups.setdefault(settle_of(t.symbol, None), ([], []))[1].append(t)
    return groups


def scope_label(period: Period, account: str | None, symbol: str | None) -> str:
    parts = [esc(period.label)]
    if account:
        parts.append(f"account {esc(account)}")
    if symbol:
        parts.append(esc(symbol))
    return " · ".join(parts)


def _trade_ref(t: ClosedTrade | None, ccy: str) -> str:
    if t is None:
        return "—"
    return f"{fmt_money(t.net, ccy)} ({esc(t.symbol)} #{t.trade_id})"


def _summary_lines(s: Summary, ccy: str) -> list[str]:
    lines = [
        f"Net {PNL}: <b>{fmt_money(s.net, ccy)}</b>",
        f"  price {fmt_money(s.price, ccy)} · fees {fmt_money(-s.fees, ccy)}"
        f" · funding {fmt_money(s.funding, ccy)}",
    ]
    if s.closes:
        rate = fmt_pct(s.win_rate).lstrip("+")
        lines.append(f"Closed trades: {s.closes} · won {s.wins} · lost {s.losses} · win rate {rate}")
        lines.append(f"Avg win {fmt_money(s.avg_win, ccy) if s.avg_win is not None else '—'}"
                     f" · avg loss {fmt_money(s.avg_loss, ccy) if s.avg_loss is not None else '—'}")
        lines.append(f"Best {_trade_ref(s.best, ccy)}")
        lines.append(f"Worst {_trade_ref(s.worst, ccy)}")
    else:
        lines.append("No trade closed in this period.")
    rows = list(s.symbols)
    if rows:
        lines.append("")
        lines.append("<b>By symbol</b>")
        if len(rows) > MAX_SYMBOL_ROWS:
            half = MAX_SYMBOL_ROWS // 2
            hidden = len(rows) - 2 * half
            rows = [*rows[:half], *rows[-half:]]
            lines.extend(_symbol_line(r.symbol, r.net, r.closes, ccy) for r in rows[:half])
            lines.append(f"… {hidden} more (all of them in /export)")
            lines.extend(_symbol_line(r.symbol, r.net, r.closes, ccy) for r in rows[half:])
        else:
            lines.extend(_symbol_line(r.symbol, r.net, r.closes, ccy) for r in rows)
    return lines


def _symbol_line(symbol: str, net: Decimal, closes: int, ccy: str) -> str:
    return f"{'🟩' if net > 0 else '🟥' if net < 0 else '⬜'} {esc(symbol, 40)} {fmt_money(net, ccy)}" \
           f" · {closes} closed"


def render_pnl(events: Sequence[PnlEvent], closed: Sequence[ClosedTrade], label: str) -> str:
    """The /pnl reply: one block per settle currency, always within one message."""
    groups = by_currency(events, closed)
    if not groups:
        return f"📊 <b>{PNL}</b> · {label}\nNothing realized in this period."
    blocks = [f"📊 <b>{PNL}</b> · {label}"]
    for ccy, (evs, trades) in groups.items():
        lines = _summary_lines(summarize(evs, trades), ccy)
        blocks.append((f"<b>{esc(ccy)}</b>\n" if len(groups) > 1 else "") + "\n".join(lines))
    text = "\n\n".join(blocks)
    if len(text) > SAFE_MESSAGE_CHARS:
        text = text[:SAFE_MESSAGE_CHARS - 40].rsplit("\n", 1)[0] + "\n… (cut: see /export)"
    return text


def render_period_rows(title: str, rows: Sequence[PeriodRow], events: Sequence[PnlEvent]) -> str:
    """/daily, /weekly, /monthly: one line per period, newest first, with a total."""
    ccys = sorted({settle_of(e.symbol, None) for e in events}) or ["USDT"]
    ccy = ccys[0]
    lines = [f"📅 <b>{title}</b> · net {PNL} ({esc(ccy)})"]
    for r in rows:
        lines.append(f"<code>{esc(r.period.label):<18}</code> {fmt_money(r.net, ccy)}"
                     f" · {r.closes} closed")
    total = sum((r.net for r in rows), Decimal(0))
    lines.append(f"Total: <b>{fmt_money(total, ccy)}</b> · {sum(r.closes for r in rows)} closed")
    if len(ccys) > 1:
        lines.append("Other settle currencies are left out here; /pnl shows each.")
    return "\n".join(lines)


def render_balances(balances: Sequence[tuple[str, Balance | None, str | None]]) -> str:
    """/balance: per account its wallet, or why it could not be read."""
    lines = ["💰 <b>Balance</b>"]
    for account, b, error in balances:
        lines.append("")
        if b is None:
            lines.append(f"<b>{esc(account)}</b>: not available ({esc(error or 'unknown', 200)})")
            continue
        ccy = b.currency

        def money(v: Decimal | None, signed: bool = False, ccy: str = ccy) -> str:
            return fmt_money(v, ccy, signed=signed) if v is not None else "—"

        lines.append(f"<b>{esc(account)}</b> · {esc(ccy)}")
        lines.append(f"Wallet {money(b.wallet)} · available {money(b.available)}")
        lines.append(f"Unrealized {PNL} {money(b.unrealized_pnl, True)}"
                     f" · margin in use {money(b.margin_used)}")
    return "\n".join(lines)
