"""Stream tests: the follower over the in-process paper stream, and over real ccxt.pro against the
fake Binance user-data stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

D_TIMEOUT = 5.0


async def eventually(condition: Callable[[], bool], timeout: float = D_TIMEOUT) -> None:
    """Wait until ``condition()`` holds (the stream applies changes in the background)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)
