"""Per-chat account scoping: ``accounts = [...]`` in a chat's table limits every command,
button and push of that chat to those accounts (real PTB against the fake Bot API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.bot import callbacks
from positionbot.bot.app import stop
from positionbot.bot.config import ConfigError, load_config
from positionbot.fakes.botapi_rules import html_visible_text
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.core.models import OrderSide, Side
from tests.support.config import ACCOUNT, ENV
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

DESK_B = -8002  # a group that trades only account "other"


@pytest.fixture
async def scoped(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    telegram = telegram_config(
        allowed_chats=[CHAT, PUSH_CHAT, DESK_B], notify_chats=[PUSH_CHAT, DESK_B],
        chats={str(CHAT): {"accounts": ["main"]}, str(DESK_B): {"accounts": ["other"]}})
    env = await make_env(api, store, accounts=("main", "other"), telegram=telegram)
    open_position(env.exchanges["main"], BTC, Side.LONG, "0.01", "60000")
    open_position(env.exchanges["other"], ETH, Side.SHORT, "1", "3000")
    await env.cycle("main")
    await env.cycle("other")
    yield env
    await stop(env.app)


def trade_on(env: BotEnv, account: str) -> int:
    return next(t.id for t in env.tracker.book.active_trades(account))


async def test_commands_see_and_trade_only_the_chats_accounts(scoped: BotEnv) -> None:
    listing = await scoped.command("/positions")
    assert "BTC/USDT:USDT" in listing.text and "ETH/USDT:USDT" not in listing.text
    sl = await scoped.command("/sl ETH -2%")
    assert "No open position or pending trade" in sl.text
    close = await scoped.command("/close ETH")
    assert "No open position" in close.text
    sync = await scoped.command("/sync other")
    assert "Unknown account <b>other</b>. Accounts: main" in sync.text
    assert scoped.exchanges["other"].open_stop_orders() == []
    desk = await scoped.command("/positions", chat=DESK_B)
    assert "ETH/USDT:USDT" in desk.text and "BTC/USDT:USDT" not in desk.text


@pytest.mark.parametrize("make", [callbacks.stop_menu, callbacks.close])
async def test_a_button_for_another_accounts_trade_is_refused(scoped: BotEnv, make: object) -> None:
    assert callable(make)
    listing = await scoped.command("/positions")
    before = len(scoped.api.messages(CHAT))
    answer = await scoped.press(listing, make(trade_on(scoped, "other")))
    assert "no longer open or pending" in answer["text"]
    assert len(scoped.api.messages(CHAT)) == before  # no menu, no close preview


async def test_pushes_go_to_the_chats_that_see_the_account(scoped: BotEnv) -> None:
    api = scoped.api
    await api.wait_for(lambda: sum("Opened" in m.text for m in api.messages(PUSH_CHAT)) == 2)
    await api.wait_for(lambda: any("Opened" in m.text for m in api.messages(DESK_B)))
    desk = [m.text for m in api.messages(DESK_B) if "Opened" in m.text]
    assert len(desk) == 1 and "ETH/USDT:USDT" in desk[0]


def test_an_unknown_account_in_a_chat_scope_is_refused_by_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[telegram.chats.42]\naccounts = ["mian"]\n' + ACCOUNT, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    [problem] = caught.value.problems
    assert problem.key == "telegram.chats.42.accounts[0]"
    assert problem.message == "unknown account 'mian' — did you mean 'main'? (accounts: main)"


async def test_pnl_and_balances_cover_only_the_chats_accounts(scoped: BotEnv) -> None:
    scoped.exchanges["main"].manual_order(BTC, OrderSide.SELL, Decimal("0.01"), reduce_only=True)
    scoped.exchanges["other"].manual_order(ETH, OrderSide.BUY, Decimal("1"), reduce_only=True)
    await scoped.cycle("main")
    await scoped.cycle("other")
    pnl = html_visible_text((await scoped.command("/pnl")).text)
    assert "BTC" in pnl and "ETH" not in pnl, pnl
    desk = html_visible_text((await scoped.command("/pnl", chat=DESK_B)).text)
    assert "ETH" in desk and "BTC" not in desk, desk
    balance = html_visible_text((await scoped.command("/balance")).text)
    assert "main" in balance and "other" not in balance, balance


async def test_a_scoped_chat_may_pause_trading_but_not_resume_it_for_accounts_it_cannot_see(
    scoped: BotEnv,
) -> None:
    paused = await scoped.command("/pause")
    assert "Trading commands paused" in paused.text
    refused = await scoped.command("/resume")
    assert "only a chat that sees them all can /resume" in refused.text
    assert "paused" in (await scoped.command("/sl BTC 58000")).text.lower()
    scoped.api.user_message(PUSH_CHAT, "/resume")  # a chat that sees every account (and pushes)
    await scoped.api.wait_for(
        lambda: any("allowed again" in m.text for m in scoped.api.messages(PUSH_CHAT)))
