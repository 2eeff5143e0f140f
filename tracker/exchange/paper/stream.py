"""The paper venue's user-data stream, in process: the venue's events as ``StreamBatch`` es.

Each venue event becomes a batch at once (no socket, no delay), so the demo and in-process tests
follow changes instantly. ``drop`` ends the session as a closed socket would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from positionbot.tracker.core.models import ZERO, PositionMode, Side
from positionbot.tracker.core.stream_events import PositionReport, StreamBatch
from positionbot.tracker.engine.stream_port import StreamLost
from positionbot.tracker.exchange.paper.events import (
    FillBooked,
    OrderChanged,
    PositionChanged,
    VenueEvent,
)
from positionbot.tracker.exchange.paper.venue import PaperExchange

MAX_QUEUED = 100_000


class PaperStream:
    """``StreamSource`` over a ``PaperExchange``."""

    def __init__(self, exchange: PaperExchange, account: str = "paper") -> None:
        self.account = account
        self.calls = 0
        self.exchange = exchange
        self.refuse_opens = 0  # the next this many ``open`` calls fail (tests)
        self._queue: asyncio.Queue[StreamBatch | StreamLost] = asyncio.Queue(MAX_QUEUED)
        self._unsubscribe: list[Callable[[], None]] = []
        self._open = False

    async def open(self) -> None:
        await self.close()
        if self.refuse_opens > 0:
            self.refuse_opens -= 1
            raise StreamLost("paper: stream refused")
        self._queue = asyncio.Queue(MAX_QUEUED)
        self._unsubscribe = [self.exchange.events.subscribe(self._on_event)]
        self._open = True

    async def receive(self) -> StreamBatch:
        item = await self._queue.get()
        if isinstance(item, StreamLost):
            raise item
        return item

    def drop(self) -> None:
        """End the session as a server-closed socket does: events from now on are lost."""
        self._detach()
        self._queue.put_nowait(StreamLost("paper: connection closed by the server"))

    async def close(self) -> None:
        self._detach()

    async def shutdown(self) -> None:
        self._detach()

    def _detach(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        self._open = False

    def _on_event(self, event: VenueEvent) -> None:
        batch = self._convert(event)
        if self._queue.full():  # a consumer this far behind must re-sync by REST
            self._detach()
            self._queue = asyncio.Queue(1)
            self._queue.put_nowait(StreamLost("paper: stream queue overflowed"))
            return
        self._queue.put_nowait(batch)

    def _convert(self, event: VenueEvent) -> StreamBatch:
        if isinstance(event, FillBooked):
            return StreamBatch(fills=(event.fill,))
        if isinstance(event, OrderChanged):
            return StreamBatch(orders=(event.order,))
        return StreamBatch(positions=self._reports(event))

    def _reports(self, event: PositionChanged) -> tuple[PositionReport, ...]:
        at = self.exchange.now()
        if self.exchange.mode is PositionMode.HEDGE:
            return tuple(PositionReport(event.symbol, side, size, entry, at)
                         for side, size, entry in event.legs)
        amount, entry = ZERO, ZERO
        for side, size, leg_entry in event.legs:
            if size > ZERO:
                amount = size if side is Side.LONG else -size
                entry = leg_entry
        return (PositionReport(event.symbol, None, amount, entry, at),)
