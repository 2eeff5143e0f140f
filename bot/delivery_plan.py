"""How a chat's waiting pushes become messages: which go out alone, which fold into a digest,
and how many messages a group may take right now.

Telegram allows about 20 messages a minute to a group; the rate limiter (``bot.app``) holds
each group to a bucket of ``GROUP_BURST`` refilled over ``GROUP_PERIOD_S``. A message that
does not fit waits inside the limiter, and the drain waits with it, so the notifier keeps the
same bucket here and never sends a group more than fits: what does not fit stays in the outbox
and folds into one digest with whatever arrives meanwhile. Critical kinds never fold: each is
its own full message (with its buttons), in its place in the chat's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from positionbot.tracker.core.models import NoticeKind

GROUP_BURST = 9  # messages a group may take at once; the bucket refills at this many a period
GROUP_PERIOD_S = 60.0  # so never more than 2 x 9 = 18 in a minute (Telegram allows 20)
GROUP_DIGEST_AT = 3  # a group digests from this many waiting pushes (private: digest_threshold)
GROUP_CHAT_TYPES = frozenset({"group", "supergroup", "channel"})

CRITICAL_KINDS = frozenset({
    NoticeKind.STOP_LOSS_HIT.value,  # money moved: the trader must see it as it is
    NoticeKind.STOP_LOSS_FAILED.value,  # a position may be unprotected
    NoticeKind.STOP_LOSS_REMOVED.value,  # a position is unprotected
    NoticeKind.EXCHANGE_UNREACHABLE.value,
    NoticeKind.WATCHDOG.value,
    NoticeKind.STOPPED.value,  # nothing is watched until it starts again
})


def message_units(kinds: Sequence[str], digest: bool) -> list[range]:
    """The chat's rows (by kind, in order) as consecutive slices, one message unit each.

    A critical kind is always a unit of its own. With ``digest``, each run of other kinds
    between them is one unit (a digest; a run of one is sent as a full message); without,
    every row is its own unit.
    """
    units: list[range] = []
    start = 0
    for i, kind in enumerate(kinds):
        if kind in CRITICAL_KINDS or not digest:
            if start < i:
                units.append(range(start, i))
            units.append(range(i, i + 1))
            start = i + 1
    if start < len(kinds):
        units.append(range(start, len(kinds)))
    return units


class GroupBudget:
    """The rate limiter's per-group leaky bucket (aiolimiter's rule), kept by the notifier so
    it knows how many messages a group takes now without waiting. Only groups that sent within
    the last period are kept, so it stays as small as the set of busy groups."""

    def __init__(self, monotonic: Callable[[], float], burst: int = GROUP_BURST,
                 period: float = GROUP_PERIOD_S) -> None:
        self._monotonic = monotonic
        self._burst = burst
        self._rate = burst / period  # messages that drain out of the bucket per second
        self._level: dict[int, tuple[float, float]] = {}  # chat -> (level, monotonic time)

    def _level_now(self, chat_id: int) -> float:
        level, at = self._level.get(chat_id, (0.0, 0.0))
        return max(0.0, level - (self._monotonic() - at) * self._rate)

    def room(self, chat_id: int) -> int:
        """Messages the group takes now without waiting."""
        return int(self._burst - self._level_now(chat_id) + 1e-9)

    def spend(self, chat_id: int) -> None:
        self._level[chat_id] = (self._level_now(chat_id) + 1, self._monotonic())

    def next_room_at(self, chat_id: int) -> float:
        """The monotonic time at which one more message fits."""
        excess = self._level_now(chat_id) - (self._burst - 1)
        return self._monotonic() + max(0.0, excess) / self._rate

    def prune(self) -> None:
        for chat in [c for c in self._level if self._level_now(c) <= 0]:
            del self._level[chat]
