"""Markets per account, for number precision only: loaded once, never waited on for long.

Rendering must not stall when the exchange is down, so a failed load is not retried for a
while and the numbers are shown normalised meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from positionbot.tracker.core.models import Market

log = logging.getLogger(__name__)

MarketsLoader = Callable[[str], Awaitable[Mapping[str, Market]]]


class MarketsCache:
    def __init__(self, load: MarketsLoader, *, timeout: float = 2.0, retry_after: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._monotonic = monotonic
        self._timeout = timeout
        self._retry_after = retry_after
        self._found: dict[str, Mapping[str, Market]] = {}
        self._retry_at: dict[str, float] = {}

    async def get(self, account: str) -> Mapping[str, Market]:
        found = self._found.get(account)
        if found is not None:
            return found
        if self._monotonic() < self._retry_at.get(account, 0.0):
            return {}
        try:
            found = await asyncio.wait_for(self._load(account), self._timeout)
        except Exception as err:  # precision is cosmetic; the exchange may well be down
            log.info("markets of %s unavailable (%r); numbers shown unrounded", account, err)
            self._retry_at[account] = self._monotonic() + self._retry_after
            return {}
        self._found[account] = found
        self._retry_at.pop(account, None)
        return found
