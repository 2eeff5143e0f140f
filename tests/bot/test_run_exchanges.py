"""``positionbot run`` played as a trader would on Bybit v5 and OKX v5: real ccxt (REST) and
ccxt.pro (private WebSockets) against the fake exchanges, real python-telegram-bot against the
fake Bot API, a real SQLite file, the product's defaults (so the stream is on) and a 30 s poll.

Every change is made at the exchange by hand (or by a command in the chat) and must come back
as a push within 5 s, with the figures the exchange's own fills give: only the stream can do
that. Stops are checked as the exchange holds them and as they were asked for on the wire:
reduce-only, triggered by the mark price, closing on the losing side, for the whole size.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.bot.render.format import fmt_money
from positionbot.tracker.core.models import Fill, Order, OrderSide, PositionMode, Side
from tests.exchange.contract.kits import BINANCE, BTC, BYBIT, OKX, Kit
from tests.support.venue_process import Desk, open_desk

pytestmark = pytest.mark.slow  # a real process: seconds, not milliseconds

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
PROMPT = 5.0  # seconds: far inside the 30 s poll, so only the stream can be this quick
KITS = pytest.mark.parametrize("kit", [BYBIT, OKX], ids=lambda kit: kit.name)


def shown_size(kit: Kit, btc: str) -> str:
    """A BTC size as the chat writes it: coins on Bybit (0.001 steps), contracts on OKX."""
    return f"{kit.qty(btc):.3f}" if kit is BYBIT else f"{kit.qty(btc):.2f}"


def last_fill(desk: Desk) -> Fill:
    return desk.venue.fills[-1]


def wire_stop(kit: Kit, desk: Desk) -> dict[str, str]:
    """The last stop the bot asked the exchange for, as it went over the wire."""
    sent: list[dict[str, str]] = [p for p in desk.server.sent(kit.create_stop)
            if kit is OKX or p.get("triggerPrice")]
    assert sent, "no stop order was asked for"
    return sent[-1]


def assert_wire_stop(kit: Kit, params: dict[str, str], *, side: OrderSide, btc: str,
                     trigger: str, leg: int = 0) -> None:
    """As the exchanges document a protective stop: a market order fired by the mark price,
    reduce-only, on the closing side, sized in the exchange's units. ``leg``: Bybit's
    ``positionIdx`` (0 one-way, 1 the long leg, 2 the short leg)."""
    if kit is BYBIT:  # POST /v5/order/create (conditional order)
        assert params["category"] == "linear" and params["symbol"] == "BTCUSDT"
        assert params["side"] == ("Sell" if side is SELL else "Buy")
        assert params["orderType"] == "Market" and params["reduceOnly"] == "true"
        assert D(params["qty"]) == kit.qty(btc) and D(params["triggerPrice"]) == D(trigger)
        assert params["triggerBy"] == "MarkPrice"
        # 1: fires when the price rises to the trigger (a short's stop), 2: when it falls
        assert params["triggerDirection"] == ("2" if side is SELL else "1")
        assert int(params.get("positionIdx") or 0) == leg
    else:  # POST /api/v5/trade/order-algo
        assert params["instId"] == "BTC-USDT-SWAP" and params["ordType"] == "conditional"
        assert params["side"] == side.value and params["reduceOnly"] == "true"
        assert D(params["sz"]) == kit.qty(btc)
        assert D(params["slTriggerPx"]) == D(trigger) and params["slOrdPx"] == "-1"
        assert params["slTriggerPxType"] == "mark"
        assert params.get("posSide", "net") == "net"


def stops(desk: Desk) -> list[Order]:
    return desk.venue.open_stop_orders()


def one_stop(desk: Desk, kit: Kit, btc: str, trigger: str = "48000",
             side: OrderSide = SELL) -> Callable[[], bool]:
    """The exchange holds exactly one stop: this size, trigger and side, reduce-only."""
    def check() -> bool:
        held = stops(desk)
        return len(held) == 1 and (held[0].amount, held[0].trigger_price, held[0].side,
                                   held[0].reduce_only) == (kit.qty(btc), D(trigger), side, True)
    return check


@KITS
async def test_a_position_traded_by_hand_is_pushed_from_the_stream_with_exact_figures(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with open_desk(kit, tmp_path, monkeypatch) as desk:
        venue, polls = desk.venue, desk.server.count(kit.positions)

        venue.manual_order(BTC, BUY, kit.qty("0.010"))
        text, took = await desk.push("Opened", PROMPT)
        assert took < PROMPT
        assert f"Size {shown_size(kit, '0.010')} @ 50000.0" in text
        assert "Entry 50000.0 · SL none" in text and "manual · main" in text

        answer = await desk.ask("/sl BTC 48000")
        assert f"stop loss placed at 48000.0 for {shown_size(kit, '0.010')}" in answer
        text, _ = await desk.push("Stop loss placed", PROMPT)
        assert f"Stop 48000.0 for {shown_size(kit, '0.010')}" in text
        assert one_stop(desk, kit, "0.010")()
        assert_wire_stop(kit, wire_stop(kit, desk), side=SELL, btc="0.010", trigger="48000")

        venue.set_mark(BTC, D("50100"))
        venue.manual_order(BTC, BUY, kit.qty("0.030"))
        text, took = await desk.push("Increased", PROMPT)
        assert took < PROMPT
        assert (f"Size {shown_size(kit, '0.010')} → {shown_size(kit, '0.040')} @ 50100.0"
                in text)
        # (50000 x 0.010 + 50100 x 0.030) / 0.040, and the stop now covers the whole position
        assert f"Avg entry 50075.0 · SL 48000.0 for {shown_size(kit, '0.040')}" in text
        await desk.api.wait_for(one_stop(desk, kit, "0.040"), within=PROMPT)
        assert_wire_stop(kit, wire_stop(kit, desk), side=SELL, btc="0.040", trigger="48000")

        venue.set_mark(BTC, D("51000"))
        venue.manual_order(BTC, SELL, kit.qty("0.015"), reduce_only=True)
        text, took = await desk.push("Decreased", PROMPT)
        exit_fee = last_fill(desk).fee
        assert took < PROMPT
        realized = (D("51000") - D("50075")) * D("0.015") - exit_fee  # 13.875 less the fee
        kind, before, after, pnl, fees, estimated = desk.events()[-1]
        assert (kind, before, after, pnl, fees, estimated) == (
            "decreased", kit.qty("0.040"), kit.qty("0.025"), realized, exit_fee, False)
        assert f"P&amp;L <b>+{realized.quantize(D('0.01'))} USDT</b>" in text
        assert f"fees {exit_fee.quantize(D('0.01'))} USDT" in text
        assert f"SL 48000.0 for {shown_size(kit, '0.025')}" in text
        await desk.api.wait_for(one_stop(desk, kit, "0.025"), within=PROMPT)

        listing = await desk.ask("/positions")
        assert f"<b>BTC/USDT:USDT</b> 🟢 LONG {shown_size(kit, '0.025')}" in listing
        # the mark as the stream's position push states it, before any poll
        assert "Entry 50075.0 · mark 51000.0" in listing and "SL 48000.0 ✅" in listing
        assert desk.server.count(kit.positions) == polls  # every change came by the stream

        venue.set_mark(BTC, D("47990"))  # through the stop: the exchange fires it
        text, took = await desk.push("Stop loss hit", PROMPT)
        stop_fill = last_fill(desk)
        assert took < PROMPT
        assert stop_fill.price == D("47990") and stop_fill.amount == kit.qty("0.025")
        realized = (D("47990") - D("50075")) * D("0.025") - stop_fill.fee  # -52.125 less fee
        kind, _, after, pnl, fees, estimated = desk.events()[-1]
        assert (kind, after, pnl, fees, estimated) == ("closed", D(0), realized, stop_fill.fee,
                                                        False)
        assert f"Exit 47990.0 · entry 50075.0 · size {shown_size(kit, '0.025')}" in text
        assert f"P&amp;L <b>{realized.quantize(D('0.01'))} USDT</b> (-4.20%)" in text
        assert "· stop loss\n" in text  # the reason
        await desk.api.wait_for(lambda: not stops(desk) and not venue.open_orders(),
                                within=PROMPT)
        assert venue.positions() == []
        assert "No open" in await desk.ask("/positions")
        assert len(desk.pushes("Closed")) == 0  # the stop's close is told once, as a hit


@KITS
async def test_in_one_chat_a_bot_entry_gets_its_pending_stop_and_a_close_cleans_it_up(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Commands and pushes in the trader's one private chat, as the example configuration
    has it: /long with a stop, Confirm, the entry's fill pushed and its pending stop placed;
    /close, Confirm, the close pushed and the stop left behind cancelled."""
    async with open_desk(kit, tmp_path, monkeypatch, one_chat=True) as desk:
        size = shown_size(kit, "0.010")
        preview = await desk.answer(f"/long {BTC} {size} sl 48000", "Buy to open")
        assert "Stop loss 48000.0" in preview.text and not stops(desk)  # nothing sent yet
        desk.press(preview, "Confirm")
        text, took = await desk.push("Opened", PROMPT)
        assert took < PROMPT
        assert f"Size {size} @ 50000.0" in text and "bot · main" in text
        text, _ = await desk.push("Stop loss placed", PROMPT)
        assert f"Stop 48000.0 for {size}" in text
        assert one_stop(desk, kit, "0.010")()
        assert_wire_stop(kit, wire_stop(kit, desk), side=SELL, btc="0.010", trigger="48000")
        (entry,) = [p for p in desk.server.sent(kit.create) if not p.get("triggerPrice")]
        assert entry["side"].lower() == "buy"
        assert entry.get("reduceOnly", "false") == "false"  # an entry never reduces
        assert "SL 48000.0 ✅" in await desk.ask("/positions", "<b>main</b>")

        desk.venue.set_mark(BTC, D("50500"))
        preview = await desk.answer("/close BTC", "Close all")
        desk.press(preview, "Confirm")
        text, took = await desk.push("Closed", PROMPT)
        fill = last_fill(desk)
        assert took < PROMPT and "closed by the bot" in text
        assert (fill.side, fill.amount, fill.price) == (SELL, kit.qty("0.010"), D("50500"))
        realized = (D("50500") - D("50000")) * D("0.010") - fill.fee
        assert desk.events()[-1][0] == "closed" and desk.events()[-1][3] == realized
        await desk.api.wait_for(lambda: not stops(desk) and not desk.venue.open_orders(),
                                within=PROMPT)
        closing = [p for p in desk.server.sent(kit.create) if not p.get("triggerPrice")][-1]
        assert closing["side"].lower() == "sell" and closing["reduceOnly"] == "true"


async def test_hedge_legs_on_bybit_each_get_their_own_stop_and_a_leg_closed_by_hand_is_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    kit = BYBIT
    async with open_desk(kit, tmp_path, monkeypatch, mode=PositionMode.HEDGE) as desk:
        venue = desk.venue
        venue.manual_order(BTC, BUY, D("0.010"), position_side=Side.LONG)
        text, took = await desk.push("Opened", PROMPT)
        assert took < PROMPT and "🟢 LONG" in text and "Size 0.010 @ 50000.0" in text
        venue.manual_order(BTC, SELL, D("0.020"), position_side=Side.SHORT)
        text, took = await desk.push("Opened", PROMPT)
        assert took < PROMPT and "🔴 SHORT" in text and "Size 0.020 @ 50000.0" in text

        # 4 % on each leg's losing side: both legs match "BTC", so the bot offers one per leg
        offer = await desk.answer("/sl BTC -4%")
        desk.press(offer, "long")
        await desk.push("Stop loss placed", PROMPT)
        desk.press(offer, "short")
        await desk.push("Stop loss placed", PROMPT)
        held = {o.position_side: o for o in stops(desk)}
        assert {(s, o.side, o.amount, o.trigger_price, o.reduce_only) for s, o in held.items()} \
            == {(Side.LONG, SELL, D("0.010"), D("48000"), True),
                (Side.SHORT, BUY, D("0.020"), D("52000"), True)}
        placed = [p for p in desk.server.sent(kit.create_stop) if p.get("triggerPrice")]
        by_leg = {p["positionIdx"]: p for p in placed}
        assert_wire_stop(kit, by_leg["1"], side=SELL, btc="0.010", trigger="48000", leg=1)
        assert_wire_stop(kit, by_leg["2"], side=BUY, btc="0.020", trigger="52000", leg=2)

        venue.set_mark(BTC, D("50200"))
        venue.manual_order(BTC, SELL, D("0.010"), position_side=Side.LONG, reduce_only=True)
        text, took = await desk.push("Closed", PROMPT)
        fee = last_fill(desk).fee
        assert took < PROMPT and "🟢 LONG" in text
        realized = (D("50200") - D("50000")) * D("0.010") - fee  # 2 less the fee
        assert desk.events()[-1][0] == "closed" and desk.events()[-1][3] == realized
        assert f"P&amp;L <b>+{realized.quantize(D('0.01'))} USDT</b>" in text
        # the long leg's stop is the bot's to clean up; the short leg keeps its own
        await desk.api.wait_for(one_stop(desk, kit, "0.020", "52000", BUY), within=PROMPT)
        assert stops(desk)[0].position_side is Side.SHORT

        venue.set_mark(BTC, D("52010"))  # up through the short leg's stop
        text, took = await desk.push("Stop loss hit", PROMPT)
        stop_fill = last_fill(desk)
        assert took < PROMPT and "🔴 SHORT" in text
        assert (stop_fill.price, stop_fill.amount, stop_fill.side) == (D("52010"), D("0.020"),
                                                                       BUY)
        realized = (D("50000") - D("52010")) * D("0.020") - stop_fill.fee  # -40.2 less the fee
        kind, _, after, pnl, fees, estimated = desk.events()[-1]
        assert (kind, after, pnl, fees, estimated) == ("closed", D(0), realized, stop_fill.fee,
                                                        False)
        assert "Exit 52010.0 · entry 50000.0 · size 0.020" in text
        assert f"P&amp;L <b>{realized.quantize(D('0.01'))} USDT</b>" in text
        await desk.api.wait_for(lambda: not stops(desk) and not venue.open_orders(),
                                within=PROMPT)
        assert venue.positions() == []


async def test_changes_made_while_the_bot_was_stopped_are_caught_up_once_on_okx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopped (SIGTERM) with a position and its stop; the trader adds and takes profit by
    hand meanwhile. On the next start the record catches up once, with the exact weighted
    entry and the partial close's P&L from the fills, the stop is resized to what is held, and
    the new stream session follows the next change."""
    kit = OKX
    async with open_desk(kit, tmp_path, monkeypatch) as desk:
        venue = desk.venue
        venue.manual_order(BTC, BUY, kit.qty("0.010"))
        await desk.push("Opened", PROMPT)
        assert "stop loss placed" in await desk.ask("/sl BTC 48000")
        assert await desk.bot.stop() == 0
        venue.set_mark(BTC, D("50100"))
        venue.manual_order(BTC, BUY, kit.qty("0.030"))
        venue.set_mark(BTC, D("51000"))
        venue.manual_order(BTC, SELL, kit.qty("0.015"), reduce_only=True)
        take_profit = last_fill(desk)

        await desk.bot.start()
        await desk.stream_connected()
        text, _ = await desk.push("Increased", PROMPT)
        assert "Size 1.00 → 2.50 @ 50100.0" in text  # contracts of 0.01 BTC
        assert "Avg entry 50075.0 · SL 48000.0 for 2.50" in text
        await desk.api.wait_for(one_stop(desk, kit, "0.025"), within=PROMPT)
        entry_fees = sum(f.fee for f in venue.fills[:2])
        realized = (D("51000") - D("50075")) * D("0.015") - take_profit.fee - entry_fees
        assert sum(e[3] for e in desk.events()) == realized  # the trade's P&L so far, exact
        booked = realized + venue.fills[0].fee  # this catch-up's: the take-profit less 2 fees
        assert desk.events()[-1][3] == booked
        assert f"P&amp;L <b>{fmt_money(booked, 'USDT')}</b>" in text  # told, not only stored
        assert f"Trade P&amp;L {fmt_money(realized, 'USDT')}" in text

        venue.set_mark(BTC, D("49000"))
        venue.manual_order(BTC, SELL, kit.qty("0.025"), reduce_only=True)
        text, took = await desk.push("Closed", PROMPT)
        exit_fill = last_fill(desk)
        assert took < PROMPT
        last = (D("49000") - D("50075")) * D("0.025") - exit_fill.fee
        assert desk.events()[-1][0] == "closed" and desk.events()[-1][3] == last
        await desk.api.wait_for(lambda: not stops(desk), within=PROMPT)
        assert len(desk.pushes("Opened")) == 1 and len(desk.pushes("Increased")) == 1


async def test_a_position_opened_by_hand_on_binance_has_a_mark_for_positions_and_percent_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Binance's ACCOUNT_UPDATE names no mark, only the leg's unrealized P&L at it: read from
    that, the mark is there at once, before any poll, for /positions and for /sl in percent
    (the stop menu too: with nothing to tap it once sent Telegram an empty keyboard)."""
    async with open_desk(BINANCE, tmp_path, monkeypatch) as desk:
        desk.venue.manual_order(BTC, BUY, D("0.010"))
        await desk.push("Opened", PROMPT)
        desk.venue.set_mark(BTC, D("50500"))
        desk.venue.manual_order(BTC, BUY, D("0.010"))  # at 50500: entry 50250, mark 50500
        await desk.push("Increased", PROMPT)
        listing = await desk.ask("/positions")
        assert "Entry 50250.0 · mark 50500.0" in listing and "+5.00 USDT" in listing
        menu = await desk.answer("/sl BTC")
        assert any("-2% · 49490.0" in label for label, _ in menu.buttons)
        assert "stop loss placed at 49490.0 for 0.020" in await desk.ask("/sl BTC -2%")
        assert one_stop(desk, BINANCE, "0.020", "49490")()
