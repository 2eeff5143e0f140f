"""Order-rate pacing per account: never more orders in a window than the exchange allows.

ccxt's limiter paces requests by weight; the exchanges also cap orders per account, which
concurrent stop actions would otherwise run into. The documented limits:

- Binance USDⓈ-M: 300 orders per 10 s and 1,200 per minute per account (``ORDERS`` in
  ``exchangeInfo``; a conditional order in the Algo service counts as one order). A cancel is
  not an order there (it weighs 1 in the IP weight ccxt already paces).
- Bybit v5: per UID and per endpoint, 10 requests a second by default for derivatives:
  ``/v5/order/create`` (stops and plain orders alike) and ``/v5/order/cancel`` each.
- OKX v5: 20 requests per 2 s per user for ``/trade/order-algo`` and for ``/trade/cancel-algos``;
  60 per 2 s per instrument for ``/trade/order`` and ``/trade/cancel-order`` (paced here per
  account, the stricter reading).

Each window is held at 90 % of its limit: the exchange counts requests as they arrive, so a
margin absorbs network jitter and an order the trader sends from another client meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

MARGIN = 0.9

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``orders`` in any ``seconds``, as the exchange documents it."""

    orders: int
    seconds: float

    @property
    def kept(self) -> int:
        return max(1, int(self.orders * MARGIN))


class OrderPacer:
    """A sliding window per limit: a request goes out only when every window has room.

    Waiters are served in turn (one lock, held while waiting), and a waiter that is cancelled
    takes no slot. Memory is one timestamp per order a window may hold.
    """

    def __init__(self, limits: Sequence[Limit] = (), clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.limits = tuple(limits)
        self._sent = [(limit.seconds, deque[float](maxlen=limit.kept)) for limit in limits]
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if not self._sent:
            return
        async with self._lock:
            while True:
                now = self._clock()
                wait = max((sent[0] + seconds - now for seconds, sent in self._sent
                            if len(sent) == sent.maxlen), default=0.0)
                if wait <= 0:
                    for _, sent in self._sent:
                        sent.append(now)
                    return
                await self._sleep(wait)


@dataclass(frozen=True, slots=True)
class OrderPacers:
    """The pacer each kind of order request of one account goes through."""

    create: OrderPacer
    create_stop: OrderPacer
    cancel: OrderPacer
    cancel_stop: OrderPacer

    def for_create(self, stop: bool) -> OrderPacer:
        return self.create_stop if stop else self.create

    def for_cancel(self, stop: bool) -> OrderPacer:
        return self.cancel_stop if stop else self.cancel

    @classmethod
    def for_exchange(cls, exchange_id: str) -> OrderPacers:
        if exchange_id.startswith("binance"):
            orders = OrderPacer((Limit(300, 10.0), Limit(1200, 60.0)))
            free = OrderPacer()
            return cls(orders, orders, free, free)
        if exchange_id == "bybit":
            create, cancel = OrderPacer((Limit(10, 1.0),)), OrderPacer((Limit(10, 1.0),))
            return cls(create, create, cancel, cancel)
        if exchange_id == "okx":
            return cls(OrderPacer((Limit(60, 2.0),)), OrderPacer((Limit(20, 2.0),)),
                       OrderPacer((Limit(60, 2.0),)), OrderPacer((Limit(20, 2.0),)))
        free = OrderPacer()  # other exchanges: ccxt's own limiter only
        return cls(free, free, free, free)
