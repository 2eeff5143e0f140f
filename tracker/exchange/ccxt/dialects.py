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

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from positionbot.tracker.exchange.ccxt.dialect_base import Dialect, info_of
from positionbot.tracker.exchange.ccxt.dialect_bybit import Bybit
from positionbot.tracker.exchange.ccxt.dialect_okx import Okx
from positionbot.tracker.exchange.ccxt.normalize import Raw

__all__ = ["Binance", "Bybit", "Dialect", "Okx", "dialect_for", "fill_order_key"]


class Binance(Dialect):
    """Stops in the Algo service (``trigger``), triggered on the mark when told so."""

    stop_extras: ClassVar[Mapping[str, Any]] = {"workingType": "MARK_PRICE"}
    crossed_stop_codes: ClassVar[frozenset[str]] = frozenset({"-2021"})  # would immediately trigger


def dialect_for(exchange_id: str) -> Dialect:
    if exchange_id.startswith("binance"):
        return Binance()
    return {"bybit": Bybit, "okx": Okx}.get(exchange_id, Dialect)()


def fill_order_key(raw: Raw) -> tuple[int, Decimal]:
    """Oldest first; within one millisecond Bybit's ``seq`` and OKX's ``billId`` order fills."""
    info = info_of(raw)
    seq = info.get("seq") or info.get("billId") or 0
    try:
        tie = Decimal(str(seq))
    except ArithmeticError:
        tie = Decimal(0)
    return int(raw.get("timestamp") or 0), tie
