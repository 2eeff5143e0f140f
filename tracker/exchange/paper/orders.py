"""The paper exchange's order records: open orders indexed for matching, finished ones bounded.

Open orders are never evicted (the venue must keep them); finished orders are forgotten oldest
first once more than ``max_finished`` of them are kept, so a long demo or benchmark stays flat.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from positionbot.tracker.core.models import Order, OrderStatus


class OrderBook:
    def __init__(self, max_finished: int,
                 on_change: Callable[[Order], None] | None = None) -> None:
        if max_finished < 1:
            raise ValueError("max_finished must be at least 1")
        self._max_finished = max_finished
        self._orders: dict[str, Order] = {}
        self._open_by_symbol: dict[str, dict[str, None]] = {}
        self._open_plain: dict[str, None] = {}
        self._open_stops: dict[str, None] = {}
        self._by_client_id: dict[str, str] = {}
        self._finished: deque[str] = deque()
        self._on_change = on_change  # told of every order added or updated (the venue's events)

    def get(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def by_client_id(self, client_order_id: str) -> Order | None:
        """The most recent order carrying ``client_order_id``."""
        order_id = self._by_client_id.get(client_order_id)
        return self._orders.get(order_id) if order_id is not None else None

    def open_orders(self, *, stops: bool) -> list[Order]:
        """Open stop orders or open ordinary orders, oldest first."""
        ids = self._open_stops if stops else self._open_plain
        return [self._orders[order_id] for order_id in ids]

    def open_ids(self, symbol: str) -> list[str]:
        """Ids of every open order on ``symbol`` (both kinds), oldest first; a copy."""
        return list(self._open_by_symbol.get(symbol, ()))

    def add(self, order: Order) -> None:
        if order.id in self._orders:
            raise ValueError(f"order {order.id} already exists")
        self._orders[order.id] = order
        if order.client_order_id is not None:
            self._by_client_id[order.client_order_id] = order.id
        if order.status is OrderStatus.OPEN:
            self._open_by_symbol.setdefault(order.symbol, {})[order.id] = None
            (self._open_stops if order.is_stop else self._open_plain)[order.id] = None
        else:
            self._retire(order.id)
        if self._on_change is not None:
            self._on_change(order)

    def update(self, order: Order) -> None:
        """Store a new state of a known order; leaving OPEN moves it to the bounded history."""
        previous = self._orders[order.id]
        self._orders[order.id] = order
        if previous.status is OrderStatus.OPEN and order.status is not OrderStatus.OPEN:
            open_on_symbol = self._open_by_symbol[order.symbol]
            del open_on_symbol[order.id]
            if not open_on_symbol:
                del self._open_by_symbol[order.symbol]
            (self._open_stops if order.is_stop else self._open_plain).pop(order.id)
            self._retire(order.id)
        if self._on_change is not None:
            self._on_change(order)

    def _retire(self, order_id: str) -> None:
        self._finished.append(order_id)
        while len(self._finished) > self._max_finished:
            evicted = self._orders.pop(self._finished.popleft())
            client_id = evicted.client_order_id
            if client_id is not None and self._by_client_id.get(client_id) == evicted.id:
                del self._by_client_id[client_id]
