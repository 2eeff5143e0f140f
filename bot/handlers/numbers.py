"""The one reader for every number typed into a command (sizes, prices, percents, stops).

Commas are refused outright, never guessed: ``2,5`` may mean two and a half or (with the
comma taken as a thousands separator) twenty-five, and guessing wrong would place a stop or an
order ten or a hundred times too far.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from positionbot.bot.render.format import esc

MAX_NUMBER_CHARS = 24
_UNSIGNED = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_SIGNED = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class NumberInputError(ValueError):
    """Text that is not a number we accept; the message is HTML, safe to send."""


def has_comma_number(text: str) -> bool:
    """Text that would be a number but for a comma: it must be refused, not read as a name."""
    return "," in text and bool(_SIGNED.fullmatch(text.rstrip("%").strip().replace(",", "")))


def read_number(text: str, what: str, *, signed: bool = False) -> Decimal:
    """A plain decimal (a leading sign only when ``signed``); no exponent, no separators."""
    if "," in text:
        raise NumberInputError(
            f"<b>{esc(text)}</b>: write the {what} with a dot for decimals (like 2.5) and no "
            "thousands separators (like 58000). I never guess what a comma means.")
    pattern = _SIGNED if signed else _UNSIGNED
    if len(text) > MAX_NUMBER_CHARS or not pattern.fullmatch(text):
        raise NumberInputError(f"<b>{esc(text)}</b> is not a valid {what}.")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise NumberInputError(f"<b>{esc(text)}</b> is not a valid {what}.") from None


def looks_numeric(text: str) -> bool:
    """Unsigned digits with at most one dot: a size typed where a symbol was expected."""
    return bool(_UNSIGNED.fullmatch(text))
