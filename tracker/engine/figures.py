"""Numbers in the engine's refusal texts, written the way the chat writes them (bot.render):
at the market's precision when there is one, else without trailing zeros; always fixed-point,
never full Decimal precision (``60123.456000000``) or exponents (``1E-8``). Pure, so the engine
words its own refusals without importing the bot."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENTS = Decimal("0.01")


def shown(value: Decimal, step: Decimal | None = None) -> str:
    """``value`` at ``step``'s decimals (a price tick or an amount step), else normalised."""
    try:
        if step is not None and step > 0:
            exponent = min(int(step.normalize().as_tuple().exponent), 0)
            value = value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
        else:
            value = value.normalize()
    except InvalidOperation:  # too large to round (only from corrupt data): as it is
        pass
    return format(value, "f")


def money(value: Decimal, currency: str) -> str:
    """An order value: cents and the settle currency (``5.94 USDT``)."""
    return f"{shown(value, CENTS)} {currency}".rstrip()
