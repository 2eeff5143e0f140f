"""Number, time and text formatting shared by every message the bot renders.

Outbox fields arrive as plain strings written by another component, so every parser here
is total: a value that is not a number is shown as escaped text, never an exception.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from positionbot.tracker.core.models import Market

SAFE_MESSAGE_CHARS = 4000  # headroom under Telegram's 4096 for entity quirks
MAX_VALUE_CHARS = 300
_MAX_UNKNOWN_DECIMALS = 8
_MAX_PLAIN_DIGITS = 30
_MAX_DURATION_S = 100 * 365 * 86400  # beyond a century it is corrupt data, not a duration
_STABLE_SETTLE = frozenset({"USDT", "USDC", "USD", "BUSD", "FDUSD", "DAI", "TUSD", "USDE"})


def esc(value: object, max_chars: int = MAX_VALUE_CHARS) -> str:
    """Escape any dynamic value for Telegram HTML, bounded so no line can outgrow a message."""
    text = str(value)
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return html.escape(text, quote=True)


def to_decimal(raw: str | Decimal | None) -> Decimal | None:
    """A finite Decimal from a field string, or None when it is empty or not a number."""
    if raw is None or raw == "":
        return None
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(raw.strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _plain(value: Decimal) -> str:
    """Fixed-point text; absurd magnitudes (only from corrupt data) fall back to exponent form."""
    if value.is_zero():
        return format(value.copy_abs(), "f")
    if abs(value.adjusted()) > _MAX_PLAIN_DIGITS:
        return format(value, ".6E")
    return format(value, "f")


def _quantize(value: Decimal, step: Decimal | None) -> Decimal:
    """Round to ``step``'s decimals (or at most 8); a value too large to round stays as it is."""
    try:
        if step is not None and step > 0:
            exponent = min(int(step.normalize().as_tuple().exponent), 0)
            return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
        normal = value.normalize()
        if -int(normal.as_tuple().exponent) > _MAX_UNKNOWN_DECIMALS:
            normal = value.quantize(Decimal(1).scaleb(-_MAX_UNKNOWN_DECIMALS), ROUND_HALF_UP)
            normal = normal.normalize()
        return normal
    except InvalidOperation:
        return value


def fmt_number(raw: str | Decimal | None, step: Decimal | None = None) -> str:
    """Escaped text of a number at ``step``'s precision (a tick or amount step), else normalised."""
    value = to_decimal(raw)
    if value is None:
        return "—" if raw in (None, "") else esc(raw)
    return _plain(_quantize(value, step))


def fmt_price(raw: str | Decimal | None, market: Market | None) -> str:
    return fmt_number(raw, market.price_tick if market else None)


def fmt_size(raw: str | Decimal | None, market: Market | None) -> str:
    return fmt_number(raw, market.amount_step if market else None)


def settle_of(symbol: str, market: Market | None) -> str:
    """The currency P&L is paid in: the market's settle asset, else read from the symbol."""
    if market is not None and market.settle:
        return market.settle
    if ":" in symbol:
        return symbol.rsplit(":", 1)[1]
    return symbol.split("/", 1)[1] if "/" in symbol else ""


def money_shown(value: Decimal, currency: str) -> Decimal:
    """An amount as ``fmt_money`` shows it (cents for stablecoins), so a total of shown rows
    can be the sum of what the rows say."""
    return _quantize(value, Decimal("0.01") if currency.upper() in _STABLE_SETTLE else None)


def fmt_money(raw: str | Decimal | None, currency: str, *, signed: bool = True) -> str:
    """P&L with an explicit sign: cents for stablecoins, up to 8 decimals for coin-settled."""
    value = to_decimal(raw)
    if value is None:
        return fmt_number(raw)
    shown = money_shown(value, currency)
    text = _plain(shown)
    if signed and shown > 0:
        text = "+" + text
    return f"{text} {esc(currency)}".rstrip()


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 call``, ``2 calls``: the count with its noun in the right number."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def fmt_pct(raw: str | Decimal | None) -> str:
    value = to_decimal(raw)
    if value is None:
        return fmt_number(raw)
    shown = _quantize(value, Decimal("0.01"))
    return f"+{_plain(shown)}%" if shown > 0 else f"{_plain(shown)}%"


def fmt_duration(seconds: float | int | str | None) -> str:
    """Compact age: 45s, 5m 3s, 2h 5m, 3d 4h."""
    try:
        total = max(int(float(seconds if seconds is not None else "")), 0)
    except (ValueError, OverflowError):
        return "—"
    if total > _MAX_DURATION_S:
        return "—"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def fmt_ago(delta: timedelta | None) -> str:
    return "never" if delta is None else f"{fmt_duration(delta.total_seconds())} ago"


def side_label(side: str) -> str:
    return {"long": "🟢 LONG", "short": "🔴 SHORT"}.get(side, esc(side.upper()))


def source_label(source: str) -> str:
    return {"bot": "bot", "external": "manual"}.get(source, esc(source))


@dataclass(frozen=True, slots=True)
class Chunk:
    """One message's worth of text and the lines' owners (for digests: outbox row ids)."""

    text: str
    owners: tuple[int, ...] = ()


def split_message(text: str, limit: int = SAFE_MESSAGE_CHARS) -> list[str]:
    """Split on line boundaries so every part stays under ``limit`` characters.

    A single over-long line (never produced by our renderers) is cut hard, which can only
    happen inside plain text because every tagged fragment we emit is far shorter.
    """
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current.strip() or not parts:
        parts.append(current)
    return parts


def pack_blocks(
    blocks: list[tuple[str, int]], header: str, limit: int = SAFE_MESSAGE_CHARS
) -> list[Chunk]:
    """Pack (text, owner) blocks into as few messages as fit, each starting with ``header``."""
    chunks: list[Chunk] = []
    lines: list[str] = [header]
    owners: list[int] = []
    size = len(header)
    for text, owner in blocks:
        block = text
        if owners and size + 1 + len(block) > limit:
            chunks.append(Chunk("\n".join(lines), tuple(owners)))
            lines, owners, size = [header], [], len(header)
        lines.append(block)
        owners.append(owner)
        size += 1 + len(block)
    if owners:
        chunks.append(Chunk("\n".join(lines), tuple(owners)))
    return chunks


def sentence(text: str) -> str:
    """A refusal's text as a sentence: capital first letter, closing full stop."""
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."
