"""OKX v5 through ccxt 4.5.90: what differs from the generic path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar

from positionbot.tracker.core.models import Fill, Market, Order, Position, Side
from positionbot.tracker.engine.ports import TransientExchangeError
from positionbot.tracker.exchange.ccxt.dialect_base import (
    LEGS,
    LISTING_MAX_PAGES,
    MAX_PAGES,
    Dialect,
    Fetch,
    FetchTrades,
    exact_figures,
    info_of,
)
from positionbot.tracker.exchange.ccxt.normalize import (
    Raw,
    normalize_fill,
    normalize_position,
    to_decimal,
)


class Okx(Dialect):
    """OKX v5: swaps in contracts, stop losses as ``conditional`` algo orders."""

    open_stop_params: ClassVar[Mapping[str, Any]] = {"trigger": True, "ordType": "conditional"}
    stop_extras: ClassVar[Mapping[str, Any]] = {"slTriggerPxType": "mark"}
    # 51277-51280: a TP or SL trigger price on the wrong side of the last price
    crossed_stop_codes: ClassVar[frozenset[str]] = frozenset({"51277", "51278", "51279", "51280"})
    ccxt_defaults: ClassVar[Mapping[str, Any]] = {
        "options": {"fetchMarkets": {"types": ["swap", "future"]}},
        "has": {"fetchCurrencies": False}}
    _id_marker = "X"

    def order_params(self, client_id: str, leg: Side, hedge: bool, *, reduce: bool,
                     stop: bool) -> dict[str, Any]:
        params: dict[str, Any] = {
            "algoClOrdId" if stop else "clientOrderId": self.client_id_out(client_id)}
        if hedge:
            params["positionSide"] = leg.value  # long/short mode: the leg closes by itself
        elif reduce:
            params["reduceOnly"] = True
        return params

    async def lookup(self, exchange: Any, symbol: str, order_id: str | None,
                     client_id: str | None, stop: bool) -> Any:
        params: dict[str, Any] = {"trigger": True} if stop else {}
        if client_id is not None:
            params["clientOrderId"] = self.client_id_out(client_id)
        return await exchange.fetch_order(order_id, symbol, params)

    @property
    def create_echoes_order(self) -> bool:
        return False

    async def collect(self, kind: str, fetch: Fetch, scope: dict[str, Any]) -> list[Any]:
        if kind == "positions":
            return await fetch(dict(scope))
        rows: list[Any] = []
        params: dict[str, Any] = {**scope, "limit": 100}
        key = "algoId" if kind == "stops" else "ordId"
        for _ in range(LISTING_MAX_PAGES):
            page = await fetch(dict(params))
            rows.extend(page)
            if len(page) < 100:
                return rows
            params["after"] = min(int(info_of(r)[key]) for r in page)
        raise TransientExchangeError(f"okx: more than {LISTING_MAX_PAGES} pages of {kind}")

    async def trades(self, fetch: FetchTrades, since_ms: int, now_ms: int) -> list[Any] | None:
        """Fills history (three months), pages of 100 newest first, older ones ``after`` the
        oldest ``billId`` seen."""
        rows: list[Any] = []
        params: dict[str, Any] = {}
        for _ in range(MAX_PAGES):
            page = await fetch(since_ms, None, dict(params))
            rows.extend(page)
            if len(page) < 100:
                return rows
            params["after"] = min(int(info_of(r)["billId"]) for r in page)
        raise TransientExchangeError(f"okx: more than {MAX_PAGES} pages of fills")

    def listed_together(self, market: Mapping[str, Any]) -> bool:
        return bool(market.get("swap"))

    async def recent_trades(self, fetch: FetchTrades, since_ms: int, now_ms: int,
                            max_pages: int) -> tuple[list[Any], int] | None:
        """Fills history of every swap (``instType=SWAP``), pages of 100 newest first."""
        rows: list[Any] = []
        params: dict[str, Any] = {"type": "swap"}
        for _ in range(max_pages):
            page = await fetch(since_ms, None, dict(params))
            rows.extend(page)
            if len(page) < 100:
                return rows, since_ms
            params["after"] = min(int(info_of(r)["billId"]) for r in page)
        return rows, min(int(r["timestamp"]) for r in rows) + 1  # that millisecond may go on

    funding_page = 100

    def funding_amount(self, raw: Raw) -> Decimal | None:
        change = info_of(raw).get("balChg")
        return None if change in (None, "") else to_decimal(change, "funding bill")

    def wallet(self, raw: Raw, code: str) -> Decimal | None:
        """ccxt's ``total`` is OKX's ``eq`` (equity); the wallet is ``cashBal``."""
        data = info_of(raw).get("data")
        accounts = data if isinstance(data, list) else []
        for account in accounts:
            for detail in account.get("details") or () if isinstance(account, Mapping) else ():
                if isinstance(detail, Mapping) and detail.get("ccy") == code \
                        and detail.get("cashBal") not in (None, ""):
                    return to_decimal(detail["cashBal"], f"balance {code}")
        return None

    def client_id_out(self, client_id: str) -> str:
        """OKX ids are letters and digits only: the bot's dashes travel as ``X``."""
        if re.fullmatch(r"[a-z0-9-]+", client_id):
            return client_id.replace("-", self._id_marker)
        return client_id

    def client_id_in(self, text: str | None) -> str | None:
        if text and re.fullmatch(r"pbX[a-z0-9X]+", text):
            return text.replace(self._id_marker, "-")
        return text

    def position(self, raw: Raw, market: Market | None, exchange_id: str) -> Position | None:
        return normalize_position(exact_figures(raw, {
            "contracts": "pos", "entryPrice": "avgPx", "markPrice": "markPx",
            "unrealizedPnl": "upl", "leverage": "lever", "liquidationPrice": "liqPx"}),
            market, exchange_id)

    def order(self, raw: Raw, exchange_id: str, *, is_stop: bool) -> Order:
        info = info_of(raw)
        shell = exact_figures(raw, {"amount": "sz", "filled": "accFillSz", "price": "px",
                             "stopLossPrice": "slTriggerPx"})
        client = info.get("algoClOrdId") if is_stop else info.get("clOrdId")
        shell["clientOrderId"] = client or None
        if is_stop:
            shell["filled"] = info.get("actualSz") or "0"
        order = super().order(shell, exchange_id, is_stop=is_stop)
        return replace(order, position_side=LEGS.get(str(info.get("posSide"))),
                       client_order_id=self.client_id_in(order.client_order_id))

    def fill(self, raw: Raw, settle: str, exchange_id: str, hedge: bool) -> Fill:
        info = info_of(raw)
        shell = exact_figures(raw, {"amount": "fillSz", "price": "fillPx"})
        if str(info.get("fillTime") or "").isdigit():  # the trade's time (ccxt: ``ts``, when the
            shell["timestamp"] = int(info["fillTime"])  # row was made), as the stream states it
        if info.get("fee") not in (None, ""):
            shell["fee"] = {"cost": -to_decimal(info["fee"], "fill fee"),
                            "currency": info.get("feeCcy") or settle}
            shell["fees"] = []
        fill = normalize_fill(shell, settle, exchange_id)
        return replace(fill, position_side=LEGS.get(str(info.get("posSide"))))
