"""Trade commands from the chat: stop losses, entries, reduce-only closes, cancelling entries.

Every refusal is one ``Refusal`` whose message is meant for the trader. A stop price is
validated and rounded here and nowhere else (``stop_price``), so a preview and the order
always agree. The pending trade of an entry is written before its order is sent, carrying the
order's client id, so a crash between the two leaves a trade the orphan rules can resolve by
that id. Closes are only sent here; the cycle records what they did (one source of truth).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from secrets import token_hex

from positionbot.tracker.core.client_ids import client_order_id
from positionbot.tracker.core.models import (
    Market,
    Order,
    Side,
    Source,
    Trade,
    TradeStatus,
)
from positionbot.tracker.core.notices import StopLossCleared, StopLossPlaced
from positionbot.tracker.core.stoploss import is_crossed, percent_stop_price, round_stop_price
from positionbot.tracker.engine.cleanup_actions import pending_cancelled_notice
from positionbot.tracker.engine.figures import money, shown
from positionbot.tracker.engine.ports import (
    ExchangeError,
    OrderOutcomeUnknownError,
    OrderRejectedError,
    StopPriceCrossedError,
    TransientExchangeError,
)
from positionbot.tracker.engine.report import StopLossResult
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.stop_actions import (
    Swap,
    failure_note,
    place_stop,
    stop_failure,
    stop_figures,
    swap_stop,
)

log = logging.getLogger(__name__)


class Refusal(ValueError):
    """A command that cannot be carried out; its message is plain text meant for the trader."""


@dataclass(frozen=True, slots=True)
class StopSpec:
    """A stop as the trader asked for it: an absolute price, or a percent distance from the
    reference (mark, else the pending entry's limit) on the losing side."""

    price: Decimal | None = None
    percent: Decimal | None = None


@dataclass(frozen=True, slots=True)
class EntryPreview:
    account: str
    market: Market
    side: Side
    amount: Decimal
    price: Decimal | None  # None: market order
    reference_price: Decimal  # the limit price, or the mark for a market order
    notional: Decimal
    stop_loss: Decimal | None


def round_amount(amount: Decimal, step: Decimal) -> Decimal:
    return (amount / step).to_integral_value(rounding=ROUND_DOWN) * step


def _where(side: Side) -> str:
    return "below" if side is Side.LONG else "above"


def _at_tick(price: Decimal, market: Market | None) -> str:
    """A price as the market quotes it (60000.0 on a 0.1 tick), for messages."""
    return shown(price, market.price_tick if market is not None else None)


class TradeCommands:
    """What the chat may ask of the tracker; every write goes through the tracker's lock."""

    def __init__(self, tracker: SimplePositionTracker) -> None:
        self._tracker = tracker

    def stop_reference(self, trade: Trade) -> tuple[Decimal | None, str]:
        """The price a percent is taken from and a stop must stay clear of: mark, else limit."""
        position = self._tracker.book.position_for(trade)
        if position is not None and position.mark_price is not None:
            return position.mark_price, "mark"
        if trade.status is TradeStatus.PENDING and trade.entry_price_limit is not None:
            return trade.entry_price_limit, "entry"
        return None, "mark"

    def stop_price(self, trade: Trade, spec: StopSpec, market: Market | None) -> Decimal:
        """The validated stop price ``spec`` means for ``trade``, rounded away from the mark."""
        reference, what = self.stop_reference(trade)
        if spec.percent is not None:
            if reference is None:
                raise Refusal(f"no mark price for {trade.symbol} yet; give a price instead")
            if spec.percent <= 0:
                raise Refusal("a 0% stop would fire at once; give a distance like -2%")
            if trade.side is Side.LONG and spec.percent >= 100:
                raise Refusal(f"{shown(spec.percent)}% would put a long's stop at or below zero")
            price = percent_stop_price(trade.side, reference, spec.percent)
        elif spec.price is not None:
            price = spec.price
        else:
            raise Refusal("give a stop price or a percent")
        if price <= 0:
            raise Refusal("the stop price must be positive")
        if market is not None:
            price = round_stop_price(trade.side, price, market.price_tick)
            if price <= 0:
                raise Refusal("that stop rounds to zero at this market's tick")
        if reference is not None and is_crossed(trade.side, price, reference):
            raise Refusal(f"a {trade.side.value} stop must be {_where(trade.side)} the {what} "
                          f"{_at_tick(reference, market)}; got {_at_tick(price, market)}")
        return price

    def _refuse_if_off(self, account: str) -> None:
        """A monitor-only account (``trading = false``) and a paused bot send nothing."""
        if account in self._tracker.monitor_only:
            raise Refusal(f"trading is off for {account}: it is monitor-only (trading = false in "
                          "the configuration), so nothing was sent")
        if self._tracker.trading_paused:
            raise Refusal("trading commands are paused (/pause), so nothing was sent; /resume "
                          "allows them again")

    async def set_stop_loss(self, trade_id: int, spec: StopSpec | Decimal | None) -> StopLossResult:
        """Set, change or clear (``None``) the stop loss of an open or pending trade; a bare
        ``Decimal`` is an absolute price."""
        if isinstance(spec, Decimal):
            spec = StopSpec(price=spec)
        tracker = self._tracker
        found = tracker.book.find_active(trade_id)
        if found is None:
            raise Refusal(f"trade #{trade_id} is not open or pending")
        self._refuse_if_off(found.account)
        async with tracker.account_lock(found.account):
            t = tracker.book.find_active(trade_id)
            if t is None:
                raise Refusal(f"trade #{trade_id} is not open or pending")
            if spec is None:
                return await self._clear_stop(t)
            market = (await tracker.markets(t.account)).get(t.symbol)
            price = self.stop_price(t, spec, market)
            if t.status is TradeStatus.PENDING:
                stored = replace(t, stop_loss_price=price, stop_loss_note=None)
                await tracker.commit_trade(stored, [])
                return StopLossResult(stored, False, None,
                                      f"stop loss {price} stored; placed when the entry fills")
            return await self._place_now(t, price)

    async def _place_now(self, t: Trade, price: Decimal) -> StopLossResult:
        tracker = self._tracker
        wanted = replace(t, stop_loss_price=price, stop_loss_note=None)
        gw = tracker.gateway(t.account)
        try:
            order = await place_stop(gw, wanted, price, t.size, tracker.book.is_hedge(t.account))
        except ExchangeError as e:
            tracker.reconcile_stops(t.account)  # the exchange may have accepted it after all
            what = ("did not confirm the new stop" if isinstance(e, TransientExchangeError)
                    else "refused the new stop")
            if t.stop_loss_order_id is not None:
                # The live stop stays in force; forgetting it would leave two stops later.
                return StopLossResult(t, False, t.stop_loss_order_id,
                                      f"exchange {what}: {e.reason}; the previous one stays")
            failed, notice = stop_failure(wanted, failure_note(wanted, e))
            await tracker.commit_trade(failed, [notice] if notice else [])
            if isinstance(e, StopPriceCrossedError):  # not a fault: it waits for the price
                return StopLossResult(failed, False, None, (
                    f"stop {price} not placed: the price is already past it ({e.reason}); the "
                    "position is unprotected until the price is back on the right side; the "
                    "stop is placed then, or change it with /sl"))
            return StopLossResult(failed, False, None, f"exchange {what}: {e.reason}; will retry")
        swap = await swap_stop(gw, t, order)
        if swap is Swap.ROLLED_BACK:
            tracker.reconcile_stops(t.account)
            return StopLossResult(t, False, t.stop_loss_order_id,
                                  f"stop not moved: the previous stop at {t.stop_loss_price} could "
                                  "not be cancelled, so it stays and the new one was withdrawn")
        placed = replace(wanted, stop_loss_order_id=order.id, stop_loss_size=t.size)
        if swap is Swap.BOTH_LIVE:
            tracker.reconcile_stops(t.account)
            notice = stop_failure(placed, f"the previous stop at {t.stop_loss_price} could not "
                                          "be cancelled; the next sync cancels it")[1]
            await tracker.commit_trade(placed, [notice] if notice else [])
            return StopLossResult(placed, False, order.id,
                                  f"stop move not confirmed: a stop at {order.trigger_price or price}"
                                  f" is live, but the previous one at {t.stop_loss_price} could not "
                                  "be cancelled yet; the next sync cancels it")
        await tracker.commit_trade(
            placed, [StopLossPlaced(**stop_figures(placed, f"placed/{order.id}"), order_id=order.id)])
        return StopLossResult(placed, True, order.id,
                              f"stop loss placed at {order.trigger_price or price} for {t.size}")

    async def _clear_stop(self, t: Trade) -> StopLossResult:
        tracker = self._tracker
        if t.stop_loss_order_id is not None:
            try:
                await tracker.gateway(t.account).cancel_order(t.symbol, t.stop_loss_order_id,
                                                              stop=True)
            except ExchangeError as e:
                return StopLossResult(t, False, t.stop_loss_order_id,
                                      f"could not cancel the stop order: {e}")
        cleared = replace(t, stop_loss_price=None, stop_loss_order_id=None, stop_loss_size=None,
                          stop_loss_note=None)
        notice = StopLossCleared(**stop_figures(t, f"cleared/{tracker.now().isoformat()}"),
                                 reason="cleared from the chat")
        await tracker.commit_trade(cleared, [notice])
        return StopLossResult(cleared, False, None, "stop loss cleared")

    async def preview_entry(
        self, account: str, symbol: str, side: Side, amount: Decimal,
        price: Decimal | None, stop_loss: Decimal | None, mark: Decimal | None,
    ) -> EntryPreview:
        """Validate an entry against the market's rules before anything is sent."""
        self._refuse_if_off(account)
        market = (await self._tracker.markets(account)).get(symbol)
        if market is None:
            raise Refusal(f"unknown symbol {symbol}")
        if amount <= 0 or (price is not None and price <= 0):
            raise Refusal("size and price must be positive")
        rounded = round_amount(amount, market.amount_step)
        if rounded != amount:
            raise Refusal(f"size must be a multiple of {shown(market.amount_step)} "
                          f"(e.g. {shown(rounded, market.amount_step)})")
        if amount < market.min_amount:
            raise Refusal(f"size below the minimum of {shown(market.min_amount)}")
        if price is not None and (price / market.price_tick) % 1 != 0:
            raise Refusal(f"price must be a multiple of {shown(market.price_tick)}")
        reference = price if price is not None else (mark or self._tracker.book.mark_of(account,
                                                                                       symbol))
        if reference is None:
            raise Refusal(f"no price known for {symbol}; give a limit price with @PRICE")
        notional = amount * market.contract_size * reference
        if notional < market.min_notional:
            raise Refusal(f"order value {money(notional, market.settle)} below the minimum of "
                          f"{shown(market.min_notional)} {market.settle}".rstrip())
        if stop_loss is not None and is_crossed(side, stop_loss, reference):
            raise Refusal(f"a {side.value} stop loss must be {_where(side)} the entry price "
                          f"{_at_tick(reference, market)}")
        return EntryPreview(account, market, side, amount, price, reference, notional, stop_loss)

    async def open_entry(self, preview: EntryPreview) -> Trade:
        """Record the pending trade, then send its entry order; the cycle links the position."""
        tracker = self._tracker
        account, symbol = preview.account, preview.market.symbol
        self._refuse_if_off(account)  # (paused since the preview was shown)
        async with tracker.account_lock(account):
            self._refuse_duplicate(account, symbol, preview.side)
            trade_id = tracker.new_trade_id()
            cid = client_order_id(trade_id, "entry", preview.side.value, preview.amount,
                                  preview.price)
            pending = Trade(trade_id, account, symbol, preview.side, TradeStatus.PENDING,
                            Source.BOT, contract_size=preview.market.contract_size,
                            entry_client_order_id=cid, entry_price_limit=preview.price,
                            stop_loss_price=preview.stop_loss, created_at=tracker.now())
            await tracker.commit_trade(pending, [])
            try:
                order = await self._send_entry(pending, preview, cid)
            except OrderRejectedError as e:
                await self._cancel(pending, f"entry order rejected: {e}")
                raise Refusal(f"the exchange refused the order: {e}") from e
            except ExchangeError as e:
                raise Refusal(f"entry order not confirmed ({e}); the next sync resolves it") from e
            placed = replace(pending, entry_order_id=order.id)
            await tracker.commit_trade(placed, [])
            return placed

    def _refuse_duplicate(self, account: str, symbol: str, side: Side) -> None:
        """Checked again at confirm time, under the account lock: two previews confirmed one
        after the other must not both send (the second would never become its own position)."""
        hedge = self._tracker.book.is_hedge(account)
        for t in self._tracker.book.active_trades(account):
            if t.symbol == symbol and (t.side is side or not hedge):
                state = "a pending entry" if t.status is TradeStatus.PENDING else "an open position"
                raise Refusal(f"trade #{t.id} is already {state} on {symbol} {t.side.value}; "
                              "nothing was sent")

    async def _send_entry(self, t: Trade, preview: EntryPreview, cid: str) -> Order:
        gw = self._tracker.gateway(t.account)
        try:
            return await gw.place_entry(t.symbol, t.side, preview.amount, preview.price, cid,
                                        self._tracker.book.is_hedge(t.account))
        except TransientExchangeError:
            found = await gw.fetch_order(t.symbol, client_order_id=cid)
            if found is None:
                raise
            return found

    async def close_position(self, trade_id: int, amount: Decimal | None,
                             expected_size: Decimal) -> Order:
        """Send a reduce-only market order for all (``None``) or part of an open trade.

        ``expected_size`` is the size the trader's preview showed: if the position has changed
        since, nothing is sent and the trader is asked again, so a confirmed close never sends
        more than it showed."""
        tracker = self._tracker
        t = tracker.book.find_active(trade_id)
        if t is None or t.status is not TradeStatus.OPEN:
            raise Refusal(f"trade #{trade_id} has no open position")
        self._refuse_if_off(t.account)
        markets = await tracker.markets(t.account)
        market_step = markets[t.symbol].amount_step if t.symbol in markets else None
        step = market_step or Decimal("1e-8")
        async with tracker.account_lock(t.account):
            current = tracker.book.find_active(trade_id)
            if current is None or current.status is not TradeStatus.OPEN:
                raise Refusal(f"trade #{trade_id} has no open position")
            if current.size != expected_size:
                raise Refusal(f"the position of trade #{trade_id} is now "
                              f"{shown(current.size, market_step)}, not the "
                              f"{shown(expected_size, market_step)} the preview showed; nothing "
                              "was sent. Ask for "
                              "the close again to see a new preview")
            qty = expected_size if amount is None else round_amount(amount, step)
            if qty <= 0 or qty > current.size:
                raise Refusal(f"close size must be between {shown(step)} and "
                              f"{shown(current.size, market_step)}")
            marked = replace(current, close_requested_by_bot=True)
            await tracker.commit_trade(marked, [])
            # The nonce keeps two closes of the same size (two previews) apart on the exchange.
            cid = client_order_id(trade_id, "close", current.event_seq, qty, token_hex(4))
            gw = tracker.gateway(t.account)
            try:
                return await gw.place_reduce(t.symbol, t.side, qty, cid,
                                             tracker.book.is_hedge(t.account))
            except OrderRejectedError:
                await tracker.commit_trade(current, [])  # refused: a later close is not the bot's
                raise
            except OrderOutcomeUnknownError as e:
                raise Refusal(f"the close of {shown(qty, market_step)} was not confirmed by "
                              f"the exchange ({e}); it is not sent again: the next sync shows "
                              "whether it went through") from e

    async def cancel_pending(self, trade_id: int) -> Trade:
        """Cancel a pending trade's resting entry order on the exchange, then the trade."""
        tracker = self._tracker
        t = tracker.book.find_active(trade_id)
        if t is None or t.status is not TradeStatus.PENDING:
            raise Refusal(f"trade #{trade_id} is not a pending entry")
        self._refuse_if_off(t.account)
        async with tracker.account_lock(t.account):
            current = tracker.book.find_active(trade_id)
            if current is None or current.status is not TradeStatus.PENDING:
                raise Refusal(f"trade #{trade_id} is not a pending entry")
            if current.entry_order_id is not None:
                try:
                    await tracker.gateway(t.account).cancel_order(t.symbol, current.entry_order_id)
                except ExchangeError as e:
                    raise Refusal(f"could not cancel the entry order: {e}") from e
            return await self._cancel(current, "cancelled from the chat")

    async def _cancel(self, t: Trade, reason: str) -> Trade:
        cancelled = replace(t, status=TradeStatus.CANCELLED, close_reason=reason,
                            closed_at=self._tracker.now())
        await self._tracker.commit_trade(cancelled, [pending_cancelled_notice(t, reason)])
        return cancelled
