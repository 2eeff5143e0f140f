"""Binance USDⓈ-M fast path: positions and open stops read from the raw rows, built only when
they changed.

At 10,000 positions ccxt's unified parse of ``/fapi/v3/positionRisk`` costs far more than the
request itself, and almost every row is the same as a cycle ago. So the raw endpoints are called
through ccxt's implicit API methods (the same signing, rate limiter and error mapping
``fetch_positions`` and ``fetch_open_orders(trigger=True)`` use), each row is compared with the
last one seen on its exchange fields (size, entry, side, margin mode; for stops their id, status,
amount and trigger), and only a row that differs is normalised — through the same
``normalize_position`` / ``normalize_order`` as the generic path, from a minimal unified shell
around the raw row. Unchanged rows give back the very same objects, and a listing in which
nothing changed gives back the very same tuple, so the cycle can tell "nothing changed" by
identity. Marks and unrealised P&L of unchanged rows are refreshed every ``mark_refresh_s``.

A whole listing normally arrives decoded on its significant columns only (``listing_columns``):
it is compared as a list of small structs, and when some moved, rows seen before are looked up
by their columns and only the others are parsed and built. A body those structs do not fit
arrives parsed by ccxt and is compared column by column as read (``_unchanged``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from itertools import compress, count, repeat
from operator import attrgetter, eq, is_, itemgetter
from typing import Any, cast

from positionbot.tracker.core.models import Market, Order, Position, PositionMode
from positionbot.tracker.exchange.ccxt import listing_columns
from positionbot.tracker.exchange.ccxt.listing_columns import (
    Listing,
    PositionColumns,
    StopColumns,
    decoded,
)
from positionbot.tracker.exchange.ccxt.normalize import Malformed, normalize_order, normalize_position

Row = Mapping[str, Any]
RowKey = tuple[str, str]  # (exchange symbol id, positionSide)
_ROW_KEY = attrgetter("symbol", "position_side")
_ALGO_ID = attrgetter("algo_id")
_UNSEEN = object()  # a decoded row not seen in the last listing

# ccxt's own statuses for the Algo service's states an open listing shows.
_ALGO_STATUS = {"NEW": "open", "TRIGGERING": "open", "TRIGGERED": "closed", "FINISHED": "closed",
                "CANCELED": "canceled", "EXPIRED": "expired", "REJECTED": "rejected"}


def fast_path_available(exchange: Any) -> bool:
    """Binance USDⓈ-M, where the v3 position risk and open Algo orders endpoints exist."""
    return (getattr(exchange, "id", "") == "binanceusdm"
            and hasattr(exchange, "fapiPrivateV3GetPositionRisk")
            and hasattr(exchange, "fapiPrivateGetOpenAlgoOrders"))


def _is_zero(text: object) -> bool:
    try:
        return float(str(text)) == 0.0
    except ValueError:
        return False


def _listing(answer: object, what: str) -> list[Any]:
    if not isinstance(answer, list):
        raise Malformed(f"{what}: expected a list of objects, got {type(answer).__name__}")
    return answer


def _objects(rows: list[Any], what: str) -> list[Row]:
    """``rows`` once every one is an object (a per-symbol read, or a listing with a row short
    of a column: the rows are then looked at one by one)."""
    if not set(map(type, rows)) <= {dict}:
        raise Malformed(f"{what}: expected a list of objects")
    return rows


# What a change is read from: the significant columns of every row as one tuple, read in C
# (``itemgetter`` over ``map``) and compared with the last listing's as they are read, so a
# listing in which nothing changed costs one pass and builds nothing. Positions: which one
# (symbol, side), size (signed), entry and the isolated wallet (zero when cross; v3 has no
# ``marginType``); marks and unrealised P&L are left out on purpose, they move every cycle.
# Stops: which one, status, amount, trigger.
_POSITION_COLUMNS = ("symbol", "positionSide", "positionAmt", "entryPrice", "isolatedWallet")
_STOP_COLUMNS = ("algoId", "algoStatus", "quantity", "triggerPrice")
Columns = list[tuple[Any, ...]]


def _getter(rows: list[Any], columns: tuple[str, ...]) -> itemgetter[Any]:
    """The columns' getter, keyed by the first row's own key objects: JSON parsers reuse one
    key object per name, so each look-up then matches by identity, not by comparing strings."""
    names = {key: key for key in rows[0]} if rows and type(rows[0]) is dict else {}
    return itemgetter(*(names.get(column, column) for column in columns))


def _unchanged(rows: list[Any], columns: tuple[str, ...], last: Columns | None,
               what: str) -> bool:
    """Whether every row's significant columns are those of the last listing, row for row.
    A row that lacks one is a change (the full read then names it); a row that is not an
    object cannot be indexed by name: the listing is malformed."""
    if last is None or len(rows) != len(last):
        return False
    try:
        return all(map(eq, map(_getter(rows, columns), rows), last))
    except KeyError:
        return False
    except TypeError as exc:
        raise Malformed(f"{what}: expected a list of objects") from exc


def _raw_state(rows: list[Any], columns: tuple[str, ...], what: str) -> Columns | None:
    """The rows' significant columns to compare the next listing with, or None when a row
    lacks one (then every row is looked at, and the normalisation of a changed one names what
    is missing)."""
    try:
        return list(map(_getter(rows, columns), rows))
    except KeyError:
        _objects(rows, what)
        return None
    except TypeError as exc:
        raise Malformed(f"{what}: expected a list of objects") from exc


def _same(answer: list[Any] | Listing, columns: list[Any] | None, raw: Columns | None,
          names: tuple[str, ...], what: str) -> bool:
    """Whether the listing is the last one on its significant columns: as decoded, or as read
    row by row when the body did not decode (see ``listing_columns``)."""
    if isinstance(answer, Listing):
        return answer.columns == columns
    return _unchanged(answer, names, raw, what)


def _rows_of(answer: list[Any] | Listing, what: str) -> list[Any]:
    return _listing(answer.rows(), what) if isinstance(answer, Listing) else answer


def _seen_before(answer: Listing, cache: Mapping[Any, Any] | None, identity: attrgetter[Any],
                 what: str) -> tuple[list[Any], list[tuple[int, Row]]] | None:
    """What each row of a listing was built into when it was seen before (looked up by its
    columns, in C; ``_UNSEEN`` otherwise), and the unseen rows parsed, by index. None (read
    everything) when there is nothing to look up, most rows are unseen, or two rows share an
    identity (the full read's rules decide then)."""
    if cache is None:
        return None
    columns = answer.columns
    found = list(map(cache.get, columns, repeat(_UNSEEN)))
    missing = list(compress(count(), map(is_, found, repeat(_UNSEEN))))
    if len(missing) * 4 > len(columns) or len(set(map(identity, columns))) < len(columns):
        return None
    return found, list(zip(missing, _objects(answer.rows_at(missing), what), strict=True))


class BinancePositionRows:
    """The last raw position rows of one account and the positions built from them."""

    def __init__(self, exchange: Any, mark_refresh_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        listing_columns.install(exchange)
        self._exchange = exchange
        self._mark_refresh_s = mark_refresh_s
        self._clock = clock
        self._built: dict[RowKey, tuple[tuple[object, ...], Position]] = {}
        self._raw: Columns | None = None  # the last full listing's columns, as read row by row
        self._columns: list[Any] | None = None  # the same, as decoded (``listing_columns``)
        # What each decoded row was built into (a position, or _FLAT for a zero size): a row
        # seen before is looked up, so a changed listing parses and builds its new rows only.
        self._by_columns: dict[PositionColumns, Position | None] | None = None
        self._last: tuple[Position, ...] = ()
        self._built_at = float("-inf")
        self.rows_built = 0  # rows normalised so far (the benchmark reads it)

    def symbol_id(self, symbol: str) -> str:
        return str(self._exchange.market(symbol)["id"])

    async def fetch(self, symbols: Sequence[str] = ()) -> list[Row] | Listing:
        """The raw rows: all of them, or one request per symbol in ``symbols``."""
        if not symbols:
            answer = await decoded(listing_columns.POSITIONS,
                                   lambda: self._exchange.fapiPrivateV3GetPositionRisk({}))
            return answer if isinstance(answer, Listing) else _listing(answer, "position risk")
        rows: list[Row] = []
        for symbol in symbols:
            rows += _objects(_listing(await self._exchange.fapiPrivateV3GetPositionRisk(
                {"symbol": self.symbol_id(symbol)}), f"position risk of {symbol}"),
                f"position risk of {symbol}")
        return rows

    def positions(self, answer: list[Any] | Listing, markets: Mapping[str, Market], *,
                  partial: bool = False) -> tuple[Position, ...]:
        """Positions of the rows, unchanged rows reusing their last object; with ``partial``
        (a per-symbol read) the cache is consulted but not replaced."""
        refresh = self._clock() - self._built_at >= self._mark_refresh_s and not partial
        columns = answer.columns if isinstance(answer, Listing) else None
        if not (partial or refresh) and _same(answer, self._columns, self._raw,
                                              _POSITION_COLUMNS, "position risk"):
            return self._last  # the same tuple: nothing changed
        if isinstance(answer, Listing) and not (partial or refresh):
            positions = self._changed_rows(answer, markets)
            if positions is not None:
                return positions
        rows = _rows_of(answer, "position risk")
        raw = None if partial else _raw_state(rows, _POSITION_COLUMNS, "position risk")
        built: dict[RowKey, tuple[tuple[object, ...], Position]] = {}
        per_row: list[Position | None] = []
        for row in rows:
            if _is_zero(row.get("positionAmt")):
                per_row.append(None)
                continue
            key: RowKey = (str(row.get("symbol")), str(row.get("positionSide")))
            fields = (row.get("positionAmt"), row.get("entryPrice"), row.get("isolatedWallet"))
            last = self._built.get(key)
            if last is None or last[0] != fields or refresh:
                last = (fields, self._build(row, markets))
            built[key] = last
            per_row.append(last[1])
        positions = tuple(position for _, position in built.values())
        if partial:
            return positions
        self._built, self._last, self._raw, self._columns = built, positions, raw, columns
        self._by_columns = (dict(zip(columns, per_row, strict=True))
                            if columns is not None and len(columns) == len(per_row) else None)
        if refresh:
            self._built_at = self._clock()
        return positions

    def _changed_rows(self, answer: Listing, markets: Mapping[str, Market]
                      ) -> tuple[Position, ...] | None:
        """The positions of a listing in which some rows moved: the rows seen before looked up
        by their columns (in C), only the others parsed and built. None (read everything) when
        there is nothing to look up, most rows moved, or two rows name one position."""
        seen = _seen_before(answer, self._by_columns, _ROW_KEY, "position risk")
        if seen is None:
            return None
        found, missing = seen
        for i, row in missing:
            found[i] = None if _is_zero(row.get("positionAmt")) else self._build(row, markets)
        self._by_columns = dict(zip(answer.columns, cast(list[Position | None], found),
                                    strict=True))
        self._last = tuple(p for p in found if isinstance(p, Position))
        self._columns, self._raw = answer.columns, None  # a listing read row by row: in full
        return self._last

    def _build(self, row: Row, markets: Mapping[str, Market]) -> Position:
        self.rows_built += 1
        market = self._exchange.safe_market(row.get("symbol"), None, None, "contract")
        symbol = str(market["symbol"])
        margin_mode = row.get("marginType")
        if margin_mode is None and "isolatedMargin" in row:
            margin_mode = "cross" if _is_zero(row["isolatedMargin"]) else "isolated"
        shell = {"symbol": symbol, "info": row, "marginMode": margin_mode,
                 "contractSize": market.get("contractSize")}
        position = normalize_position(shell, markets.get(symbol), "binanceusdm")
        if position is None:  # _is_zero and the Decimal disagree only on garbage
            raise Malformed(f"position {symbol}: unreadable size {row.get('positionAmt')!r}")
        if not position.entry_price > 0:  # ccxt's parse would drop it: never read as closed
            raise Malformed(f"position {symbol}: a size but no entry price "
                            f"({row.get('entryPrice')!r}): not read as closed")
        return position

    @staticmethod
    def mode(answer: Sequence[Row] | Listing) -> PositionMode | None:
        if isinstance(answer, Listing):
            side = answer.columns[0].position_side if answer.columns else None
            return None if side is None else (
                PositionMode.ONE_WAY if side == "BOTH" else PositionMode.HEDGE)
        for row in answer:
            side = row.get("positionSide") if isinstance(row, dict) else None
            if isinstance(side, str):
                return PositionMode.ONE_WAY if side == "BOTH" else PositionMode.HEDGE
        return None


class BinanceStopRows:
    """The last raw open Algo orders of one account and the orders built from them."""

    def __init__(self, exchange: Any) -> None:
        listing_columns.install(exchange)
        self._exchange = exchange
        self._built: dict[object, tuple[tuple[object, ...], Order]] = {}
        self._raw: Columns | None = None
        self._columns: list[Any] | None = None
        self._by_columns: dict[StopColumns, Order] | None = None  # as for positions
        self._last: list[Order] = []

    async def fetch(self) -> list[Order]:
        """Open stops; the very same list when none changed."""
        answer = await decoded(listing_columns.STOPS,
                               lambda: self._exchange.fapiPrivateGetOpenAlgoOrders({}))
        return self.orders(answer if isinstance(answer, Listing)
                           else _listing(answer, "open algo orders"))

    def orders(self, answer: list[Any] | Listing) -> list[Order]:
        """The orders of a listing, unchanged rows reusing their last object."""
        columns = answer.columns if isinstance(answer, Listing) else None
        if _same(answer, self._columns, self._raw, _STOP_COLUMNS, "open algo orders"):
            return self._last
        if isinstance(answer, Listing):
            seen = _seen_before(answer, self._by_columns, _ALGO_ID, "open algo orders")
            if seen is not None:
                found, missing = seen
                for i, row in missing:
                    found[i] = self._build(row)
                self._by_columns = dict(zip(answer.columns, found, strict=True))
                self._columns, self._raw, self._last = answer.columns, None, found
                return found
        rows = _rows_of(answer, "open algo orders")
        raw = _raw_state(rows, _STOP_COLUMNS, "open algo orders")
        built = self._built
        fresh: dict[object, tuple[tuple[object, ...], Order]] = {}
        per_row: list[Order] = []
        for row in rows:
            fields = (row.get("algoStatus"), row.get("quantity"), row.get("triggerPrice"))
            last = built.get(row.get("algoId"))
            if last is None or last[0] != fields:
                last = (fields, self._build(row))
            fresh[row.get("algoId")] = last
            per_row.append(last[1])
        self._built, self._raw, self._columns = fresh, raw, columns
        self._by_columns = (dict(zip(columns, per_row, strict=True))
                            if columns is not None and len(columns) == len(per_row) else None)
        self._last = [order for _, order in fresh.values()]
        return self._last

    def _build(self, row: Row) -> Order:
        market = self._exchange.safe_market(row.get("symbol"), None, None, "contract")
        side = row.get("side")
        shell = {
            "id": str(row.get("algoId")), "symbol": market["symbol"], "info": row,
            "side": side.lower() if isinstance(side, str) else side,
            "status": _ALGO_STATUS.get(str(row.get("algoStatus")), "open"),
            "clientOrderId": row.get("clientAlgoId"), "timestamp": row.get("createTime"),
            "reduceOnly": row.get("reduceOnly") is True,
        }
        return normalize_order(shell, "binanceusdm", is_stop=True)
