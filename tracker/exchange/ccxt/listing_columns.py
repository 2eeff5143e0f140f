"""The Binance fast path's listings decoded on their significant columns only.

A 10,000-row listing parsed the usual way becomes 10,000 dicts of 20 to 30 strings each: the
parse, the comparison that touches every row and the freeing of it all cost several times the
request. A steady cycle only needs to know that no significant column moved. So, while the fast
path asks for a whole listing, ccxt's JSON hook (``on_json_response``, called inside ccxt's
request right where it would parse) decodes the body with msgspec into small frozen structs of
those columns, skipping every other field in C, and keeps the body: the full parse (ccxt's
own parser) runs only when a column moved or marks are due. Signing, the rate limiter and
ccxt's error mapping are untouched; an error body (an object), a truncated body or a row the
structs do not fit (a missing column, another type, not an object) goes through ccxt's own
parse as before, and the caller's row-by-row checks name what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

import msgspec


class PositionColumns(msgspec.Struct, frozen=True, rename="camel"):
    """A position row's significant columns (see ``fast_positions``)."""

    symbol: str
    position_side: str
    position_amt: str
    entry_price: str
    isolated_wallet: str


class StopColumns(msgspec.Struct, frozen=True, rename="camel"):
    """An open Algo order's significant columns."""

    algo_id: int | str
    algo_status: str
    quantity: str
    trigger_price: str


POSITIONS = msgspec.json.Decoder(list[PositionColumns])
STOPS = msgspec.json.Decoder(list[StopColumns])
_ROWS = msgspec.json.Decoder(list[msgspec.Raw])  # each row's own bytes, none parsed

# The decoder of the listing the current task is asking for, if any: set around one implicit
# API call, so concurrent requests on the same exchange parse as usual.
_DECODING: ContextVar[msgspec.json.Decoder[Any] | None] = ContextVar("listing_columns",
                                                                     default=None)


class Listing:
    """A listing's body, its significant columns decoded; ``rows`` parses the rest on demand."""

    __slots__ = ("_body", "_parse", "columns")

    def __init__(self, body: str, columns: list[Any], parse: Callable[[str], Any]) -> None:
        self._body = body
        self._parse = parse
        self.columns = columns

    def rows(self) -> Any:
        return self._parse(self._body)

    def rows_at(self, indices: Sequence[int]) -> list[Any]:
        """The rows at ``indices`` parsed in full, the others left as bytes."""
        if not indices:
            return []
        rows = _ROWS.decode(self._body)
        return [self._parse(bytes(rows[i]).decode()) for i in indices]


def install(exchange: Any) -> None:
    """Route the exchange's JSON parse through ``_parse`` (once per exchange instance)."""
    if getattr(exchange, "_positionbot_listing_columns", False):
        return
    parse: Callable[[str], Any] = exchange.on_json_response

    def on_json_response(body: str) -> Any:
        decoder = _DECODING.get()
        if decoder is not None and body[:1] == "[":
            try:
                return Listing(body, decoder.decode(body), parse)
            except msgspec.DecodeError:
                pass  # not rows of these columns: ccxt's parse, then the row-by-row checks
        return parse(body)

    exchange.on_json_response = on_json_response
    exchange._positionbot_listing_columns = True


async def decoded(decoder: msgspec.json.Decoder[Any], call: Callable[[], Any]) -> Any:
    """``call()``'s answer, a ``Listing`` when its body fits ``decoder``."""
    token = _DECODING.set(decoder)
    try:
        return await call()
    finally:
        _DECODING.reset(token)
