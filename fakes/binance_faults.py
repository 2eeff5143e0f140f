"""Faults the fake Binance server plays on the requests to come, one request each, in order.

A fault names the endpoint it waits for (``path`` is matched against the end of the request
path, e.g. ``"/positionRisk"``, and ``method``, e.g. ``"POST"``), or hits whatever request comes
next.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

INTERNAL_ERROR = {"code": -1001,
                  "msg": "Internal error; unable to process your request. Please try again."}
TOO_MANY_REQUESTS = {"code": -1003, "msg": "Too many requests; current limit of IP(127.0.0.1) "
                                           "is 2400 requests per minute."}
INVALID_KEY = {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
EXECUTION_UNKNOWN = {"code": -1007, "msg": "Timeout waiting for response from backend server. "
                                           "Send status unknown; execution status unknown."}

Transform = Callable[[Any], Any]


@dataclass(frozen=True)
class Fault:
    """One misbehaviour.

    ``status``/``body``: answer this instead of handling the request. ``delay``: handle the
    request, then hold the answer this many seconds (the order exists, its answer comes late).
    ``transform``: handle the request and answer ``transform(payload)``. ``truncate``: handle
    it and answer only the first half of the JSON text. ``late``: answer ``status``/``body``
    at once, and carry the request out this many seconds later (Binance's "execution status
    unknown": the order was accepted and executes after the answer said nothing certain).
    """

    path: str | None = None
    method: str | None = None
    status: int | None = None
    body: Any = None
    delay: float = 0.0
    transform: Transform | None = None
    truncate: bool = False
    late: float = 0.0

    @classmethod
    def server_error(cls, path: str | None = None, status: int = 500, *,
                     method: str | None = None) -> Fault:
        """A JSON-bodied 5xx with Binance's -1001 (ccxt raises a bare OperationFailed)."""
        return cls(path, method, status=status, body=INTERNAL_ERROR)

    @classmethod
    def executes_late(cls, seconds: float, path: str = "/fapi/v1/order", *,
                      method: str = "POST") -> Fault:
        """HTTP 503 with -1007 now; the request is carried out ``seconds`` later."""
        return cls(path, method, status=503, body=EXECUTION_UNKNOWN, late=seconds)

    @classmethod
    def rate_limited(cls, path: str | None = None) -> Fault:
        """HTTP 429 with -1003 (ccxt raises DDoSProtection)."""
        return cls(path, status=429, body=TOO_MANY_REQUESTS)

    @classmethod
    def auth_error(cls, path: str | None = None) -> Fault:
        return cls(path, status=401, body=INVALID_KEY)

    @classmethod
    def slow(cls, seconds: float, path: str | None = None, *,
             method: str | None = None) -> Fault:
        return cls(path, method, delay=seconds)

    @classmethod
    def empty_list(cls, path: str = "/positionRisk") -> Fault:
        """A list endpoint answering ``[]``, as a truncated payload can look to ccxt."""
        return cls(path, transform=lambda _payload: [])

    @classmethod
    def entry_price_zero(cls, symbol_id: str, path: str = "/positionRisk") -> Fault:
        """The position row of ``symbol_id`` (e.g. ``"BTCUSDT"``) with ``entryPrice`` "0.0", as
        Binance has served in glitches (ccxt drops such a row)."""
        return cls(path, transform=lambda rows: [
            {**row, "entryPrice": "0.0"} if row.get("symbol") == symbol_id else row
            for row in rows])

    @classmethod
    def truncated(cls, path: str | None = None) -> Fault:
        return cls(path, truncate=True)

    @classmethod
    def rewrite(cls, transform: Transform, path: str | None = None) -> Fault:
        return cls(path, transform=transform)

    def matches(self, method: str, path: str) -> bool:
        return (self.path is None or path.endswith(self.path)) and self.method in (None, method)


class FaultQueue:
    def __init__(self) -> None:
        self._faults: deque[Fault] = deque()

    def __len__(self) -> int:
        return len(self._faults)

    def inject(self, *faults: Fault) -> None:
        self._faults.extend(faults)

    def clear(self) -> None:
        self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first queued fault waiting for this request, removed from the queue."""
        for fault in self._faults:
            if fault.matches(method, path):
                self._faults.remove(fault)
                return fault
        return None
