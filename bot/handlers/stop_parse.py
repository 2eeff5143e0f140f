"""Reading a stop-loss value typed after /sl, /long or /short: a price, a percent or "off"."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from positionbot.bot.handlers.numbers import NumberInputError, has_comma_number, read_number
from positionbot.bot.render.format import esc

_OFF_WORDS = frozenset({"off", "none", "clear", "remove"})


class StopInputError(ValueError):
    """A /sl request that cannot be carried out; the message is HTML, safe to send."""


@dataclass(frozen=True, slots=True)
class StopRequest:
    off: bool = False
    price: Decimal | None = None
    percent: Decimal | None = None  # distance on the losing side, always positive


def parse_stop_value(text: str) -> StopRequest:
    """A price, a percent or "off", read by the commands' one number reader (no commas)."""
    raw = text.strip()
    if raw.lower() in _OFF_WORDS:
        return StopRequest(off=True)
    is_percent = raw.endswith("%")
    number = raw[:-1].strip() if is_percent else raw
    try:
        value = read_number(number, "stop", signed=True)
    except NumberInputError as err:
        if "," in number:
            raise StopInputError(str(err)) from None
        raise StopInputError(f"<b>{esc(text)}</b> is not a price. Use a number like 58000, "
                             "a percent like -2%, or off.") from None
    if is_percent:
        if number.startswith("+"):
            raise StopInputError("A stop sits on the losing side of the mark: use "
                                 f"-{esc(number[1:])}% (below the mark for a long, above it "
                                 "for a short).")
        if value.is_zero():
            raise StopInputError("A 0% stop would fire at once; give a distance like -2%.")
        return StopRequest(percent=abs(value))
    if value <= 0:
        raise StopInputError(f"The stop price must be positive; got {esc(text)}.")
    return StopRequest(price=value)


def looks_like_value(text: str) -> bool:
    """A lone argument that is a stop value (or a number with a comma, to be refused)."""
    if has_comma_number(text):
        return True
    try:
        parse_stop_value(text)
    except StopInputError:
        return False
    return True
