"""Reading /long, /short, /close and /cancel, and the sizes and stops they mean: strict, because
these commands place orders. Every number goes through ``numbers.read_number``, which refuses
commas rather than guess what they mean.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from positionbot.bot.handlers.numbers import (
    NumberInputError,
    has_comma_number,
    looks_numeric,
    read_number,
)
from positionbot.bot.handlers.stop_parse import StopInputError, StopRequest, parse_stop_value
from positionbot.bot.render.format import esc
from positionbot.tracker.core.models import Market, Side
from positionbot.tracker.core.stoploss import percent_stop_price, round_stop_price
from positionbot.tracker.engine.commands import round_amount

ENTRY_USAGE = ("Usage: <code>/{cmd} BTC 0.01</code> (market) · <code>/{cmd} BTC 0.01 @59000</code> "
               "(limit) · add <code>sl 58000</code> or <code>sl -2%</code> for a stop loss")
CLOSE_USAGE = ("Usage: <code>/close BTC</code> (all) · <code>/close BTC 50%</code> · "
               "<code>/close BTC 0.004</code> · <code>/close</code> to pick a position")
CANCEL_USAGE = ("Usage: <code>/cancel 12</code> (trade #12) · <code>/cancel BTC</code> · "
                "<code>/cancel</code> to pick a pending entry")
_TRADE_ID = re.compile(r"#?([1-9][0-9]{0,11})")
_ALL_WORDS = frozenset({"all", "full", "100%"})


class TradeInputError(ValueError):
    """Arguments that cannot become an order; the message is HTML, safe to send."""


@dataclass(frozen=True, slots=True)
class EntryRequest:
    query: str
    side: Side
    amount: Decimal
    price: Decimal | None  # None: a market order
    stop: StopRequest | None


@dataclass(frozen=True, slots=True)
class ClosePortion:
    """All of a position (both None), a percent of it, or an amount in contracts."""

    percent: Decimal | None = None
    amount: Decimal | None = None

    @property
    def full(self) -> bool:
        return self.percent is None and self.amount is None


@dataclass(frozen=True, slots=True)
class CancelTarget:
    trade_id: int | None = None
    query: str | None = None


def positive_number(text: str, what: str) -> Decimal:
    """A plain positive decimal (no sign, exponent or separators)."""
    try:
        value = read_number(text, what)
    except NumberInputError as err:
        raise TradeInputError(str(err)) from None
    if value <= 0:
        raise TradeInputError(f"The {what} must be above zero; got {esc(text)}.")
    return value


def _is_number(text: str) -> bool:
    return has_comma_number(text) or looks_numeric(text)


def parse_entry(side: Side, args: Sequence[str]) -> EntryRequest:
    """``SYMBOL QTY [@PRICE] [sl PRICE|-N%]`` in that order of the first two, the rest any order."""
    cmd = "long" if side is Side.LONG else "short"
    usage = ENTRY_USAGE.format(cmd=cmd)
    if len(args) < 2:
        raise TradeInputError(usage)
    if _is_number(args[0]) and not _is_number(args[1]):
        raise TradeInputError(f"Symbol first, then size: <code>/{cmd} {esc(args[1])} "
                              f"{esc(args[0])}</code>")
    amount = positive_number(args[1], "size")
    price: Decimal | None = None
    stop: StopRequest | None = None
    rest = list(args[2:])
    while rest:
        token = rest.pop(0)
        if token.startswith("@"):
            if price is not None:
                raise TradeInputError(f"Give one limit price.\n{usage}")
            raw = token[1:] or (rest.pop(0) if rest else "")
            price = positive_number(raw, "price")
        elif token.lower() == "sl":
            if stop is not None or not rest:
                raise TradeInputError(f"<code>sl</code> takes one price or percent.\n{usage}")
            stop = _entry_stop(rest.pop(0))
        else:
            raise TradeInputError(f"I don't understand <b>{esc(token)}</b>.\n{usage}")
    return EntryRequest(args[0], side, amount, price, stop)


def _entry_stop(text: str) -> StopRequest:
    try:
        request = parse_stop_value(text)
    except StopInputError as err:
        raise TradeInputError(str(err)) from None
    if request.off:
        raise TradeInputError("Leave out <code>sl</code> for an entry without a stop loss.")
    return request


def parse_portion(text: str) -> ClosePortion:
    raw = text.strip().lower()
    if raw in _ALL_WORDS:
        return ClosePortion()
    if raw.endswith("%"):
        percent = positive_number(raw[:-1].strip(), "percent")
        if percent > 100:
            raise TradeInputError(f"Close at most 100%; got {esc(text)}.")
        return ClosePortion() if percent == 100 else ClosePortion(percent=percent)
    return ClosePortion(amount=positive_number(raw, "size"))


def parse_cancel(text: str) -> CancelTarget:
    match = _TRADE_ID.fullmatch(text.strip())
    if match is not None:
        return CancelTarget(trade_id=int(match.group(1)))
    return CancelTarget(query=text)


def close_quantity(size: Decimal, step: Decimal | None, portion: ClosePortion) -> Decimal:
    """Contracts to close: a percent rounds down to the step, an amount must sit on it."""
    if portion.full:
        return size
    if portion.percent is not None:
        qty = size * portion.percent / 100
        qty = round_amount(qty, step) if step else qty
        if qty <= 0:
            raise TradeInputError(f"{esc(portion.percent)}% of {esc(size)} rounds to nothing at "
                                  f"this market's step {esc(step)}.")
        return qty
    assert portion.amount is not None
    if step and round_amount(portion.amount, step) != portion.amount:
        raise TradeInputError(f"The size must be a multiple of {esc(step)}; "
                              f"got {esc(portion.amount)}.")
    if portion.amount > size:
        raise TradeInputError(f"Only {esc(size)} is open; close at most that, or give a percent.")
    return portion.amount


def entry_stop_price(request: EntryRequest, market: Market | None, mark: Decimal | None,
                     symbol: str) -> tuple[Decimal | None, str]:
    """The stop price an entry asks for (a percent counts from the limit price, else the mark)."""
    stop = request.stop
    if stop is None:
        return None, ""
    side, note = request.side, ""
    if stop.percent is not None:
        reference = request.price if request.price is not None else mark
        if reference is None:
            raise TradeInputError(f"No mark price for <b>{esc(symbol)}</b> yet: give the stop as "
                                  "a price, or a limit price with @PRICE.")
        if side is Side.LONG and stop.percent >= 100:
            raise TradeInputError(f"{esc(stop.percent)}% would put a long's stop at or below zero.")
        price = percent_stop_price(side, reference, stop.percent)
        origin = "entry" if request.price is not None else "mark"
        note = f" ({'-' if side is Side.LONG else '+'}{esc(stop.percent)}% from the {origin})"
    else:
        assert stop.price is not None
        price = stop.price
    if market is not None:
        price = round_stop_price(side, price, market.price_tick)
    if price <= 0:
        raise TradeInputError("That stop rounds to zero at this market's tick.")
    return price, note
