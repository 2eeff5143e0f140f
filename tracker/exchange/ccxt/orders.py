"""Order placement through ccxt that can never leave two orders behind.

Every attempt carries the caller's client order id. A create is sent again only after a refusal
that never reached the matching engine (a rate limit). After any answer that leaves the outcome
unknown (timeout, 5xx, Binance's "execution status unknown") the order is looked up by its client
id with back-off and never sent again: a market order executed late is already filled, so
Binance would accept a second one under the same id.

Every create and cancel request goes through the account's ``OrderPacer`` first (outside the
request's timeout, so waiting for room is never taken for a lost answer): concurrent stop
actions stay within the exchange's order-rate limits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt

from positionbot.tracker.core.models import Order, OrderSide, Side
from positionbot.tracker.engine.ports import (
    ExchangeError,
    OrderOutcomeUnknownError,
    StopPriceCrossedError,
    TransientExchangeError,
)
from positionbot.tracker.exchange.ccxt.dialects import Dialect
from positionbot.tracker.exchange.ccxt.order_pacing import OrderPacers
from positionbot.tracker.exchange.ccxt.retry import (
    Health,
    RetryPolicy,
    attempt_once,
    describe,
    is_transient,
    permanent_error,
    reason,
)

log = logging.getLogger(__name__)

Lookup = Callable[[str, str | None, str | None, bool], Awaitable[Order | None]]

# Binance answers a reused client id with -4116 (orders) or -20132 (Algo service orders).
_DUPLICATE_MARKERS = ("-4116", "-20132", "duplicate")
# Binance: "execution status unknown" (message bus / backend timeout).
_UNKNOWN_CODES = ("-1006", "-1007")


def _never_processed(exc: BaseException) -> bool:
    """Refused before it reached the matching engine (rate limits): safe to send again. Any
    other transient fault (timeout, 5xx, Binance's -1006/-1007) leaves the outcome unknown."""
    return isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)) and not any(
        code in str(exc) for code in _UNKNOWN_CODES)


def _is_duplicate(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, ccxt.DuplicateOrderId) or any(m in text for m in _DUPLICATE_MARKERS)


class OrderPlacer:
    """Creates entries, reduce-only exits and stop losses for one account."""

    def __init__(self, exchange: Any, account: str, retry: RetryPolicy, lookup: Lookup,
                 on_rejected: Callable[[], None], dialect: Dialect) -> None:
        self._exchange = exchange
        self._account = account
        self._retry = retry
        self._lookup = lookup
        self._on_rejected = on_rejected
        # Exchanges trigger on the last trade price unless told otherwise (each in its own
        # words, see ``dialects``); a stop loss should follow the mark the position is valued at.
        self._dialect = dialect
        self.pacers = OrderPacers.for_exchange(str(exchange.id))

    async def stop_loss(self, symbol: str, position_side: Side, amount: Decimal,
                        trigger_price: Decimal, client_order_id: str, hedge: bool) -> Order:
        what = f"{self._account}: place stop loss {client_order_id} on {symbol}"
        trigger = self._precise(what, lambda: self._exchange.price_to_precision(
            symbol, str(trigger_price)))
        params = {"stopLossPrice": trigger, **self._dialect.stop_extras,
                  **self._dialect.order_params(client_order_id, position_side, hedge,
                                               reduce=True, stop=True)}
        return await self._create(what, symbol, "market", position_side.exit_order_side, amount,
                                  None, params, client_order_id, stop=True)

    async def entry(self, symbol: str, side: Side, amount: Decimal, price: Decimal | None,
                    client_order_id: str, hedge: bool) -> Order:
        what = f"{self._account}: place entry {client_order_id} on {symbol}"
        order_type = "market" if price is None else "limit"
        params = self._dialect.order_params(client_order_id, side, hedge, reduce=False,
                                            stop=False)
        return await self._create(what, symbol, order_type, side.entry_order_side, amount, price,
                                  params, client_order_id, stop=False)

    async def reduce(self, symbol: str, position_side: Side, amount: Decimal,
                     client_order_id: str, hedge: bool) -> Order:
        what = f"{self._account}: place reduce-only order {client_order_id} on {symbol}"
        params = self._dialect.order_params(client_order_id, position_side, hedge, reduce=True,
                                            stop=False)
        return await self._create(what, symbol, "market", position_side.exit_order_side, amount,
                                  None, params, client_order_id, stop=False)

    def _precise(self, what: str, convert: Callable[[], str]) -> str:
        """Round with ccxt's precision helpers; an amount or price they refuse is a rejection."""
        try:
            return convert()
        except ccxt.BaseError as exc:
            raise permanent_error(exc, what, order=True) from exc

    async def _create(self, what: str, symbol: str, order_type: str, side: OrderSide,
                      amount: Decimal, price: Decimal | None, params: dict[str, Any],
                      client_order_id: str, *, stop: bool) -> Order:
        amount_text = self._precise(what, lambda: self._exchange.amount_to_precision(
            symbol, str(amount)))
        price_text = None if price is None else self._precise(
            what, lambda: self._exchange.price_to_precision(symbol, str(price)))

        async def create() -> Order:
            raw = await self._exchange.create_order(symbol, order_type, side.value, amount_text,
                                                    price_text, dict(params))
            if self._dialect.create_echoes_order:
                return self._dialect.order(raw, self._exchange.id, is_stop=stop)
            # Bybit and OKX answer with the ids only: the order itself is read back.
            placed = await self._lookup(symbol, str(raw.get("id") or "") or None,
                                        None if raw.get("id") else client_order_id, stop)
            if placed is None:
                raise TransientExchangeError(f"{what}: accepted, but not found by its id")
            return placed

        last: BaseException | None = None
        for attempt in range(self._retry.attempts):
            if attempt:
                await asyncio.sleep(self._retry.delay(attempt - 1))
                existing = await self._lookup(symbol, None, client_order_id, stop)
                if existing is not None:
                    log.info("%s: found after a failed attempt; not placed again", what)
                    return existing
            await self.pacers.for_create(stop).acquire()
            try:
                return await attempt_once(what, create, self._retry.call_timeout)
            except TransientExchangeError as exc:  # a malformed answer: the order may exist
                return await self._settle_unknown(what, symbol, client_order_id, stop, exc)
            except ccxt.BaseError as exc:
                if not is_transient(exc):
                    return await self._refused(what, exc, symbol, client_order_id, stop)
                if not _never_processed(exc):
                    return await self._settle_unknown(what, symbol, client_order_id, stop, exc)
                last = exc
            log.warning("%s: attempt %d/%d refused unprocessed: %s", what, attempt + 1,
                        self._retry.attempts, describe(last))
        existing = await self._lookup(symbol, None, client_order_id, stop)
        if existing is not None:
            return existing
        raise TransientExchangeError(
            f"{what}: not placed: refused unprocessed {self._retry.attempts} times "
            f"({describe(last) if last else 'no answer'})",
            reason=f"not placed: refused unprocessed {self._retry.attempts} times "
                   f"({reason(last) if last else 'no answer'})")

    async def cancel(self, what: str, call: Callable[[], Awaitable[None]], *, stop: bool,
                     health: Health) -> None:
        """An idempotent cancel, retried within the policy like a read, each attempt paced."""
        last: BaseException | None = None
        for attempt in range(self._retry.attempts):
            if attempt:
                await asyncio.sleep(self._retry.delay(attempt - 1))
            await self.pacers.for_cancel(stop).acquire()
            try:
                await attempt_once(what, call, self._retry.call_timeout)
            except ccxt.BaseError as exc:
                if not is_transient(exc):
                    raise permanent_error(exc, what) from exc
                last = exc
                health.failed()
            else:
                health.answered()
                return
            log.warning("%s: attempt %d/%d failed: %s", what, attempt + 1, self._retry.attempts,
                        describe(last))
        assert last is not None
        raise TransientExchangeError(
            f"{what}: failed after {self._retry.attempts} attempts ({describe(last)})",
            reason=f"no good answer after {self._retry.attempts} attempts ({reason(last)})"
        ) from last

    async def _settle_unknown(self, what: str, symbol: str, client_order_id: str, stop: bool,
                              cause: BaseException) -> Order:
        """The exchange may have taken the order (timeout, 5xx, "execution status unknown"):
        look it up by client id with back-off, and never send it again from here."""
        for attempt in range(self._retry.attempts):
            await asyncio.sleep(self._retry.delay(attempt))
            try:
                existing = await self._lookup(symbol, None, client_order_id, stop)
            except ExchangeError as exc:
                log.warning("%s: look-up after an unknown outcome failed: %s", what, exc)
                continue
            if existing is not None:
                log.info("%s: found after an unknown outcome; not placed again", what)
                return existing
        raise OrderOutcomeUnknownError(
            f"{what}: the exchange did not say whether it took the order ({describe(cause)}) "
            "and no order carries its client id yet; not sent again", client_order_id)

    async def _refused(self, what: str, exc: ccxt.BaseError, symbol: str, client_order_id: str,
                       stop: bool) -> Order:
        """A refusal; a duplicate client id means an earlier attempt got through after all."""
        if _is_duplicate(exc):
            existing = await self._lookup(symbol, None, client_order_id, stop)
            if existing is not None:
                return existing
        error = permanent_error(exc, what, order=True,
                                crossed=self._dialect.crossed_stop_codes if stop else frozenset())
        if not isinstance(error, StopPriceCrossedError):  # a crossed price says nothing of the mode
            self._on_rejected()
        raise error from exc
