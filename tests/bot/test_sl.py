"""/sl: every happy path and every error, typed and tapped, against the paper exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from positionbot.bot.app import stop
from positionbot.bot.handlers.stop_parse import StopInputError, parse_stop_value
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.core.models import Side, Source, Trade, TradeStatus
from positionbot.tracker.core.records import WriteBatch
from tests.support.telegram import BTC, CHAT, ETH, BotEnv, make_env, open_position

SOL = "SOL/USDT:USDT"


def stop_prices(env: BotEnv, account: str = "main") -> list[Decimal]:
    return [o.trigger_price for o in env.exchanges[account].open_stop_orders()
            if o.trigger_price is not None]


@pytest.fixture
async def trading(env: BotEnv) -> BotEnv:
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    open_position(env.exchange, ETH, Side.SHORT, "1.5", "3000")
    await env.cycle()
    return env


async def test_set_by_price_places_the_stop_at_once(trading: BotEnv) -> None:
    reply = await trading.command("/sl BTC 58000")
    assert reply.text.startswith("🛡 <b>BTC/USDT:USDT</b> 🟢 LONG: stop loss placed at 58000")
    assert "Order <code>" in reply.text
    assert stop_prices(trading) == [Decimal("58000")]
    moved = await trading.command("/sl btcusdt 57000.55")
    assert "placed at 57000.5" in moved.text  # a long's stop rounds down to the 0.1 tick
    assert stop_prices(trading) == [Decimal("57000.5")]


@pytest.mark.parametrize(("args", "expected"), [
    ("BTC -2%", Decimal("58800")), ("BTC 2%", Decimal("58800")),
    ("ETH -2%", Decimal("3060")), ("ETH/USDT 10%", Decimal("3300")),
])
async def test_percent_is_a_distance_from_the_mark_on_the_losing_side(
    trading: BotEnv, args: str, expected: Decimal,
) -> None:
    reply = await trading.command(f"/sl {args}")
    assert "stop loss placed" in reply.text
    assert expected in stop_prices(trading)


async def test_off_clears_the_stop(trading: BotEnv) -> None:
    await trading.command("/sl BTC 58000")
    reply = await trading.command("/sl BTC off")
    assert reply.text.startswith("🧹") and "stop loss cleared" in reply.text
    assert stop_prices(trading) == []
    assert trading.tracker.book.active_trades()[0].stop_loss_price is None


@pytest.mark.parametrize(("args", "message"), [
    ("BTC abc", "<b>abc</b> is not a price"),
    ("BTC +2%", "losing side of the mark: use -2%"),
    ("BTC 0%", "0% stop would fire at once"),
    ("BTC -0", "must be positive"),
    ("BTC 61000", "A long stop must be below the mark 60000.0; got 61000.0"),
    ("ETH 2900", "A short stop must be above the mark 3000.00; got 2900.00"),
    ("BTC -150%", "150% would put a long"),
    ("DOGE 0.1", "No open position or pending trade on <b>DOGE/USDT:USDT</b>"),
    ("XYZ 1", "Unknown symbol <b>XYZ</b>"),
    ("<b>x</b> 1", "Unknown symbol <b>&lt;b&gt;x&lt;/b&gt;</b>"),
    ("BTC 1 2", "Usage:"),
])
async def test_errors_are_clear_and_change_nothing(trading: BotEnv, args: str, message: str) -> None:
    reply = await trading.command(f"/sl {args}")
    assert message in reply.text
    assert stop_prices(trading) == []


async def test_sl_alone_lists_trades_then_buttons_set_the_stop(trading: BotEnv) -> None:
    picker = await trading.command("/sl")
    assert picker.text == "Pick a trade to set its stop loss:"
    assert [label for label, _ in picker.buttons] == [
        "BTC/USDT:USDT long · main", "ETH/USDT:USDT short · main"]
    await trading.press_labelled(picker, "BTC")
    await trading.api.wait_for(lambda: trading.api.message(CHAT, picker.message_id).edits == 1)
    menu = trading.api.message(CHAT, picker.message_id)
    assert "Stop loss</b> · <b>BTC/USDT:USDT</b>" in menu.text
    await trading.press_labelled(menu, "-2%")
    await trading.api.wait_for(lambda: trading.api.message(CHAT, picker.message_id).edits == 2)
    assert "stop loss placed at 58800" in trading.api.message(CHAT, picker.message_id).text
    assert stop_prices(trading) == [Decimal("58800")]
    menu_again = await trading.command("/sl BTC")
    assert "SL 58800.0 ✅" in menu_again.text
    await trading.press_labelled(menu_again, "Remove stop loss")
    await trading.api.wait_for(lambda: stop_prices(trading) == [])


async def test_a_tapped_level_that_became_wrong_is_refused(trading: BotEnv) -> None:
    menu = await trading.command("/sl BTC")
    trading.exchange.set_mark(BTC, Decimal("58000"))
    await trading.cycle()
    await trading.press_labelled(menu, "-1%")  # 59400 is now above the mark
    await trading.api.wait_for(lambda: "must be below the mark" in
                               trading.api.message(CHAT, menu.message_id).text)
    assert stop_prices(trading) == []


async def test_no_trades_at_all(env: BotEnv) -> None:
    assert (await env.command("/sl")).text == "No open or pending trades."
    assert "No open or pending trades." in (await env.command("/sl 58000")).text


@pytest.fixture
async def two_accounts(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    env = await make_env(api, store, accounts=("main", "alt"))
    for account in ("main", "alt"):
        open_position(env.exchanges[account], BTC, Side.LONG, "0.01", "60000")
        await env.cycle(account)
    yield env
    await stop(env.app)


async def test_ambiguous_symbol_offers_buttons(two_accounts: BotEnv) -> None:
    env = two_accounts
    reply = await env.command("/sl BTC 58000")
    assert reply.text == "Which trade should I set this stop on?"
    assert [label for label, _ in reply.buttons] == [
        "BTC/USDT:USDT long · main → 58000", "BTC/USDT:USDT long · alt → 58000"]
    await env.press_labelled(reply, "alt")
    await env.api.wait_for(lambda: "placed" in env.api.message(CHAT, reply.message_id).text)
    assert stop_prices(env, "alt") == [Decimal("58000")]
    assert stop_prices(env, "main") == []


@pytest.fixture
async def pending(env: BotEnv) -> BotEnv:
    trade = Trade(env.store.new_trade_id(), "main", SOL, Side.LONG, TradeStatus.PENDING,
                  Source.BOT, entry_order_id="x1", entry_price_limit=Decimal("100"),
                  created_at=datetime.now(UTC))
    await env.store.commit(WriteBatch("main", trades=[trade]))
    await env.tracker.start()  # reload: the trade was written behind the tracker's back
    return env


async def test_a_pending_trade_stores_the_stop(pending: BotEnv) -> None:
    reply = await pending.command("/sl SOL 95")
    assert reply.text.startswith("⏳") and "placed when the entry fills" in reply.text
    [trade] = pending.tracker.book.active_trades()
    assert trade.has_pending_stop and trade.stop_loss_price == Decimal("95")
    percent = await pending.command("/sl SOL -3%")
    assert "stop loss 97" in percent.text  # 3% below the limit price
    wrong = await pending.command("/sl SOL 101")
    assert "A long stop must be below the entry 100.00" in wrong.text
    assert stop_prices(pending) == []


@given(st.text(max_size=40))
@settings(max_examples=400)
def test_stop_values_parse_or_fail_clearly(text: str) -> None:
    try:
        request = parse_stop_value(text)
    except StopInputError as err:
        assert str(err)
        return
    assert request.off or (request.price or request.percent or 0) > 0
