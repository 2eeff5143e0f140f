"""Issue 11, bot side: every path that could place, keep or lose an order wrongly, through real
python-telegram-bot against the fake Bot API and the tracker over the paper exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from positionbot.bot.app import stop
from positionbot.bot.handlers.common import STALE
from positionbot.bot.render.keyboards import MAX_CHOICE_ROWS
from positionbot.fakes.botapi_rules import SentMessage, html_visible_text
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.core.models import OrderSide, Side
from positionbot.tracker.exchange.paper import default_markets
from tests.support.telegram import (
    BTC,
    CHAT,
    ETH,
    PUSH_CHAT,
    BotEnv,
    make_env,
    open_position,
    telegram_config,
)


def stop_prices(env: BotEnv) -> list[Decimal]:
    return [o.trigger_price for o in env.exchange.open_stop_orders()
            if o.trigger_price is not None]


@pytest.fixture
async def long_btc(env: BotEnv) -> BotEnv:
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    await env.cycle()
    return env


@pytest.mark.parametrize("command", [
    "/sl BTC -2,5%", "/sl BTC 1,5%", "/sl BTC 1,5", "/sl BTC 58,000", "/sl -2,5%",
    "/long BTC 0,01", "/long BTC 0.01 @59,000", "/long BTC 0.01 sl -2,5%", "/close BTC 2,5%",
    "/close BTC 0,005",
])
async def test_a_comma_is_refused_with_a_hint_and_nothing_is_placed(
    long_btc: BotEnv, command: str,
) -> None:
    reply = await long_btc.command(command)
    assert "with a dot for decimals" in reply.text, reply.text
    assert "never guess" in reply.text
    assert not reply.buttons  # no Confirm: nothing can be sent from a guessed number
    assert stop_prices(long_btc) == []
    assert long_btc.tracker.book.active_trades()[0].stop_loss_price is None


async def test_sync_runs_one_cycle_per_account_however_often_it_is_named(long_btc: BotEnv) -> None:
    before = long_btc.tracker.cycles_completed
    reply = await long_btc.command("/sync " + " ".join(["main"] * 15))
    assert "Usage" not in reply.text and "Unknown" not in reply.text
    assert long_btc.tracker.cycles_completed == before + 1
    refused = await long_btc.command("/sync " + " ".join(["main"] * 400))
    assert "at most 20 accounts" in refused.text
    assert long_btc.tracker.cycles_completed == before + 1


GROUP, ALICE, BOB = -7001, 101, 202


def menu_data(message: SentMessage, label_part: str) -> str:
    return next(d for text, d in message.buttons if label_part in text)


@pytest.mark.parametrize("forged", [
    "v1|ss|1|59999.9", "v1|ss|1|off", "v1|ss|1|0.5", "v1|ss|AAAAAAAAAAAA",
])
async def test_a_forged_stop_button_is_refused_clearly_and_places_nothing(
    long_btc: BotEnv, forged: str,
) -> None:
    listing = await long_btc.command("/positions")
    answer = await long_btc.press(listing, forged)
    assert answer["text"] == STALE
    assert stop_prices(long_btc) == []


async def test_a_stop_button_from_another_chat_is_refused(long_btc: BotEnv) -> None:
    menu = await long_btc.command("/sl BTC")
    data = menu_data(menu, "-2%")
    elsewhere = await long_btc.command("/positions", chat=PUSH_CHAT)
    answer = await long_btc.press(elsewhere, data)  # the same data, replayed in another chat
    assert answer["text"] == STALE
    assert stop_prices(long_btc) == []


@pytest.fixture
async def group_desk(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    env = await make_env(api, store, telegram=telegram_config(
        allowed_chats=[GROUP, PUSH_CHAT], notify_chats=[PUSH_CHAT]))
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    await env.cycle()
    yield env
    await stop(env.app)


async def test_in_a_group_only_the_member_who_opened_the_menu_can_press_its_levels(
    group_desk: BotEnv,
) -> None:
    api = group_desk.api
    api.user_message(GROUP, "/sl BTC", user_id=ALICE)
    await api.wait_for_messages(GROUP, 1)
    menu = api.messages(GROUP)[-1]
    data = menu_data(menu, "-2%")
    answer = await api.wait_for_answer(api.press_button(GROUP, menu.message_id, data, BOB))
    assert "offered to someone else" in answer["text"] and answer.get("show_alert") is True
    assert stop_prices(group_desk) == []
    answer = await api.wait_for_answer(api.press_button(GROUP, menu.message_id, data, ALICE))
    assert answer["text"] == "Setting the stop loss…"
    assert stop_prices(group_desk) == [Decimal("58800")]
    again = await api.wait_for_answer(api.press_button(GROUP, menu.message_id, data, ALICE))
    assert again["text"] == STALE  # good once
    assert stop_prices(group_desk) == [Decimal("58800")]


@pytest.mark.parametrize(("price", "why"), [
    (".5", "100% away from the mark"), ("59999.9", "0.00% from the mark"),
    ("40000", "33% away from the mark"),
])
async def test_a_typed_stop_outside_the_sanity_band_is_asked_about_first(
    long_btc: BotEnv, price: str, why: str,
) -> None:
    ask = await long_btc.command(f"/sl BTC {price}")
    assert why in ask.text and "Nothing is placed unless you tap below" in ask.text
    assert stop_prices(long_btc) == []
    answer = await long_btc.press_labelled(ask, "place at")
    assert answer["text"] == "Setting the stop loss…"
    await long_btc.api.wait_for(lambda: bool(stop_prices(long_btc)))
    assert stop_prices(long_btc) == [Decimal(price)]


async def test_a_long_trade_list_says_how_many_are_not_shown(
    api: FakeBotApi, store: Store,
) -> None:
    env = await make_env(api, store, accounts=tuple(f"acct{i}" for i in range(5)))
    try:
        for account, exchange in env.exchanges.items():
            for market in default_markets():
                open_position(exchange, market.symbol, Side.LONG, "1", "1000")
            await env.cycle(account)
        count = len(env.tracker.book.active_trades())
        assert count == 20 > MAX_CHOICE_ROWS
        picker = await env.command("/sl")
        assert f"Trades 1–{MAX_CHOICE_ROWS} of {count}." in picker.text
        assert len(picker.buttons) == MAX_CHOICE_ROWS + 1 and picker.buttons[-1][0] == "More ▸"
        first_page = {d for _, d in picker.buttons}
        await env.press_labelled(picker, "More ▸")
        await api.wait_for(lambda: "Trades 17–20" in api.message(CHAT, picker.message_id).text)
        rest = api.message(CHAT, picker.message_id)
        assert len(rest.buttons) == count - MAX_CHOICE_ROWS  # the last page: no More
        assert not {d for _, d in rest.buttons} & first_page
    finally:
        await stop(env.app)


async def test_history_shows_the_latest_close_first_whatever_the_opening_order(
    env: BotEnv,
) -> None:
    env.exchange.manual_order(BTC, OrderSide.BUY, Decimal("0.01"))
    await env.cycle()
    env.exchange.manual_order(ETH, OrderSide.SELL, Decimal("0.1"))
    await env.cycle()
    env.exchange.manual_order(ETH, OrderSide.BUY, Decimal("0.1"), reduce_only=True)
    await env.cycle()  # the later trade closes first
    env.exchange.manual_order(BTC, OrderSide.SELL, Decimal("0.01"), reduce_only=True)
    await env.cycle()
    latest = html_visible_text((await env.command("/history 1")).text)
    assert "BTC/USDT:USDT" in latest and "ETH/USDT:USDT" not in latest


async def test_the_close_picker_pages_through_every_position(api: FakeBotApi, store: Store) -> None:
    env = await make_env(api, store, accounts=tuple(f"acct{i}" for i in range(5)))
    try:
        for account, exchange in env.exchanges.items():
            for market in default_markets():
                open_position(exchange, market.symbol, Side.LONG, "1", "1000")
            await env.cycle(account)
        picker = await env.command("/close")
        message_id = picker.message_id
        pages = [picker.text]
        while picker.buttons[-1][0] == "More ▸":
            await env.press_labelled(picker, "More ▸")
            await api.wait_for(lambda: api.message(CHAT, message_id).text != pages[-1])
            picker = api.message(CHAT, message_id)
            pages.append(picker.text)
        assert [p.splitlines()[-1] for p in pages] == [
            "Trades 1–8 of 20.", "Trades 9–16 of 20.", "Trades 17–20 of 20."]
        await env.press(picker, picker.buttons[0][1])  # a trade on the last page: its preview
        await api.wait_for(lambda: "Confirm" in str(api.message(CHAT, message_id).buttons))
    finally:
        await stop(env.app)
