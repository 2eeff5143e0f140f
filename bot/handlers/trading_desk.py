"""The trading conversation: from typed arguments to a preview awaiting Confirm, then the order.

Nothing reaches the exchange before a Confirm tap. A preview holds a token for what it would
do (``bot.confirmations``); a symbol or trade that names several candidates first offers one
button per candidate. The orders themselves are ``tracker.trading``'s; the cycle records what
came of them, so a confirmed entry or close is followed by a cycle at once and its push.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from positionbot.bot.handlers.confirmations import ConfirmationStore
from positionbot.bot.handlers.services import Services
from positionbot.bot.handlers.trading_parse import (
    CANCEL_USAGE,
    CLOSE_USAGE,
    ClosePortion,
    EntryRequest,
    TradeInputError,
    close_quantity,
    entry_stop_price,
    parse_cancel,
    parse_entry,
    parse_portion,
)
from positionbot.bot.render.format import esc
from positionbot.bot.render.keyboards import Reply
from positionbot.bot.render.trading import (
    cancel_done,
    cancel_preview,
    choices_keyboard,
    close_preview,
    close_sent,
    confirm_keyboard,
    entry_preview,
    entry_sent,
    trade_label,
)
from positionbot.bot.symbols import base_of, matching_symbols, matching_trades
from positionbot.tracker.core.models import Side, Trade, TradeStatus
from positionbot.tracker.engine.commands import EntryPreview, Refusal
from positionbot.tracker.engine.ports import ExchangeError

log = logging.getLogger(__name__)

MARK_TIMEOUT_S = 5.0
MAX_CHOICES = 8
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asked: only this chat (and this person, when known) may confirm."""

    chat_id: int
    user_id: int | None


@dataclass(frozen=True, slots=True)
class EntryChoice:
    request: EntryRequest
    account: str
    symbol: str


@dataclass(frozen=True, slots=True)
class CloseChoice:
    trade_id: int
    portion: ClosePortion


@dataclass(frozen=True, slots=True)
class CancelChoice:
    trade_id: int


@dataclass(frozen=True, slots=True)
class EntryOrder:
    preview: EntryPreview


@dataclass(frozen=True, slots=True)
class CloseOrder:
    trade_id: int
    amount: Decimal | None  # None: the whole position
    size: Decimal  # the position's size the preview showed; a changed one is asked again


@dataclass(frozen=True, slots=True)
class CancelOrder:
    trade_id: int


@dataclass(frozen=True, slots=True)
class MoreChoices:
    """The next page of a trade picker: the trades it listed, from ``offset`` on; a close
    picker carries its portion, a cancel picker None."""

    prompt: str
    trade_ids: tuple[int, ...]
    portion: ClosePortion | None
    offset: int


Choice = EntryChoice | CloseChoice | CancelChoice | MoreChoices
Intent = EntryOrder | CloseOrder | CancelOrder  # what a Confirm tap sends
Held = Choice | Intent


class TradingDesk:
    """The trading commands' state: confirmations awaiting a tap (bounded) and orders in flight."""

    def __init__(self, services: Services, confirmations: ConfirmationStore[Held] | None = None
                 ) -> None:
        self.services = services
        self.confirmations: ConfirmationStore[Held] = (
            confirmations if confirmations is not None else ConfirmationStore())
        self._in_flight: set[asyncio.Task[Any]] = set()

    def _ask(self, item: Held, asker: Asker) -> str:
        return self.confirmations.put(item, asker.chat_id, asker.user_id)

    # --- /long and /short ----------------------------------------------------------------------

    async def entry_reply(self, side: Side, args: Sequence[str], asker: Asker) -> Reply:
        try:
            request = parse_entry(side, args)
        except TradeInputError as err:
            return Reply(f"⚠️ {err}")
        candidates, loaded = await self._markets_matching(request.query, asker)
        if not candidates:
            if not loaded:
                return Reply("⚠️ The markets could not be loaded from the exchange; try again "
                              "shortly.")
            return Reply(f"⚠️ Unknown symbol <b>{esc(request.query)}</b>.")
        if len(candidates) == 1:
            account, symbol = candidates[0]
            return await self.prepare_entry(EntryChoice(request, account, symbol), asker)
        choices = [(f"{symbol} · {account}", self._ask(EntryChoice(request, account, symbol), asker))
                   for account, symbol in candidates[:MAX_CHOICES]]
        return Reply(f"Which market do you mean by <b>{esc(request.query)}</b>?",
                     choices_keyboard(choices))

    async def _markets_matching(self, query: str, asker: Asker
                                ) -> tuple[list[tuple[str, str]], bool]:
        """(account, symbol) pairs the query names, in the accounts the asking chat trades: an
        exact symbol, else perpetuals first."""
        found: list[tuple[str, str]] = []
        loaded = False
        for account in self.services.accounts_for(asker.chat_id):
            markets = await self.services.markets(account)
            loaded = loaded or bool(markets)
            found += [(account, symbol) for symbol in matching_symbols(query, markets)]
        wanted = query.strip().upper()
        exact = [c for c in found if c[1].upper() == wanted]
        perpetual = [c for c in found if "-" not in c[1].partition(":")[2]]
        return exact or perpetual or found, loaded

    async def prepare_entry(self, choice: EntryChoice, asker: Asker) -> Reply:
        request, account, symbol = choice.request, choice.account, choice.symbol
        conflict = self._entry_conflict(account, symbol, request.side)
        if conflict is not None:
            return Reply(f"⚠️ {conflict}")
        market = (await self.services.markets(account)).get(symbol)
        mark = await self._mark(account, symbol)
        try:
            stop, note = entry_stop_price(request, market, mark, symbol)
            preview = await asyncio.wait_for(
                self.services.commands.preview_entry(account, symbol, request.side,
                              request.amount, request.price, stop, mark),
                self.services.cycle_timeout)
        except TradeInputError as err:
            return Reply(f"⚠️ {err}")
        except Refusal as err:
            return Reply(f"⚠️ {esc(err)}")
        except (ExchangeError, TimeoutError) as err:
            return Reply(f"⚠️ The exchange failed: {esc(err) or 'no answer in time'}. Nothing was sent.")
        token = self._ask(EntryOrder(preview), asker)
        return Reply(entry_preview(preview, note, self.confirmations.ttl), confirm_keyboard(token))

    def _entry_conflict(self, account: str, symbol: str, side: Side) -> str | None:
        """An entry the cycle could not tell apart from a trade already on that position."""
        hedge = self.services.tracker.book.is_hedge(account)
        for t in self.services.tracker.book.active_trades(account):
            if t.symbol != symbol or (hedge and t.side is not side):
                continue
            name = f"<b>{esc(symbol)}</b> {esc(t.side.value)}"
            if t.status is TradeStatus.PENDING:
                return (f"A bot entry on {name} is already pending (trade #{t.id}): "
                        f"<code>/cancel {t.id}</code> first.")
            if t.side is side:
                return (f"You already hold {name} (trade #{t.id}). Adding to an open position "
                        "from the chat is not supported; add in the exchange app and the bot "
                        "records it.")
            return (f"You hold {name} (trade #{t.id}) and the account is in one-way mode: a "
                    f"{side.value} entry would trade against it. Use <code>/close "
                    f"{esc(base_of(symbol))}</code> to reduce it.")
        return None

    async def _mark(self, account: str, symbol: str) -> Decimal | None:
        """A fresh mark from the gateway when it can tell one, else the last snapshot's."""
        gateway = self.services.tracker.gateway(account)
        try:
            mark = await asyncio.wait_for(gateway.fetch_mark_price(symbol), MARK_TIMEOUT_S)
        except (ExchangeError, TimeoutError) as err:
            log.info("mark of %s on %s unavailable: %r", symbol, account, err)
        else:
            if mark is not None and mark > 0:
                return mark
        snapshot = self.services.tracker.book.last_snapshot(account)
        for p in snapshot.positions if snapshot else ():
            if p.symbol == symbol and p.mark_price is not None:
                return p.mark_price
        return None

    # --- /close --------------------------------------------------------------------------------

    async def close_reply(self, args: Sequence[str], asker: Asker) -> Reply:
        if len(args) > 2:
            return Reply(CLOSE_USAGE)
        open_trades = [t for t in self.services.trades_for(asker.chat_id) if t.is_open]
        if not args:
            if not open_trades:
                return Reply("No open positions to close.")
            return await self._pick(open_trades, ClosePortion(),
                                    "Which position should I close?", asker)
        try:
            portion = parse_portion(args[1]) if len(args) == 2 else ClosePortion()
        except TradeInputError as err:
            return Reply(f"⚠️ {err}\n{CLOSE_USAGE}")
        matches = matching_trades(args[0], open_trades)
        if not matches:
            return Reply(await self._no_position(args[0], asker))
        if len(matches) == 1:
            return await self.prepare_close(CloseChoice(matches[0].id, portion), asker)
        return await self._pick(matches, portion, "Which position should I close?", asker)

    async def _no_position(self, query: str, asker: Asker) -> str:
        pending = matching_trades(query, [t for t in self.services.trades_for(asker.chat_id)
                                          if t.status is TradeStatus.PENDING])
        if pending:
            t = pending[0]
            return (f"⚠️ <b>{esc(t.symbol)}</b> {esc(t.side.value)} is a pending entry (trade "
                    f"#{t.id}), not a position: <code>/cancel {t.id}</code> cancels it.")
        return "⚠️ " + await self.services.no_match(query, asker.chat_id, "open position")

    async def prepare_close(self, choice: CloseChoice, asker: Asker) -> Reply:
        t = self.services.find_trade(asker.chat_id, choice.trade_id)
        if t is None or not t.is_open:
            return Reply(f"⚠️ Trade #{choice.trade_id} has no open position any more.")
        market = (await self.services.markets(t.account)).get(t.symbol)
        try:
            qty = close_quantity(t.size, market.amount_step if market else None, choice.portion)
        except TradeInputError as err:
            return Reply(f"⚠️ {err}")
        mark = await self._mark(t.account, t.symbol)
        token = self._ask(CloseOrder(t.id, None if qty == t.size else qty, t.size), asker)
        return Reply(close_preview(t, market, qty, mark, self.confirmations.ttl),
                     confirm_keyboard(token))

    # --- /cancel -------------------------------------------------------------------------------

    async def cancel_reply(self, args: Sequence[str], asker: Asker) -> Reply:
        if len(args) > 1:
            return Reply(CANCEL_USAGE)
        pending = [t for t in self.services.trades_for(asker.chat_id)
                   if t.status is TradeStatus.PENDING]
        if not args:
            if not pending:
                return Reply("No pending entries.")
            return await self._pick(pending, None, "Which pending entry should I cancel?", asker)
        target = parse_cancel(args[0])
        if target.trade_id is not None:
            return await self.prepare_cancel(CancelChoice(target.trade_id), asker)
        assert target.query is not None
        matches = matching_trades(target.query, pending)
        if not matches:
            return Reply(f"⚠️ No pending entry on <b>{esc(target.query)}</b>.\n{CANCEL_USAGE}")
        if len(matches) == 1:
            return await self.prepare_cancel(CancelChoice(matches[0].id), asker)
        return await self._pick(matches, None, "Which pending entry should I cancel?", asker)

    async def prepare_cancel(self, choice: CancelChoice, asker: Asker) -> Reply:
        t = self.services.find_trade(asker.chat_id, choice.trade_id)
        if t is None:
            return Reply(f"⚠️ Trade #{choice.trade_id} is not a pending entry: no open or "
                         "pending trade has that number.")
        if t.status is not TradeStatus.PENDING:
            return Reply(f"⚠️ Trade #{t.id} is an open position, not a pending entry: "
                         f"<code>/close {esc(base_of(t.symbol))}</code> closes it.")
        market = (await self.services.markets(t.account)).get(t.symbol)
        token = self._ask(CancelOrder(t.id), asker)
        return Reply(cancel_preview(t, market, self.services.clock(), self.confirmations.ttl),
                     confirm_keyboard(token, "✅ Cancel the entry", "Keep it"))

    # --- shared --------------------------------------------------------------------------------

    async def _pick(self, trades: Sequence[Trade], portion: ClosePortion | None, prompt: str,
                    asker: Asker, offset: int = 0) -> Reply:
        """A button per trade (to close with ``portion``, or to cancel when None), a page of
        ``MAX_CHOICES`` at a time with "More" for the rest."""
        page = trades[offset:offset + MAX_CHOICES]
        choices = []
        for t in page:
            market = (await self.services.markets(t.account)).get(t.symbol)
            choice = CancelChoice(t.id) if portion is None else CloseChoice(t.id, portion)
            choices.append((trade_label(t, market), self._ask(choice, asker)))
        end = offset + len(page)
        text = prompt
        if len(trades) > len(page):
            text += f"\nTrades {offset + 1}–{end} of {len(trades)}."
        if end < len(trades):
            more = MoreChoices(prompt, tuple(t.id for t in trades), portion, end)
            choices.append(("More ▸", self._ask(more, asker)))
        return Reply(text, choices_keyboard(choices))

    async def _more(self, more: MoreChoices, asker: Asker) -> Reply:
        trades = [t for i in more.trade_ids if (t := self.services.find_trade(asker.chat_id, i))]
        if not trades:
            return Reply("⚠️ None of those trades is open or pending any more.")
        return await self._pick(trades, more.portion, more.prompt, asker,
                                more.offset if more.offset < len(trades) else 0)

    async def prepare(self, choice: Choice, asker: Asker) -> Reply:
        if isinstance(choice, EntryChoice):
            return await self.prepare_entry(choice, asker)
        if isinstance(choice, CloseChoice):
            return await self.prepare_close(choice, asker)
        if isinstance(choice, MoreChoices):
            return await self._more(choice, asker)
        return await self.prepare_cancel(choice, asker)

    async def execute(self, order: Intent) -> tuple[str, str | None]:
        """Send a confirmed order: the reply, and the account whose cycle should run now."""
        tracker = self.services.tracker
        try:
            if isinstance(order, EntryOrder):
                p = order.preview
                trade = await self._bounded(self.services.commands.open_entry(p))
                return entry_sent(p, trade, tracker.settings.pending_timeout), p.account
            if isinstance(order, CancelOrder):
                cancel = self.services.commands.cancel_pending(order.trade_id)
                return cancel_done(await self._bounded(cancel)), None
            t = tracker.book.find_active(order.trade_id)
            if t is None:
                return f"⚠️ Trade #{order.trade_id} has no open position any more.", None
            sent = await self._bounded(self.services.commands.close_position(order.trade_id, order.amount,
                                                                           order.size))
            market = (await self.services.markets(t.account)).get(t.symbol)
            return close_sent(t, sent, market), t.account
        except Refusal as err:
            return f"⚠️ {esc(err)}", None
        except ExchangeError as err:
            return f"⚠️ The exchange refused: {esc(err)}", None
        except TimeoutError:
            return ("⏳ The exchange has not answered in time; the order may still go through. "
                    "The next sync shows what happened: /positions."), None

    async def _bounded(self, work: Coroutine[Any, Any, T]) -> T:
        """Wait a bounded time; an order already on its way is not abandoned half-sent."""
        task = asyncio.ensure_future(work)
        self._in_flight.add(task)
        task.add_done_callback(self._finished)
        return await asyncio.wait_for(asyncio.shield(task), self.services.cycle_timeout * 2)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("trading action ended with %r", task.exception())

