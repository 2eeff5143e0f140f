"""A stop whose price the mark has already crossed, on every exchange: each refuses it in its
own words (Binance -2021, Bybit 110092/110093, OKX 51278/51280), and the bot treats every one
as its own crossed check (SPEC §7): one warning per trade in words that do not change, no push
again while it stays crossed, placed once the price is back. What reaches the trader is the
exchange's message and code, never its JSON body."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.models import OrderSide, Side, Source, Trade, TradeStatus
from positionbot.tracker.core.notices import StopLossFailed, StopLossPlaced
from positionbot.tracker.core.stoploss import StopAction, StopActionKind
from positionbot.tracker.engine.commands import TradeCommands
from positionbot.tracker.engine.ports import (
    OrderRejectedError,
    StopPriceCrossedError,
    TransientExchangeError,
)
from positionbot.tracker.engine.stop_actions import execute_stop_actions
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.paper import PaperExchange
from tests.exchange.contract.conftest import FAST_RETRY, GatewayFactory
from tests.exchange.contract.kits import BTC, Kit, Server
from tests.exchange.contract.test_cycle import Bot, _bot

D = Decimal
NAMES = {"binance": "Binance", "bybit": "Bybit", "okx": "OKX"}


@pytest.fixture
async def bot(tmp_path: Path, kit: Kit, make_gateway: GatewayFactory) -> AsyncIterator[Bot]:
    async for made in _bot(tmp_path, kit, kit.venue(), make_gateway):
        yield made


def _readable(kit: Kit, reason: str) -> None:
    """The exchange's own message and its code, with no JSON body or address around them."""
    assert reason.startswith(f"{NAMES[kit.name]} refused: "), reason
    assert reason.endswith(")") and reason[reason.rindex("(") + 1:-1].lstrip("-").isdigit()
    assert not any(mark in reason for mark in ("{", "}", '"', "http", "retCode", "sCode"))


async def test_a_stop_past_the_mark_is_refused_as_crossed_in_the_exchanges_own_words(
        kit: Kit, gateway: CcxtGateway, server: Server, venue: PaperExchange) -> None:
    venue.manual_order(BTC, OrderSide.BUY, kit.qty("0.010"))  # long at the mark, 50000

    with pytest.raises(StopPriceCrossedError) as refused:
        await gateway.place_stop_loss(BTC, Side.LONG, kit.qty("0.010"), D("50500"),
                                      "pb-1-sl-1-x", False)

    _readable(kit, refused.value.reason)
    assert venue.open_stop_orders() == []
    assert server.count(kit.create_stop, "POST") == 1  # a refusal: not sent again


async def test_any_other_refusal_carries_the_exchanges_message_and_code(
        kit: Kit, gateway: CcxtGateway) -> None:
    with pytest.raises(OrderRejectedError) as refused:  # reduce-only with no position
        await gateway.place_reduce(BTC, Side.LONG, kit.qty("0.010"), "pb-4-close-x", hedge=False)

    assert not isinstance(refused.value, StopPriceCrossedError)
    _readable(kit, refused.value.reason)


async def test_a_stop_rate_limited_at_every_attempt_says_why_in_short(
        kit: Kit, gateway: CcxtGateway, server: Server, venue: PaperExchange) -> None:
    venue.manual_order(BTC, OrderSide.BUY, kit.qty("0.010"))
    await gateway.markets()
    server.inject(*[kit.rate_limited(kit.create_stop)] * (FAST_RETRY.attempts + 2))

    with pytest.raises(TransientExchangeError) as failed:
        await gateway.place_stop_loss(BTC, Side.LONG, kit.qty("0.010"), D("45000"),
                                      "pb-2-sl-1-x", False)

    why = failed.value.reason
    assert f"{FAST_RETRY.attempts} " in why and f"({NAMES[kit.name]} answered: " in why, why
    assert not any(mark in why for mark in ("{", "}", "http", "retCode", "sCode", "pb-2")), why


async def test_the_exchanges_refusal_and_the_marks_check_give_one_warning(
        kit: Kit, gateway: CcxtGateway, venue: PaperExchange) -> None:
    """A stale mark lets the bot try; the exchange says crossed. The next cycle's fresh mark
    says crossed too, and another refusal later: still the one warning, in the same words."""
    venue.manual_order(BTC, OrderSide.BUY, kit.qty("0.010"))
    venue.set_mark(BTC, D("44000"))
    markets = await gateway.markets()
    trade = Trade(id=7, account="acc-1", symbol=BTC, side=Side.LONG, status=TradeStatus.OPEN,
                  source=Source.BOT, size=kit.qty("0.010"), avg_entry_price=D("50000"),
                  stop_loss_price=D("45000"), event_seq=1)

    first = await execute_stop_actions(gateway, [StopAction(StopActionKind.PLACE, trade)],
                                       markets, False, {7: D("50000")})
    [warning] = first.notices
    assert isinstance(warning, StopLossFailed) and not warning.unconfirmed
    assert warning.error.startswith("stop 45000 is already crossed (")
    _readable(kit, warning.error[warning.error.index("(") + 1:warning.error.rindex(")")])
    [noted] = first.trades
    assert noted.stop_loss_note == warning.error

    for kind, mark in ((StopActionKind.CROSSED, D("44000")), (StopActionKind.PLACE, D("50000")),
                       (StopActionKind.CROSSED, D("43000"))):
        again = await execute_stop_actions(gateway, [StopAction(kind, noted)], markets, False,
                                           {7: mark})
        assert again.notices == [] and again.trades == [], kind
    assert venue.open_stop_orders() == []

    venue.set_mark(BTC, D("46000"))
    back = await execute_stop_actions(gateway, [StopAction(StopActionKind.PLACE, noted)],
                                      markets, False, {7: D("46000")})
    assert [type(n) for n in back.notices] == [StopLossPlaced]
    [stop] = venue.open_stop_orders()
    assert (stop.trigger_price, stop.amount) == (D("45000"), kit.qty("0.010"))


async def _failed_pushes(bot: Bot) -> list[str]:
    rows = await bot.store.pending_notifications(utc_now() + timedelta(days=1), limit=1000)
    return [str(json.loads(row.fields)["error"]) for row in rows
            if row.kind == "stop_loss_failed"]


async def test_the_rest_of_a_partly_fired_stop_past_the_mark_is_warned_once_then_protected(
        bot: Bot) -> None:
    """The position grew by hand, the old stop fired for its own size only, and the mark is
    still past the stop: re-protecting the rest at that price is refused by the exchange.
    The trader hears of it once, however the mark moves, and the rest is protected when the
    price comes back."""
    q = bot.kit.qty
    bot.venue.manual_order(BTC, OrderSide.BUY, q("0.010"))
    await bot.cycle()
    [trade] = bot.trades()
    assert (await TradeCommands(bot.tracker).set_stop_loss(trade.id, D("45000"))).placed
    bot.venue.manual_order(BTC, OrderSide.BUY, q("0.010"))  # grown to 0.020...
    bot.venue.set_mark(BTC, D("44000"))  # ...and the stop for 0.010 fires before a cycle

    for mark in ("44000", "43500", "43000"):
        bot.venue.set_mark(BTC, D(mark))
        await bot.tracker.run_cycle("acc-1")

    [warning] = await _failed_pushes(bot)
    assert warning.startswith("stop 45000 is already crossed (")
    assert not any(mark in warning for mark in ("{", "}", "http", "retCode", "sCode"))
    assert bot.venue.open_stop_orders() == []

    bot.venue.set_mark(BTC, D("46000"))
    await bot.cycle()
    [stop] = bot.venue.open_stop_orders()
    assert (stop.trigger_price, stop.amount) == (D("45000"), q("0.010"))
    assert (await bot.kinds())[-1] == "stop_loss_placed"
    assert len(await _failed_pushes(bot)) == 1



async def test_sl_on_a_stale_mark_answers_with_the_exchanges_reason_and_warns_once(
        bot: Bot) -> None:
    """The mark fell past the asked price since the bot last looked: the bot's own check lets
    ``/sl`` through, the exchange refuses it, and the reply and the one push say why in short."""
    q = bot.kit.qty
    bot.venue.manual_order(BTC, OrderSide.BUY, q("0.010"))
    await bot.cycle()
    [trade] = bot.trades()
    bot.venue.set_mark(BTC, D("44000"))

    result = await TradeCommands(bot.tracker).set_stop_loss(trade.id, D("45000"))

    assert not result.placed
    head, _, then = result.message.partition(f"{NAMES[bot.kit.name]} refused: ")
    assert head == "stop 45000 not placed: the price is already past it (", result.message
    assert then.endswith("; the stop is placed then, or change it with /sl"), result.message
    assert not any(mark in result.message for mark in ("{", "}", "http", "pb-1")), result.message
    await bot.tracker.run_cycle("acc-1")
    [warning] = await _failed_pushes(bot)
    assert warning.startswith("stop 45000 is already crossed (")
    bot.venue.set_mark(BTC, D("46000"))
    await bot.cycle()
    assert [o.trigger_price for o in bot.venue.open_stop_orders()] == [D("45000")]
