"""Every bad input is refused with a clear reply, and nothing at all reaches the exchange's order
endpoints; every confirmation is good once, for the one who asked, in the chat that asked."""

from __future__ import annotations

import pytest

from positionbot.bot.render.trading import CANCELLED, NOT_YOURS, STALE_CONFIRM
from positionbot.fakes.binance_faults import Fault
from positionbot.tracker.core.models import OrderSide
from tests.support.telegram import CHAT, STRANGER
from tests.support.trading import BTC, D, TradingEnv, place


@pytest.mark.parametrize(("command", "message"), [
    ("/long", "Usage: <code>/long BTC 0.01</code>"),
    ("/short BTC", "Usage: <code>/short BTC 0.01</code>"),
    ("/long BTC abc", "<b>abc</b> is not a valid size."),
    ("/long BTC -1", "<b>-1</b> is not a valid size."),
    ("/long BTC 1e3", "<b>1e3</b> is not a valid size."),
    ("/long BTC NaN", "<b>NaN</b> is not a valid size."),
    ("/long BTC 0", "The size must be above zero"),
    ("/long BTC 0,01", "write the size with a dot for decimals"),
    ("/long 0.01 BTC", "Symbol first, then size: <code>/long BTC 0.01</code>"),
    ("/long XYZ 1", "Unknown symbol <b>XYZ</b>."),
    ("/long <b>x</b> 1", "Unknown symbol <b>&lt;b&gt;x&lt;/b&gt;</b>."),
    ("/long BTC 0.001", "size below the minimum of 0.002"),
    ("/long BTC 0.0025", "size must be a multiple of 0.001 (e.g. 0.002)"),
    ("/long ETH 0.005", "order value 15.00 USDT below the minimum of 20 USDT"),
    ("/long BTC 0.010 @45000.05", "price must be a multiple of 0.1"),
    ("/long BTC 0.010 @0", "The price must be above zero"),
    ("/long BTC 0.010 @1 @2", "Give one limit price."),
    ("/long BTC 0.010 tp 60000", "I don't understand <b>tp</b>."),
    ("/long BTC 0.010 sl", "<code>sl</code> takes one price or percent."),
    ("/long BTC 0.010 sl 51000", "a long stop loss must be below the entry price 50000"),
    ("/short BTC 0.010 @50000 sl 49000", "a short stop loss must be above the entry price 50000"),
    ("/long BTC 0.010 sl +2%", "losing side of the mark: use -2%"),
    ("/long BTC 0.010 sl -150%", "150% would put a long's stop at or below zero."),
    ("/long BTC 0.010 sl off", "Leave out <code>sl</code>"),
    ("/long BTC 0.010 sl 48,000", "write the stop with a dot"),
    ("/close", "No open positions to close."),
    ("/close BTC", "No open position on <b>BTC/USDT:USDT</b>."),
    ("/close XYZ", "Unknown symbol <b>XYZ</b>."),
    ("/close BTC 1 2", "Usage: <code>/close BTC</code>"),
    ("/cancel", "No pending entries."),
    ("/cancel 999", "Trade #999 is not a pending entry"),
    ("/cancel BTC", "No pending entry on <b>BTC</b>."),
    ("/cancel 1 2", "Usage: <code>/cancel 12</code>"),
])
async def test_bad_input_is_refused_and_nothing_is_sent(
        env: TradingEnv, command: str, message: str) -> None:
    reply = await env.command(command)
    assert message in reply.text
    assert reply.buttons == []
    assert env.orders_sent() == 0
    assert env.tracker.book.active_trades("main") == []


@pytest.mark.parametrize(("command", "message"), [
    ("/close BTC 150%", "Close at most 100%"),
    ("/close BTC 0.02", "Only 0.010 is open"),
    ("/close BTC 0.0015", "The size must be a multiple of 0.001"),
    ("/close BTC 0.01%", "rounds to nothing at this market's step 0.001"),
    ("/close BTC half", "<b>half</b> is not a valid size."),
    ("/cancel 1", "Trade #1 is an open position, not a pending entry: <code>/close BTC</code>"),
    ("/long BTC 0.010", "You already hold <b>BTC/USDT:USDT</b> long (trade #1)"),
    ("/short BTC 0.010", "the account is in one-way mode: a short entry would trade against it"),
    ("/close ETH", "is a pending entry (trade #2), not a position: <code>/cancel 2</code>"),
    ("/short ETH 1 @3100", "A bot entry on <b>ETH/USDT:USDT</b> short is already pending (trade #2)"),
])
async def test_commands_that_do_not_fit_the_book_are_refused(
        env: TradingEnv, command: str, message: str) -> None:
    env.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    await env.cycle()
    await place(env, "/short ETH 0.5 @3100")
    before = env.orders_sent()
    reply = await env.command(command)
    assert message in reply.text
    assert env.orders_sent() == before


async def test_cancel_button_sends_nothing_and_the_confirmation_is_gone(env: TradingEnv) -> None:
    preview = await env.command("/long BTC 0.010")
    data = preview.buttons[0][1]
    answer = await env.press(preview, "Cancel")
    assert answer["text"] == "Cancelled"
    await env.api.wait_for(lambda: env.current(preview).text == CANCELLED)
    assert env.current(preview).buttons == []
    late = env.api.press_button(CHAT, preview.message_id, data)  # a Confirm tapped too late
    assert (await env.api.wait_for_answer(late))["text"] == STALE_CONFIRM
    assert env.orders_sent() == 0


@pytest.mark.parametrize("data", ["v1|ok|AAAAAAAAAAAA", "v1|pk|AAAAAAAAAAAA", "v1|ok|short",
                                  "v1|ok|a b c d e f", "v1|ok|" + "A" * 40])
async def test_forged_or_unknown_confirmations_are_answered_and_send_nothing(
        env: TradingEnv, data: str) -> None:
    preview = await env.command("/long BTC 0.010")
    query = env.api.press_button(CHAT, preview.message_id, data)
    answer = await env.api.wait_for_answer(query)
    assert answer["text"] in (STALE_CONFIRM, "This button is out of date — send /positions for "
                                             "fresh ones.")
    assert env.orders_sent() == 0


async def test_a_double_tap_on_confirm_sends_one_order(env: TradingEnv) -> None:
    preview = await env.command("/long BTC 0.010")
    data = preview.buttons[0][1]
    first = env.api.press_button(CHAT, preview.message_id, data)
    second = env.api.press_button(CHAT, preview.message_id, data)
    answers = [await env.api.wait_for_answer(q) for q in (first, second)]
    assert sorted(a.get("text", "") for a in answers) == sorted(["Sending…", STALE_CONFIRM])
    await env.api.wait_for(lambda: env.current(preview).text.startswith("✅"))
    assert len(env.sent("/fapi/v1/order")) == 1


async def test_only_the_person_who_asked_can_confirm(env: TradingEnv) -> None:
    preview = await env.command("/long BTC 0.010")
    answer = await env.press(preview, "Confirm", user=CHAT + 1)  # someone else in the chat
    assert answer["text"] == NOT_YOURS and answer["show_alert"] is True
    assert env.orders_sent() == 0
    assert (await env.confirm(preview)).text.startswith("✅")  # the asker still can
    assert len(env.sent("/fapi/v1/order")) == 1


async def test_strangers_get_nothing_and_send_nothing(
        env: TradingEnv, caplog: pytest.LogCaptureFixture) -> None:
    preview = await env.command("/long BTC 0.010")
    env.api.user_message(STRANGER, "/long BTC 0.010")
    env.api.press_button(STRANGER, preview.message_id, preview.buttons[0][1])
    await env.api.wait_for(lambda: sum("unauthorized chat" in r.getMessage()
                                       for r in caplog.records) >= 2)
    assert env.api.messages(STRANGER) == []
    assert env.orders_sent() == 0


async def test_without_a_mark_a_market_entry_asks_for_a_limit_price(env: TradingEnv) -> None:
    env.server.inject(*[Fault.auth_error("/premiumIndex")] * 2)  # the mark cannot be had
    reply = await env.command("/long BTC 0.010")
    assert "no price known for BTC/USDT:USDT; give a limit price with @PRICE" in reply.text
    reply = await env.command("/long BTC 0.010 sl -2%")
    assert "No mark price for <b>BTC/USDT:USDT</b> yet" in reply.text
    assert env.orders_sent() == 0
    await place(env, "/long BTC 0.010 @45000 sl -2%")  # a limit entry needs no mark
    (stop_order,) = [t for t in env.tracker.book.active_trades("main")]
    assert stop_order.stop_loss_price == D("44100")
