"""Exchange actions side by side: a few at a time, each taken exactly once, each recording into
an outcome of its own, merged afterwards in the original order (so the order of the answers
never shows in what is written or pushed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from positionbot.tracker.core.ledger import Outcome

T = TypeVar("T")


async def side_by_side(items: Sequence[T], act: Callable[[T], Awaitable[None]],
                       limit: int) -> None:
    """``act`` on every item, at most ``limit`` at a time, each item exactly once."""
    pending = iter(items)  # shared by the workers: each item is taken by one of them

    async def worker() -> None:
        for item in pending:
            await act(item)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(limit, len(items))):
            group.create_task(worker())


def merged(parts: Sequence[Outcome]) -> Outcome:
    out = Outcome()
    for part in parts:
        out.trades += part.trades
        out.notices += part.notices
        out.lines += part.lines
        out.errors += part.errors
    return out
