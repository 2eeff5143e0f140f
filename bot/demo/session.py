"""What the demo's scripted trader can do, and how the script waits for the bot to react.

The trader acts on the paper exchange by hand (as in the exchange app), types commands and
presses buttons in the console chat. The bot follows the exchange's user-data stream as it
follows a live account's, so after each act the script waits for the pushes the act causes to
be delivered (``pushed``), never for a fixed time or a sync cycle: the session reads the same at
any speed and moves on the moment the bot has answered. Only a mark move, which no stream
reports, waits for the verifying poll (``synced``). Every wait is capped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

from positionbot.bot.demo.console_chat import ConsoleChat
from positionbot.storage.store import Store
from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.models import NoticeKind, OrderSide, Side, Trade
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.exchange.paper import PaperExchange
from positionbot.tracker.exchange.paper.stream import PaperStream

WAIT_LIMIT_S = 30.0  # real seconds for the bot to react to one act, whatever the speed
_POLL_S = 0.01


class DemoStalled(RuntimeError):
    """The bot did not react to a scripted act within ``WAIT_LIMIT_S``."""


class DemoSession:
    def __init__(self, chat: ConsoleChat, exchange: PaperExchange, stream: PaperStream,
                 tracker: SimplePositionTracker, store: Store, account: str, speed: float,
                 interactive: bool) -> None:
        self.chat = chat
        self.exchange = exchange
        self.stream = stream
        self.tracker = tracker
        self.store = store
        self.account = account
        self.speed = speed
        self.interactive = interactive
        self._delivered_up_to = 0  # the last outbox row already waited for

    # --- narration and pacing ------------------------------------------------------------------

    async def say(self, text: str, pause: float = 0.0) -> None:
        self.chat.narrate(text)
        await self.pause(pause)

    async def pause(self, seconds: float) -> None:
        """A reading pause of ``seconds`` at speed 1."""
        if seconds > 0:
            await asyncio.sleep(seconds / self.speed)

    # --- the trader on the exchange ------------------------------------------------------------

    def mark(self, symbol: str, price: str) -> None:
        """The market moves: resting limits and stops it crosses fill on the exchange."""
        self.exchange.set_mark(symbol, Decimal(price))

    def buy(self, symbol: str, amount: str, *, reduce_only: bool = False) -> None:
        self.exchange.manual_order(symbol, OrderSide.BUY, Decimal(amount), reduce_only=reduce_only)

    def sell(self, symbol: str, amount: str, *, reduce_only: bool = False) -> None:
        self.exchange.manual_order(symbol, OrderSide.SELL, Decimal(amount),
                                   reduce_only=reduce_only)

    def outage(self, failed_requests: int) -> None:
        """The exchange has a bad minute: its stream drops (the bot falls back to polling) and
        the next ``failed_requests`` REST requests fail with 503."""
        self.stream.drop()
        self.exchange.inject(*["unavailable"] * failed_requests)

    def cancel_by_hand(self, order_id: str) -> None:
        """Cancel an order in the exchange app; an order the exchange does not know stalls the
        script rather than pretending."""
        try:
            self.exchange.manual_cancel(order_id)
        except KeyError:
            raise DemoStalled(f"the exchange does not know order {order_id!r}") from None

    async def bot_entry(self, symbol: str, side: Side, amount: str, price: str,
                        stop_loss: str) -> Trade:
        """A limit entry placed by the bot, as a confirmed ``/long`` or ``/short`` places it:
        a pending bot trade with its stop loss, and an entry order with the bot's client id."""
        preview = await TradeCommands(self.tracker).preview_entry(self.account, symbol, side, Decimal(amount),
                                      Decimal(price), Decimal(stop_loss), None)
        return await TradeCommands(self.tracker).open_entry(preview)

    # --- the trader in the chat ----------------------------------------------------------------

    async def type(self, text: str) -> None:
        """Send a command and wait for the reply and whatever pushes it caused."""
        before = self.chat.shown
        self.chat.send_text(text)
        await self._wait(lambda: self.chat.shown > before, f"a reply to {text}")
        await self.drained()

    async def press(self, label: str) -> None:
        """Press a button of the latest message with buttons, and wait for its answer."""
        query = self.chat.press_label(label)
        if query is None:
            raise DemoStalled(f"no '{label}' button to press")
        await self._wait(lambda: self.chat.answered(query), f"the answer to '{label}'")
        await self.drained()

    # --- waiting for the bot -------------------------------------------------------------------

    async def pushed(self, *kinds: NoticeKind) -> None:
        """Wait until a push of each of ``kinds`` queued since the last wait has been delivered
        to the chat, then for the rest of the outbox."""
        wanted = {kind.value for kind in kinds}

        async def delivered() -> bool:
            rows = await self.store.read_rows(
                "SELECT DISTINCT kind FROM notifications WHERE id > ? AND status = 'sent' "
                "AND message_id IS NOT NULL", (self._delivered_up_to,))
            return wanted <= {row[0] for row in rows}

        await self._wait_async(delivered, "the push" + "es" * (len(kinds) > 1) + " "
                               + ", ".join(k.value.replace("_", " ") for k in kinds))
        await self.drained()

    async def synced(self) -> None:
        """Wait for a sync cycle (the verifying poll) that started after this moment, and for
        its pushes: what the stream does not report, like a mark price, comes with it."""
        since = utc_now()

        def cycle_after() -> bool:
            report = self.tracker.book.last_report(self.account)
            return report is not None and report.started_at > since

        await self._wait(cycle_after, "a sync cycle")
        await self.drained()

    async def drained(self) -> None:
        """Wait until every queued push has been delivered to the chat."""
        async def empty() -> bool:
            return await self.store.outbox_backlog() == 0

        await self._wait_async(empty, "the pushes to be delivered")
        rows = await self.store.read_rows(  # (a row queued since stays ahead of the mark)
            "SELECT COALESCE((SELECT MIN(id) - 1 FROM notifications WHERE status = 'pending'), "
            "(SELECT MAX(id) FROM notifications), 0)", ())
        self._delivered_up_to = int(rows[0][0])

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        await self._wait(condition, what)
        await self.drained()

    async def _wait(self, condition: Callable[[], bool], what: str) -> None:
        async def check() -> bool:
            return condition()

        await self._wait_async(check, what)

    async def _wait_async(self, condition: Callable[[], Awaitable[bool]], what: str) -> None:
        deadline = time.monotonic() + WAIT_LIMIT_S
        while not await condition():
            if time.monotonic() > deadline:
                raise DemoStalled(f"waited {WAIT_LIMIT_S:g} s for {what}")
            await asyncio.sleep(_POLL_S)
