"""Where Binance USDⓈ-M, Bybit v5 and OKX v5 truly differ behind ccxt 4.5.90, one class each
behind one interface; every other ccxt exchange gets the generic ``Dialect``.

The differences (each pinned by a test in ``tests/exchange/contract``):

- stop parameters: Binance ``workingType=MARK_PRICE``; Bybit ``triggerBy=MarkPrice`` (ccxt
  derives ``triggerDirection`` from ``stopLossPrice``); OKX ``slTriggerPxType=mark`` and the
  client id as ``algoClOrdId``;
- hedge leg identity: ccxt's ``hedged`` gives Binance's ``positionSide`` and Bybit's
  ``positionIdx`` 1/2, but on OKX it flips ``posSide`` and drops ``reduceOnly``, so the leg is
  sent as ``positionSide`` (``posSide`` long/short) and reduce-only only in net mode;
- open-stop listing: Binance and Bybit ``trigger``; OKX ``ordType=conditional`` (ccxt's
  ``trigger`` alone asks for ``ordType=trigger``, which stop losses are not);
- pages: Bybit lists 20 rows unless told (positions up to 200, orders 50, by ``cursor``),
  OKX 100 (by ``after``); Binance answers everything at once;
- look-ups: Bybit's ``fetch_order`` needs ``acknowledged`` and by client id sends
  ``orderId=None``, so it is looked up through the open-orders listing with ``orderLinkId``;
  ``create_order`` on Bybit and OKX echoes only ids, so the order is looked up after it;
- fills: Bybit and OKX answer newest first (Bybit's fills of one millisecond ordered by
  ``seq``), paged by cursor / ``billId``; Bybit's executions carry no position side
  (``closedSize`` tells a close); OKX's fees are negative when charged;
- figures: taken from each exchange's own strings in ``info`` (ccxt's unified ones are floats);
- client ids: OKX takes only letters and digits (``pb-42-sl-...`` travels as ``pbX42XslX...``);
- errors: Bybit's ``10016`` ("system error, try again") is a plain ``ExchangeError`` in ccxt
  but transient;
- funding: Bybit's ``execFee`` is positive when paid (ccxt keeps that sign), OKX's ``balChg``
  is signed; both answer at most 100 rows a request; OKX's balance ``total`` is equity, its
  wallet is ``cashBal``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar

import ccxt.async_support as ccxt

from positionbot.tracker.core.models import Fill, Market, Order, OrderSide, Position, Side
from positionbot.tracker.engine.ports import TransientExchangeError
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
MAX_PAGES = 100
WEEK_MS = 7 * 24 * 3600 * 1000
LEGS = {"long": Side.LONG, "short": Side.SHORT}


def _info(raw: Raw) -> Mapping[str, Any]:
    info = raw.get("info")
    return info if isinstance(info, Mapping) else {}


def _exact(raw: Raw, keys: Mapping[str, str]) -> dict[str, Any]:
    """``raw`` with unified figures replaced by the exchange's own strings where present."""
    info = _info(raw)
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


class Binance(Dialect):
    """Stops in the Algo service (``trigger``), triggered on the mark when told so."""

    stop_extras: ClassVar[Mapping[str, Any]] = {"workingType": "MARK_PRICE"}


class Bybit(Dialect):
    """Bybit v5 (unified trading account)."""

    stop_extras: ClassVar[Mapping[str, Any]] = {"triggerBy": "MarkPrice"}
    # The unified account is assumed (ccxt would otherwise ask /v5/user/query-api, which needs
    # transfer or withdrawal permissions); coin lists and option markets are not needed.
    ccxt_defaults: ClassVar[Mapping[str, Any]] = {
        "options": {"enableUnifiedAccount": True, "enableUnifiedMargin": False,
                    "fetchMarkets": {"types": ["linear", "inverse"]}},
        "has": {"fetchCurrencies": False}}
    _limits: ClassVar[Mapping[str, int]] = {"positions": 200, "orders": 50, "stops": 50}
    _system_error = re.compile(r'"retCode"\s*:\s*10016\b')

    def cancel_params(self, stop: bool) -> dict[str, Any]:
        return {}  # stops are cancelled like any order; ccxt would send "trigger" along

    async def lookup(self, exchange: Any, symbol: str, order_id: str | None,
                     client_id: str | None, stop: bool) -> Any:
        trigger = {"trigger": True} if stop else {}
        if order_id is not None:
            return await exchange.fetch_order(order_id, symbol, {"acknowledged": True, **trigger})
        rows = await exchange.fetch_open_orders(symbol, None, None,
                                                {"orderLinkId": client_id, **trigger})
        if not rows:
            raise ccxt.OrderNotFound(f"bybit: no order with orderLinkId {client_id}")
        return rows[0]

    @property
    def create_echoes_order(self) -> bool:
        return False

    async def collect(self, kind: str, fetch: Fetch, scope: dict[str, Any]) -> list[Any]:
        rows: list[Any] = []
        params = {**scope, "limit": self._limits[kind]}
        for _ in range(MAX_PAGES):
            page = await fetch(dict(params))
            rows.extend(page)
            cursor = next((_info(r).get("nextPageCursor") for r in page
                           if _info(r).get("nextPageCursor")), None)
            if not cursor or len(page) < params["limit"]:
                return rows
            params["cursor"] = cursor
        raise TransientExchangeError(f"bybit: more than {MAX_PAGES} pages of {kind}")

    async def trades(self, fetch: FetchTrades, since_ms: int, now_ms: int) -> list[Any] | None:
        """Windows of at most 7 days; within one, pages of 100 newest first, by ``cursor``."""
        rows: list[Any] = []
        start = since_ms
        for _ in range(MAX_PAGES):
            end = min(start + WEEK_MS - 1, now_ms)
            params: dict[str, Any] = {"until": end}
            for _ in range(MAX_PAGES):
                page = await fetch(start, 100, dict(params))
                rows.extend(page)
                cursor = next((_info(r).get("nextPageCursor") for r in page
                               if _info(r).get("nextPageCursor")), None)
                if not cursor or len(page) < 100:
                    break
                params["cursor"] = cursor
            if end >= now_ms:
                return rows
            start = end + 1
        raise TransientExchangeError(f"bybit: more than {MAX_PAGES} windows of fills")

    funding_page = 100

    def funding_amount(self, raw: Raw) -> Decimal | None:
        """``execFee`` of a funding execution is positive when paid (ccxt keeps that sign)."""
        fee = _info(raw).get("execFee")
        return None if fee in (None, "") else -to_decimal(fee, "funding fee")

    async def hedged_when_flat(self, exchange: Any, markets: Mapping[str, Market]) -> bool | None:
        """A listing by symbol shows every leg, even empty ones, with its ``positionIdx``."""
        linear = [m.symbol for m in markets.values() if m.settle == m.quote]
        if not linear:
            return None
        rows = await exchange.fetch_positions([linear[0]])
        hedged = [r.get("hedged") for r in rows if isinstance(r.get("hedged"), bool)]
        return hedged[0] if hedged else None

    def reclassify(self, exc: BaseException) -> BaseException:
        if type(exc) is ccxt.ExchangeError and self._system_error.search(str(exc)):
            mapped: BaseException = ccxt.ExchangeNotAvailable(str(exc))
            return mapped
        return exc

    def position(self, raw: Raw, market: Market | None, exchange_id: str) -> Position | None:
        return normalize_position(_exact(raw, {
            "contracts": "size", "entryPrice": "avgPrice", "markPrice": "markPrice",
            "unrealizedPnl": "unrealisedPnl", "leverage": "leverage",
            "liquidationPrice": "liqPrice"}), market, exchange_id)

    def order(self, raw: Raw, exchange_id: str, *, is_stop: bool) -> Order:
        order = super().order(_exact(raw, {
            "amount": "qty", "filled": "cumExecQty", "price": "price",
            "triggerPrice": "triggerPrice"}), exchange_id, is_stop=is_stop)
        leg = {"1": Side.LONG, "2": Side.SHORT}.get(str(_info(raw).get("positionIdx")))
        return replace(order, position_side=leg)

    def fill(self, raw: Raw, settle: str, exchange_id: str, hedge: bool) -> Fill:
        info = _info(raw)
        shell = _exact(raw, {"amount": "execQty", "price": "execPrice"})
        if info.get("execFee") not in (None, ""):
            shell["fee"] = {"cost": info["execFee"], "currency": settle}
            shell["fees"] = []
        fill = normalize_fill(shell, settle, exchange_id)
        if not hedge:
            return fill
        closing = to_decimal(info.get("closedSize") or "0", "closed size") > 0
        leg = (Side.LONG if fill.side is OrderSide.SELL else Side.SHORT) if closing else (
            Side.LONG if fill.side is OrderSide.BUY else Side.SHORT)
        return replace(fill, position_side=leg)


class Okx(Dialect):
    """OKX v5: swaps in contracts, stop losses as ``conditional`` algo orders."""

    open_stop_params: ClassVar[Mapping[str, Any]] = {"trigger": True, "ordType": "conditional"}
    stop_extras: ClassVar[Mapping[str, Any]] = {"slTriggerPxType": "mark"}
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
        for _ in range(MAX_PAGES):
            page = await fetch(dict(params))
            rows.extend(page)
            if len(page) < 100:
                return rows
            params["after"] = min(int(_info(r)[key]) for r in page)
        raise TransientExchangeError(f"okx: more than {MAX_PAGES} pages of {kind}")

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
            params["after"] = min(int(_info(r)["billId"]) for r in page)
        raise TransientExchangeError(f"okx: more than {MAX_PAGES} pages of fills")

    funding_page = 100

    def funding_amount(self, raw: Raw) -> Decimal | None:
        change = _info(raw).get("balChg")
        return None if change in (None, "") else to_decimal(change, "funding bill")

    def wallet(self, raw: Raw, code: str) -> Decimal | None:
        """ccxt's ``total`` is OKX's ``eq`` (equity); the wallet is ``cashBal``."""
        data = _info(raw).get("data")
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
        return normalize_position(_exact(raw, {
            "contracts": "pos", "entryPrice": "avgPx", "markPrice": "markPx",
            "unrealizedPnl": "upl", "leverage": "lever", "liquidationPrice": "liqPx"}),
            market, exchange_id)

    def order(self, raw: Raw, exchange_id: str, *, is_stop: bool) -> Order:
        info = _info(raw)
        shell = _exact(raw, {"amount": "sz", "filled": "accFillSz", "price": "px",
                             "stopLossPrice": "slTriggerPx"})
        client = info.get("algoClOrdId") if is_stop else info.get("clOrdId")
        shell["clientOrderId"] = client or None
        if is_stop:
            shell["filled"] = info.get("actualSz") or "0"
        order = super().order(shell, exchange_id, is_stop=is_stop)
        return replace(order, position_side=LEGS.get(str(info.get("posSide"))),
                       client_order_id=self.client_id_in(order.client_order_id))

    def fill(self, raw: Raw, settle: str, exchange_id: str, hedge: bool) -> Fill:
        info = _info(raw)
        shell = _exact(raw, {"amount": "fillSz", "price": "fillPx"})
        if info.get("fee") not in (None, ""):
            shell["fee"] = {"cost": -to_decimal(info["fee"], "fill fee"),
                            "currency": info.get("feeCcy") or settle}
            shell["fees"] = []
        fill = normalize_fill(shell, settle, exchange_id)
        return replace(fill, position_side=LEGS.get(str(info.get("posSide"))))


def dialect_for(exchange_id: str) -> Dialect:
    if exchange_id.startswith("binance"):
        return Binance()
    return {"bybit": Bybit, "okx": Okx}.get(exchange_id, Dialect)()


def fill_order_key(raw: Raw) -> tuple[int, Decimal]:
    """Oldest first; within one millisecond Bybit's ``seq`` and OKX's ``billId`` order fills."""
    info = _info(raw)
    seq = info.get("seq") or info.get("billId") or 0
    try:
        tie = Decimal(str(seq))
    except ArithmeticError:
        tie = Decimal(0)
    return int(raw.get("timestamp") or 0), tie
