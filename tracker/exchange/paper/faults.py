"""Faults queued on the paper exchange for the gateway calls to come.

Each fault is consumed by exactly one gateway call, in the order injected; ``empty_positions``
is only consumed by a positions fetch and holds the faults behind it until one happens.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum


class Fault(StrEnum):
    """A misbehaviour the next gateway call shows."""

    TIMEOUT = "timeout"  # no response; the request had no effect
    TIMEOUT_AFTER_SUBMIT = "timeout_after_submit"  # the request took effect, the response was lost
    UNAVAILABLE = "unavailable"  # 5xx
    RATE_LIMIT = "rate_limit"  # 429
    AUTH = "auth"  # bad key or permissions
    EMPTY_POSITIONS = "empty_positions"  # a truncated payload: no positions, no error


class FaultPlan:
    def __init__(self) -> None:
        self._faults: deque[Fault] = deque()
        self._rejection: str | None = None
        self._rejections_left: int | None = None

    def __len__(self) -> int:
        return len(self._faults)

    def inject(self, *faults: Fault | str) -> None:
        self._faults.extend(Fault(fault) for fault in faults)

    def take_fault(self, *, fetching_positions: bool) -> Fault | None:
        if not self._faults:
            return None
        if self._faults[0] is Fault.EMPTY_POSITIONS and not fetching_positions:
            return None
        return self._faults.popleft()

    def reject_orders(self, reason: str | None, *, count: int | None = None) -> None:
        """Make the next ``count`` order placements fail with ``reason`` (all of them when
        ``count`` is None, until cleared with ``reason=None``)."""
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        self._rejection = reason
        self._rejections_left = count

    def take_order_rejection(self) -> str | None:
        reason = self._rejection
        if reason is not None and self._rejections_left is not None:
            self._rejections_left -= 1
            if self._rejections_left == 0:
                self._rejection = None
        return reason
