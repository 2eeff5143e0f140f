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
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from positionbot.tracker.core.models import Market, Order, Position, PositionMode
from positionbot.tracker.exchange.ccxt.normalize import Malformed, normalize_order, normalize_position

Row = Mapping[str, Any]
RowKey = tuple[str, str]  # (exchange symbol id, positionSide)

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


def _rows(answer: object, what: str) -> list[Row]:
    if not isinstance(answer, list) or not all(isinstance(r, Mapping) for r in answer):
        raise Malformed(f"{what}: expected a list of objects, got {type(answer).__name__}")
    return answer


class BinancePositionRows:
    """The last raw position rows of one account and the positions built from them."""

    def __init__(self, exchange: Any, mark_refresh_s: float = 60.0) -> None:
        self._exchange = exchange
        self._mark_refresh_s = mark_refresh_s
        self._built: dict[RowKey, tuple[tuple[object, ...], Position]] = {}
        self._last: tuple[Position, ...] = ()
        self._built_at = float("-inf")
        self.rows_built = 0  # rows normalised so far (the benchmark reads it)

    def symbol_id(self, symbol: str) -> str:
        return str(self._exchange.market(symbol)["id"])

    async def fetch(self, symbols: Sequence[str] = ()) -> list[Row]:
        """The raw rows: all of them, or one request per symbol in ``symbols``."""
        if not symbols:
            return _rows(await self._exchange.fapiPrivateV3GetPositionRisk({}), "position risk")
        rows: list[Row] = []
        for symbol in symbols:
            rows += _rows(await self._exchange.fapiPrivateV3GetPositionRisk(
                {"symbol": self.symbol_id(symbol)}), f"position risk of {symbol}")
        return rows

    def positions(self, rows: Sequence[Row], markets: Mapping[str, Market], *,
                  partial: bool = False) -> tuple[Position, ...]:
        """Positions of ``rows``, unchanged rows reusing their last object; with ``partial``
        (a per-symbol read) the cache is consulted but not replaced."""
        refresh = time.monotonic() - self._built_at >= self._mark_refresh_s and not partial
        built: dict[RowKey, tuple[tuple[object, ...], Position]] = {}
        positions: list[Position] = []
        changed = False
        for row in rows:
            amount = row.get("positionAmt")
            if _is_zero(amount):
                continue
            key: RowKey = (str(row.get("symbol")), str(row.get("positionSide")))
            fields = (amount, row.get("entryPrice"), row.get("marginType"),
                      _is_zero(row.get("isolatedMargin", "0")))
            last = self._built.get(key)
            if last is not None and last[0] == fields and not refresh:
                position = last[1]
            else:
                position = self._build(row, markets)
                changed = True
            built[key] = (fields, position)
            positions.append(position)
        if partial:
            return tuple(positions)
        if not changed and len(built) == len(self._built):
            return self._last  # the same tuple: nothing changed
        self._built = built
        self._last = tuple(positions)
        if refresh:
            self._built_at = time.monotonic()
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
        return position

    @staticmethod
    def mode(rows: Sequence[Row]) -> PositionMode | None:
        for row in rows:
            side = row.get("positionSide")
            if isinstance(side, str):
                return PositionMode.ONE_WAY if side == "BOTH" else PositionMode.HEDGE
        return None


class BinanceStopRows:
    """The last raw open Algo orders of one account and the orders built from them."""

    def __init__(self, exchange: Any) -> None:
        self._exchange = exchange
        self._built: dict[object, tuple[tuple[object, ...], Order]] = {}
        self._last: list[Order] = []

    async def fetch(self) -> list[Order]:
        """Open stops; the very same list when none changed."""
        rows = _rows(await self._exchange.fapiPrivateGetOpenAlgoOrders({}), "open algo orders")
        built: dict[object, tuple[tuple[object, ...], Order]] = {}
        orders: list[Order] = []
        changed = False
        for row in rows:
            key = row.get("algoId")
            fields = (row.get("algoStatus"), row.get("quantity"), row.get("triggerPrice"),
                      row.get("updateTime"), row.get("actualOrderId"))
            last = self._built.get(key)
            if last is not None and last[0] == fields:
                order = last[1]
            else:
                order = self._build(row)
                changed = True
            built[key] = (fields, order)
            orders.append(order)
        if not changed and len(built) == len(self._built):
            return self._last
        self._built = built
        self._last = orders
        return orders

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
