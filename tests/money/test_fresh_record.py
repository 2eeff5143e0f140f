"""Item 4 (and the low storage items): a database that cannot be the record is refused at start
with what to do; ``--fresh-db`` starts a new record and adopts or cancels the bot's stops."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.lock import DatabaseInUseError
from positionbot.storage.store import DatabaseRefusedError, Store
from positionbot.tracker.core.models import OrderSide, Side
from positionbot.tracker.exchange.paper import PaperExchange, default_markets
from tests.soak.bot_process import inline_toml
from tests.support.money import BTC
from tests.support.process import CONFIG

D = Decimal
CHAT = 5151


def real(path: Path) -> Path:
    return path.resolve()


def set_aside(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith("state.db.refused-")]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
async def exchange() -> AsyncIterator[BinanceServer]:
    venue = PaperExchange(default_markets(), marks={BTC: D("60000")})
    venue.open_position(BTC, Side.LONG, D("0.010"), D("60000"))
    async with BinanceServer(venue) as running:
        yield running


async def run_bot(tmp_path: Path, api: FakeBotApi, exchange: BinanceServer,
                  *extra: str) -> asyncio.subprocess.Process:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(
        base_url=json.dumps(api.base_url), chat=CHAT,
        ccxt_config=inline_toml(ccxt_config_for(exchange.base_url))))
    env = {**os.environ, "PB_RUN_TEST_TOKEN": api.token, "PB_RUN_TEST_KEY": "k",
           "PB_RUN_TEST_SECRET": "s"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "positionbot", "run", "-c", str(config), *extra, env=env,
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


@pytest.mark.slow  # a real process
async def test_an_empty_database_is_refused_at_start_naming_the_file(
        tmp_path: Path, api: FakeBotApi, exchange: BinanceServer) -> None:
    (tmp_path / "state.db").write_bytes(b"")

    process = await run_bot(tmp_path, api, exchange)
    _, err = await asyncio.wait_for(process.communicate(), 30)

    log = err.decode()
    assert process.returncode == 2, log[-2000:]
    assert f"database {real(tmp_path) / 'state.db'} is empty (0 bytes)" in log
    assert "--fresh-db" in log and "backup" in log
    assert "Traceback" not in log
    assert exchange.count("/fapi/v3/positionRisk") == 0  # nothing was tracked on it


@pytest.mark.slow  # a real process
async def test_fresh_record_adopts_the_stop_that_covers_a_position_and_cancels_the_other(
        tmp_path: Path, api: FakeBotApi, exchange: BinanceServer) -> None:
    (tmp_path / "state.db").write_bytes(b"\x00garbage")  # overwritten
    venue = exchange.venue
    kept = venue.place_stop(BTC, OrderSide.SELL, D("0.010"), D("55000"),
                            client_order_id="pb-7-sl-aaaaaaaaaa")
    stale = venue.place_stop(BTC, OrderSide.SELL, D("0.020"), D("50000"),
                             client_order_id="pb-3-sl-bbbbbbbbbb")

    process = await run_bot(tmp_path, api, exchange, "--fresh-db")
    pushed = False
    try:
        await api.wait_for(lambda: sum(stale.id in m.text or kept.id in m.text
                                       for m in api.messages(CHAT)) >= 2
                           and any("started fresh" in m.text for m in api.messages(CHAT)),
                           within=30)
        pushed = True
    except AssertionError:
        pass
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert pushed and process.returncode == 0, err.decode()[-3000:]
    assert [o.id for o in venue.open_stop_orders()] == [kept.id]
    assert len(set_aside(tmp_path)) == 1
    with sqlite3.connect(tmp_path / "state.db") as raw:
        [(stop_id,)] = raw.execute("SELECT stop_loss_order_id FROM trades").fetchall()
    assert stop_id == kept.id
    texts = [m.text for m in api.messages(CHAT)]
    assert any("cancelled" in t and stale.id in t for t in texts)
    assert any("PositionBot started" in t and "record was started fresh" in t for t in texts)


async def test_a_missing_database_whose_lock_file_remains_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = await Store.open(path)
    await store.close()
    path.unlink()

    with pytest.raises(DatabaseRefusedError, match="is missing, but positionbot kept its record"):
        await Store.open(path)


async def test_a_corrupt_database_fails_its_quick_check(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = await Store.open(path)
    await store.close()
    data = bytearray(path.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)  # the header survives, the pages do not
    path.write_bytes(bytes(data))

    with pytest.raises(DatabaseRefusedError, match=r"corrupt|integrity check"):
        await Store.open(path)
    fresh = await Store.open(path, fresh=True)
    assert fresh.started_fresh
    await fresh.close()


async def test_a_directory_that_cannot_hold_the_database_is_a_clear_error(
        tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where the directory should be")

    with pytest.raises(DatabaseRefusedError, match="directory exists and is writable"):
        await Store.open(tmp_path / "taken" / "bot.db")


async def test_a_symlink_or_a_hard_link_does_not_get_past_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = await Store.open(path)
    try:
        (tmp_path / "alias.db").symlink_to(path)
        os.link(path, tmp_path / "twin.db")
        for other in ("alias.db", "twin.db"):
            with pytest.raises(DatabaseInUseError):
                await Store.open(tmp_path / other)
    finally:
        await store.close()
