"""The cycle's funding step: poll the account's funding payments now and then and book them.

Income history is an expensive request (weight 30 on Binance), and funding is paid every
few hours, so each account is polled at most once per ``interval`` — sooner only while a full
page says more is waiting. A failed poll is logged and retried at the next interval; it never
fails the cycle, whose positions are already committed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from positionbot.tracker.core.funding import (
    FUNDING_CURSOR_KEY,
    FundingBooking,
    FundingSettings,
    book_funding,
)
from positionbot.tracker.core.records import WriteBatch
from positionbot.tracker.engine.book import AccountBook
from positionbot.tracker.engine.ports import ExchangeError, ExchangeGateway, RecordStore

log = logging.getLogger(__name__)

FULL_PAGE = 1000
"""A poll that returns this many payments may have left some behind: poll again next cycle."""


class FundingSync:
    """Remembers when each account was last polled; everything else lives in the store."""

    def __init__(self, settings: FundingSettings | None = None) -> None:
        self.settings = settings or FundingSettings()
        self._next_poll: dict[str, datetime] = {}

    def due(self, account: str, now: datetime) -> bool:
        return now >= self._next_poll.get(account, now)

    async def step(self, gw: ExchangeGateway, store: RecordStore, book: AccountBook,
                   account: str, now: datetime) -> FundingBooking | None:
        """Poll and book when due; the booking written, or None when nothing was polled."""
        if not self.due(account, now):
            return None
        self._next_poll[account] = now + self.settings.interval
        cursor = await store.get_fill_cursor(account, FUNDING_CURSOR_KEY)
        oldest = now - self.settings.lookback
        # The first poll looks back the whole lookback: a trade that closed this very cycle
        # may have been paid a moment ago, and older payments that no trade owns are skipped.
        since = oldest if cursor is None else max(cursor.at, oldest)
        try:
            payments = await gw.fetch_funding(since)
        except ExchangeError as e:
            log.warning("funding of %s not polled: %s", account, e)
            return None
        if len(payments) >= FULL_PAGE:
            self._next_poll[account] = now
        owners = await store.trades_for_funding(account, since - self.settings.grace)
        # The book holds the newest rows of open trades (a change this very cycle included).
        active = book.active_by_id(account)
        owners = [active.get(t.id, t) for t in owners]
        booking = book_funding(payments, owners, cursor, self.settings.grace)
        for p in booking.unmatched:
            log.info("funding %s on %s (%s) matches no recorded trade; not booked", p.id,
                     p.symbol, p.amount)
        if booking.cursor is None:  # no cursor and nothing paid yet: start here
            return booking
        batch = WriteBatch(account, trades=booking.trades, events=booking.events,
                           fill_cursors={FUNDING_CURSOR_KEY: booking.cursor})
        if booking.cursor != cursor:
            await store.commit(batch)
            book.remember(account, booking.trades)
        return booking
