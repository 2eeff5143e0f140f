"""Messages read at a glance: counts in the right number, totals that add up as shown, a stop
suggestion on the losing side, the close push explaining the trade's P&L, digests from the
documented threshold, and /sl answered once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.bot.app import notifier_of, stop
from positionbot.bot.render.listing import AccountView, render_history, render_status, render_sync_report
from positionbot.bot.render.notices import NoticeView, render_notice
from positionbot.bot.render.trading import entry_preview
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.core.models import Side, SyncState, TradeStatus
from positionbot.tracker.core.notices import ExchangeRecovered
from positionbot.tracker.core.records import WriteBatch
from positionbot.tracker.engine.commands import EntryPreview
from positionbot.tracker.engine.report import CycleReport, EntryMismatch
from positionbot.tracker.exchange.paper import default_markets
from tests.core.factories import trade
from tests.support.notices import CLOSED
from tests.support.telegram import BTC, CHAT, PUSH_CHAT, BotEnv, make_env, open_position, telegram_config

D = Decimal
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MARKETS = {m.symbol: m for m in default_markets()}


def test_counts_are_in_the_right_number() -> None:
    one = CycleReport("main", NOW, 0.01, True, positions=1, exchange_calls=1)
    two = CycleReport("main", NOW, 0.01, True, positions=2, exchange_calls=2)
    assert "1 position · 1 call" in render_sync_report([one], {})
    assert "2 positions · 2 calls" in render_sync_report([two], {})


def test_history_total_is_the_sum_of_its_rows_as_shown() -> None:
    pnls = ["24.104", "-35.206", "18.804", "17.806"]  # shown 24.10 -35.21 18.80 17.81
    closed = [trade(id=i, status=TradeStatus.CLOSED, realized_pnl=D(p), closed_at=NOW,
                    symbol="ETH/USDT:USDT") for i, p in enumerate(pnls, 1)]
    text = render_history(closed, NOW)
    assert "Total: +25.50 USDT" in text  # not +25.51, the sum of the unrounded values


@pytest.mark.parametrize(("side", "shown"), [(Side.LONG, "58800.0"), (Side.SHORT, "61200.0")])
def test_entry_preview_suggests_a_stop_on_the_losing_side(side: Side, shown: str) -> None:
    market = MARKETS[BTC]
    preview = EntryPreview("main", market, side, D("0.010"), None, D("60000"), D("600"), None)
    text = entry_preview(preview, "", 60)
    assert f"<code>sl {shown}</code>" in text and "<code>sl -2%</code>" in text


def test_close_push_explains_the_gap_to_the_trades_pnl() -> None:
    closed = replace(CLOSED, realized_pnl=D("19.40"), fees=D("0.60"), trade_realized_pnl=D("18.80"),
                     symbol="ETH/USDT:USDT", estimated=False)
    text = render_notice(NoticeView(closed, MARKETS["ETH/USDT:USDT"], 1)).text
    assert "Trade P&amp;L +18.80 USDT · before this close -0.60 USDT (entry fees, earlier closes)" in text


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "bot.db")
    yield opened
    await opened.close()


@pytest.fixture
async def both_chats(api: FakeBotApi, store: Store) -> AsyncIterator[BotEnv]:
    """The trader's chat also gets pushes, as does a second one; a digest from 2 pushes."""
    env = await make_env(api, store, telegram=telegram_config(notify_chats=[CHAT, PUSH_CHAT],
                                                               digest_threshold=2))
    yield env
    await stop(env.app)


async def test_sl_answers_once_in_the_chat_that_asked(both_chats: BotEnv) -> None:
    env, api = both_chats, both_chats.api
    open_position(env.exchange, BTC, Side.LONG, "0.01", "60000")
    await env.cycle()
    await api.wait_for(lambda: all(any("Opened" in m.text for m in api.messages(chat))
                                   for chat in (CHAT, PUSH_CHAT)))
    before = {chat: len(api.messages(chat)) for chat in (CHAT, PUSH_CHAT)}
    reply = await env.command("/sl BTC 58000")
    assert "stop loss placed at 58000.0 for 0.010" in reply.text  # the market's format, like pushes
    await api.wait_for(lambda: len(api.messages(PUSH_CHAT)) == before[PUSH_CHAT] + 1)
    assert "Stop loss placed" in api.messages(PUSH_CHAT)[-1].text  # the other chat is told
    await notifier_of(env.app).drain()
    assert len(api.messages(CHAT)) == before[CHAT] + 1  # the reply only: no push repeating it
    assert notifier_of(env.app).outcomes["stop_loss_placed", "answered"] == 1


async def test_digests_start_at_the_threshold(both_chats: BotEnv) -> None:
    env, api = both_chats, both_chats.api
    await notifier_of(env.app).drain()
    before = len(api.messages(PUSH_CHAT))
    recoveries = [ExchangeRecovered(account="main", dedupe_key=f"r{i}", down_for=timedelta(seconds=60))
                  for i in range(2)]  # (a critical kind, such as a watchdog, is never digested)
    await env.store.commit(WriteBatch("main", notices=recoveries))
    await notifier_of(env.app).drain()
    assert len(api.messages(PUSH_CHAT)) == before + 1
    assert api.messages(PUSH_CHAT)[-1].text.startswith("🧾 <b>2 updates</b>")


def test_status_shows_entry_differences_in_the_markets_format() -> None:
    view = AccountView("main", SyncState("main"), [], markets={BTC: MARKETS[BTC]})
    text = render_status([view], 0, "1", 5.0, [EntryMismatch(7, BTC, D("60100.25"), D("60000"))], NOW)
    assert "ours 60100.3, exchange 60000.0" in text  # BTC's tick is 0.1, as in every push
