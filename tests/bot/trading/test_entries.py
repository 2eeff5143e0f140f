"""Bot entries from the chat, and the orphan rules that cancel the ones that never fill.

Every test types the command into the fake Telegram, taps the buttons, and checks both the
pushes the trader gets and the requests the Binance-format server received.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from positionbot.fakes.binance_faults import Fault
from positionbot.tracker.core.models import OrderStatus, Side, Source, Trade, TradeStatus
from positionbot.tracker.core.orphans import UNKNOWN_OUTCOME_GRACE
from positionbot.tracker.core.records import WriteBatch
from tests.support.trading import BTC, D, TradingEnv, only_trade, place


async def test_market_entry_opens_a_bot_trade_and_places_its_stop(env: TradingEnv) -> None:
    preview = await env.command("/long btc 0.010 sl 48000")
    assert "<b>Buy to open</b> · <b>BTC/USDT:USDT</b> 🟢 LONG · main" in preview.text
    assert "Size 0.010 BTC · market ~50000.0 (mark)" in preview.text
    assert "Notional ≈ 500.00 USDT" in preview.text and "Stop loss 48000.0" in preview.text
    assert [label for label, _ in preview.buttons] == ["✅ Confirm", "✖ Cancel"]
    assert env.orders_sent() == 0  # a preview sends nothing

    outcome = await env.confirm(preview)
    assert "Market order <code>" in outcome.text and outcome.buttons == []
    (entry,) = env.sent("/fapi/v1/order")
    assert (entry["type"], entry["side"], D(entry["quantity"])) == ("MARKET", "BUY", D("0.010"))
    assert entry["newClientOrderId"].startswith("pb-")

    opened = await env.push("Opened", BTC)
    assert "Size 0.010 @ 50000.0" in opened and "<i>bot · main</i>" in opened
    await env.push("Stop loss placed", "Stop 48000.0 for 0.010")
    (stop,) = env.sent("/fapi/v1/algoOrder")
    assert (stop["type"], stop["side"], D(stop["triggerPrice"]), D(stop["quantity"])) == (
        "STOP_MARKET", "SELL", D("48000"), D("0.010"))
    trade = only_trade(env)
    assert (trade.status, trade.source, trade.size) == (TradeStatus.OPEN, Source.BOT, D("0.010"))
    assert trade.stop_loss_order_id == env.venue.open_stop_orders()[0].id


async def test_limit_entry_cancelled_by_hand_is_cancelled_with_its_reason(env: TradingEnv) -> None:
    preview = await env.command("/short ETH 0.5 @3100 sl -2%")
    assert "limit @ 3100.00" in preview.text
    assert "Stop loss 3162.00 (+2% from the entry)" in preview.text
    outcome = await env.confirm(preview)
    assert "Limit order <code>" in outcome.text and "resting at 3100.00 for 0.500" in outcome.text
    trade = only_trade(env)
    assert trade.status is TradeStatus.PENDING and trade.entry_order_id is not None
    assert f"Trade #{trade.id} is pending" in outcome.text

    env.venue.manual_cancel(trade.entry_order_id)  # the trader cancels it in the exchange app
    await env.cycle()
    push = await env.push("Pending entry cancelled")
    assert "Reason: entry order cancelled on the exchange" in push
    assert env.tracker.book.active_trades("main") == []
    assert env.sent("/fapi/v1/algoOrder") == []  # no stop for a position that never was


async def test_entry_whose_order_never_reached_the_exchange_is_cancelled(env: TradingEnv) -> None:
    env.server.inject(*[Fault.server_error("/fapi/v1/order", method="POST")] * 3)
    preview = await env.command("/long BTC 0.010")
    outcome = await env.confirm(preview)
    assert outcome.text.startswith("⚠️ entry order not confirmed")
    assert env.venue.open_orders() == [] and env.venue.positions() == []
    assert only_trade(env).status is TradeStatus.PENDING  # recorded before it was sent
    await env.cycle()  # its outcome is unknown: it may still execute late, so it waits
    assert only_trade(env).status is TradeStatus.PENDING
    env.clock.shift += UNKNOWN_OUTCOME_GRACE
    await env.cycle()
    push = await env.push("Pending entry cancelled")
    assert "entry order not found on the exchange" in push
    assert env.tracker.book.active_trades("main") == []


async def test_pending_trade_without_any_entry_order_is_cancelled(env: TradingEnv) -> None:
    ghost = Trade(env.store.new_trade_id(), "main", BTC, Side.LONG, TradeStatus.PENDING,
                  Source.BOT, created_at=env.clock())
    await env.store.commit(WriteBatch("main", trades=[ghost]))
    await env.tracker.start()  # reload: written behind the tracker's back, as by a crash
    await env.cycle()
    assert "Reason: no entry order" in await env.push("Pending entry cancelled")
    assert env.orders_sent() == 0


async def test_too_old_entry_is_cancelled_on_the_exchange_then_the_trade(env: TradingEnv) -> None:
    trade = await place(env, "/long BTC 0.010 @45000")
    await env.cycle()
    assert only_trade(env).status is TradeStatus.PENDING  # young and resting: kept
    env.clock.shift = timedelta(minutes=61)
    await env.cycle()
    (cancel,) = env.sent("/fapi/v1/order", "DELETE")
    assert cancel["orderId"] == trade.entry_order_id
    order = env.venue.find_order(BTC, order_id=trade.entry_order_id)
    assert order is not None and order.status is OrderStatus.CANCELED
    push = await env.push("Pending entry cancelled")
    assert "not filled within 60 min: entry order cancelled" in push
    assert env.tracker.book.active_trades("main") == []


async def test_partial_fill_opens_at_the_filled_size_then_the_stop_grows(env: TradingEnv) -> None:
    trade = await place(env, "/long BTC 0.010 @45000 sl 44000")
    assert trade.entry_order_id is not None
    env.venue.fill_order(trade.entry_order_id, D("0.004"))
    await env.cycle()
    assert "Size 0.004 @ 45000.0" in await env.push("Opened")
    assert [D(s["quantity"]) for s in env.sent("/fapi/v1/algoOrder")] == [D("0.004")]

    env.venue.fill_order(trade.entry_order_id)
    await env.cycle()
    assert "Size 0.004 → 0.010" in await env.push("Increased")
    assert [D(s["quantity"]) for s in env.sent("/fapi/v1/algoOrder")] == [D("0.004"), D("0.010")]
    (stop,) = env.venue.open_stop_orders()  # the smaller one was cancelled, not left behind
    assert (stop.amount, stop.trigger_price) == (D("0.010"), D("44000"))
    opened = only_trade(env)
    assert (opened.id, opened.source, opened.size) == (trade.id, Source.BOT, D("0.010"))


async def test_cancel_a_pending_entry_from_the_chat(env: TradingEnv) -> None:
    trade = await place(env, "/long BTC 0.010 @45000")
    preview = await env.command(f"/cancel {trade.id}")
    assert f"Cancel pending entry #{trade.id}" in preview.text and "limit 45000.0" in preview.text
    assert env.sent("/fapi/v1/order", "DELETE") == []
    outcome = await env.confirm(preview)
    assert f"Pending entry #{trade.id} cancelled" in outcome.text
    (cancel,) = env.sent("/fapi/v1/order", "DELETE")
    assert cancel["orderId"] == trade.entry_order_id
    assert "Reason: cancelled from the chat" in await env.push("Pending entry cancelled")
    assert env.venue.open_orders() == [] and env.tracker.book.active_trades("main") == []


async def test_cancel_by_symbol_and_from_the_picker(env: TradingEnv) -> None:
    await place(env, "/long BTC 0.010 @45000")
    await place(env, "/short ETH 0.5 @3100")
    picker = await env.command("/cancel")
    assert picker.text == "Which pending entry should I cancel?"
    labels = [label for label, _ in picker.buttons]
    assert [label.split(" · ")[0].split(" ", 1)[1] for label in labels] == [
        "BTC/USDT:USDT long pending", "ETH/USDT:USDT short pending"]
    await env.press(picker, "ETH")
    await env.api.wait_for(lambda: env.current(picker).text.startswith("📝"))
    assert "ETH/USDT:USDT" in env.current(picker).text
    await env.confirm(env.current(picker))
    assert [t.symbol for t in env.tracker.book.active_trades("main")] == [BTC]
    by_symbol = await env.command("/cancel btc")
    assert "Cancel pending entry" in by_symbol.text and BTC in by_symbol.text


async def test_a_marketable_limit_fills_at_once_and_the_cycle_reports_it(env: TradingEnv) -> None:
    await place(env, "/long BTC 0.010 @50500")  # above the mark: fills as a taker
    trade = only_trade(env)
    assert (trade.status, trade.size, trade.source) == (TradeStatus.OPEN, D("0.010"), Source.BOT)
    assert "<i>bot · main</i>" in await env.push("Opened")


async def test_entry_amounts_keep_their_decimals_end_to_end(env: TradingEnv) -> None:
    await place(env, "/long SOL 1.23 @149.99")
    (entry,) = env.sent("/fapi/v1/order")
    assert (D(entry["quantity"]), D(entry["price"])) == (Decimal("1.23"), Decimal("149.99"))
