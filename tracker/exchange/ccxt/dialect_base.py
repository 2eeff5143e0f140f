"""The generic path of the gateway over ccxt, and the interface each exchange's dialect
overrides where that exchange truly differs (see ``dialects``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar

from positionbot.tracker.core.models import Fill, Market, Order, Position, Side
from positionbot.tracker.exchange.ccxt.normalize import (
    Raw,
    normalize_fill,
    normalize_order,
    normalize_position,
    to_decimal,
)

Fetch = Callable[[dict[str, Any]], Awaitable[list[Any]]]
# (since ms, limit, params) -> one page of ccxt trades
FetchTrades = Callable[[int | None, int | None, dict[str, Any]], Awaitable[list[Any]]]
MAX_PAGES = 100  # per look-up of fills (and per 7-day window of them)
LISTING_MAX_PAGES = 500
"""Pages of one account listing (positions, open stops) before the listing is refused as
runaway: Bybit pages stops 50 at a time, so this still reads 25,000 of them (100 pages held
only 5,000, and a larger book failed every cycle)."""
WEEK_MS = 7 * 24 * 3600 * 1000
LEGS = {"long": Side.LONG, "short": Side.SHORT}


def info_of(raw: Raw) -> Mapping[str, Any]:
    info = raw.get("info")
    return info if isinstance(info, Mapping) else {}


def exact_figures(raw: Raw, keys: Mapping[str, str]) -> dict[str, Any]:
    """``raw`` with unified figures replaced by the exchange's own strings where present."""
    info = info_of(raw)
    shell = dict(raw)
    for unified, key in keys.items():
        value = info.get(key)
        if value not in (None, ""):
            shell[unified] = value
    return shell

class Dialect:
    """The generic path: what ccxt's unified API does with no exchange-specific help."""

    open_stop_params: ClassVar[Mapping[str, Any]] = {"trigger": True}
    stop_extras: ClassVar[Mapping[str, Any]] = {}
    # Refusal codes meaning "this stop would trigger at once": its price is already crossed.
    crossed_stop_codes: ClassVar[frozenset[str]] = frozenset()
    ccxt_defaults: ClassVar[Mapping[str, Any]] = {}

    def order_params(self, client_id: str, leg: Side, hedge: bool, *, reduce: bool,
                     stop: bool) -> dict[str, Any]:
        """Parameters beyond ccxt's unified ones for one order on ``leg``."""
        params: dict[str, Any] = {"clientOrderId": client_id}
        if reduce:
            params["reduceOnly"] = True
        if hedge:
            params["hedged"] = True
        return params

    def cancel_params(self, stop: bool) -> dict[str, Any]:
        return {"trigger": True} if stop else {}

    async def lookup(self, exchange: Any, symbol: str, order_id: str | None,
                     client_id: str | None, stop: bool) -> Any:
        params: dict[str, Any] = {"trigger": True} if stop else {}
        if client_id is not None:
            params["clientOrderId"] = client_id
        return await exchange.fetch_order(order_id, symbol, params)

    @property
    def create_echoes_order(self) -> bool:
        return True

    async def collect(self, kind: str, fetch: Fetch, scope: dict[str, Any]) -> list[Any]:
        """Every row of one listing (``kind``: positions, orders, stops) in ``scope``."""
        return await fetch(dict(scope))

    async def hedged_when_flat(self, exchange: Any, markets: Mapping[str, Market]) -> bool | None:
        """The position mode of a flat account, when only a per-exchange request tells it."""
        return None

    async def trades(self, fetch: FetchTrades, since_ms: int, now_ms: int) -> list[Any] | None:
        """Every raw trade since ``since_ms`` where the exchange pages newest first; None where
        the shared oldest-first paging (``fills.collect_fills``) applies."""
        return None

    def listed_together(self, market: Mapping[str, Any]) -> bool:
        """Whether ``recent_trades`` lists this ccxt market's fills along with the others."""
        return False

    async def recent_trades(self, fetch: FetchTrades, since_ms: int, now_ms: int,
                            max_pages: int) -> tuple[list[Any], int] | None:
        """The account's raw trades on every symbol ``listed_together``, newest first back to
        ``since_ms`` or as far as ``max_pages`` reach, and the moment (ms) they are complete
        from; None where trades are listed per symbol only (Binance's need a symbol)."""
        return None

    def reclassify(self, exc: BaseException) -> BaseException:
        return exc

    def position(self, raw: Raw, market: Market | None, exchange_id: str) -> Position | None:
        return normalize_position(raw, market, exchange_id)

    def order(self, raw: Raw, exchange_id: str, *, is_stop: bool) -> Order:
        order = normalize_order(raw, exchange_id, is_stop=is_stop)
        if order.trigger_price is None and raw.get("stopLossPrice") not in (None, ""):
            order = replace(order, trigger_price=to_decimal(raw["stopLossPrice"], "stop trigger"))
        return order

    def fill(self, raw: Raw, settle: str, exchange_id: str, hedge: bool) -> Fill:
        return normalize_fill(raw, settle, exchange_id)

    def client_id_out(self, client_id: str) -> str:
        return client_id

    funding_page: int | None = None  # rows per funding-history request, where it is capped

    def funding_amount(self, raw: Raw) -> Decimal | None:
        """A funding payment, received positive, from the exchange's own string."""
        return None

    def wallet(self, raw: Raw, code: str) -> Decimal | None:
        """The wallet balance of ``code`` where ccxt's ``total`` is something else."""
        return None
