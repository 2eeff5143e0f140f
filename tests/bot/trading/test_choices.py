"""A short symbol that names several markets or positions is answered with buttons; the chosen
one is previewed in place and still needs its Confirm."""

from __future__ import annotations

from dataclasses import replace

import pytest

from positionbot.tracker.core.models import Market, OrderSide, PositionMode, Side, Source
from positionbot.tracker.exchange.paper import PaperExchange
from tests.support.trading import BTC, MARKS, D, TradingEnv, place, trading_markets

BTC_USDC = "BTC/USDC:USDC"


@pytest.fixture
def venue(request: pytest.FixtureRequest) -> PaperExchange:
    """USDⓈ-M with a USDC-settled BTC contract beside the USDT one; hedge mode when asked."""
    usdt = next(m for m in trading_markets() if m.symbol == BTC)
    usdc = replace(usdt, symbol=BTC_USDC, quote="USDC", settle="USDC")
    markets: list[Market] = [*trading_markets(), usdc]
    mode = getattr(request, "param", PositionMode.ONE_WAY)
    return PaperExchange(markets, mode=mode, marks={**MARKS, BTC_USDC: D("50010")})


async def test_ambiguous_symbol_offers_each_market_then_previews_the_choice(
        env: TradingEnv) -> None:
    picker = await env.command("/long BTC 0.010")
    assert picker.text == "Which market do you mean by <b>BTC</b>?"
    assert [label for label, _ in picker.buttons] == [
        "BTC/USDC:USDC · main", "BTC/USDT:USDT · main"]
    await env.press(picker, "USDC")
    await env.api.wait_for(lambda: env.current(picker).text.startswith("📝"))
    preview = env.current(picker)
    assert "<b>BTC/USDC:USDC</b>" in preview.text and "market ~50010.0 (mark)" in preview.text
    assert env.orders_sent() == 0
    await env.confirm(preview)
    (entry,) = env.sent("/fapi/v1/order")
    assert entry["symbol"] == "BTCUSDC"
    exact = await env.command("/long BTC/USDT:USDT 0.010")  # the full symbol is never ambiguous
    assert exact.text.startswith("📝") and "<b>BTC/USDT:USDT</b>" in exact.text


@pytest.mark.parametrize("venue", [PositionMode.HEDGE], indirect=True)
async def test_hedge_legs_are_told_apart_when_closing(env: TradingEnv) -> None:
    env.venue.manual_order(BTC, OrderSide.SELL, D("0.004"), position_side=Side.SHORT)
    await env.cycle()
    await place(env, "/long BTC/USDT:USDT 0.010")  # hedge mode: a long beside the short is fine
    assert {(t.side, t.source) for t in env.tracker.book.active_trades("main")} == {
        (Side.SHORT, Source.EXTERNAL), (Side.LONG, Source.BOT)}

    picker = await env.command("/close BTC/USDT:USDT 50%")
    assert picker.text == "Which position should I close?"
    labels = [label for label, _ in picker.buttons]
    assert [label.split(" ", 1)[1] for label in labels] == [
        "BTC/USDT:USDT short 0.004 · main", "BTC/USDT:USDT long 0.010 · main"]
    await env.press(picker, "short")
    await env.api.wait_for(lambda: env.current(picker).text.startswith("📝"))
    assert "Reduce-only market buy 0.002 of 0.004" in env.current(picker).text
    await env.confirm(env.current(picker))
    reduce = env.sent("/fapi/v1/order")[-1]
    assert (reduce["side"], reduce["positionSide"], D(reduce["quantity"])) == (
        "BUY", "SHORT", D("0.002"))
    await env.push("Decreased", "Size 0.004 → 0.002")
    sizes = {t.side: t.size for t in env.tracker.book.active_trades("main")}
    assert sizes == {Side.SHORT: D("0.002"), Side.LONG: D("0.010")}


async def test_close_alone_lists_the_open_positions(env: TradingEnv) -> None:
    env.venue.manual_order(BTC, OrderSide.BUY, D("0.010"))
    env.venue.manual_order("ETH/USDT:USDT", OrderSide.SELL, D("0.5"))
    await env.cycle()
    picker = await env.command("/close")
    assert [label.split(" ", 1)[1] for label, _ in picker.buttons] == [
        "BTC/USDT:USDT long 0.010 · main", "ETH/USDT:USDT short 0.500 · main"]
    await env.press(picker, "ETH")
    await env.api.wait_for(lambda: env.current(picker).text.startswith("📝"))
    assert "<b>Close all</b>" in env.current(picker).text
    assert env.orders_sent() == 0
