"""What the paper venue tells its subscribers as it happens: the stuff of a user-data stream.

The venue emits, in order, each fill it books, the position legs of the symbol right after it,
and every order it adds or updates. The in-process stream (``PaperStream``) and the Binance
fake's WebSocket both build their events from these, so the demo and the tests see a change
the moment the venue makes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from positionbot.tracker.core.models import Fill, Order, Side


@dataclass(frozen=True, slots=True)
class FillBooked:
    fill: Fill


@dataclass(frozen=True, slots=True)
class PositionChanged:
    """Both legs of ``symbol`` after a change: ``(side, size, entry)``, size 0 when flat."""

    symbol: str
    legs: tuple[tuple[Side, Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class OrderChanged:
    order: Order


VenueEvent = FillBooked | PositionChanged | OrderChanged
Listener = Callable[[VenueEvent], None]


class EventHub:
    """Synchronous fan-out to the subscribers; a subscriber must not raise or block."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add ``listener``; the returned function removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, event: VenueEvent) -> None:
        for listener in list(self._listeners):
            listener(event)
