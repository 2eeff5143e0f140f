"""Issue 11 item 14, as a real process: with Telegram unreachable from the start, ``positionbot
run`` tracks (cycles against real ccxt and the Binance-format server) from the first second,
keeps retrying Telegram without giving up, and delivers what it queued once Telegram is back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.fakes.botapi_server import FakeBotApi
from tests.soak.bot_process import inline_toml
from tests.support.process import CONFIG, exchange_server
from tests.support.telegram import CHAT

__all__ = ["exchange_server"]  # the fixture, shared with the other process test


async def test_tracking_runs_while_telegram_is_down_and_pushes_follow_when_it_is_back(
    tmp_path: Path, api: FakeBotApi, exchange_server: BinanceServer,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(
        base_url=json.dumps(api.base_url), chat=CHAT,
        ccxt_config=inline_toml(ccxt_config_for(exchange_server.base_url))))
    env = {**os.environ, "PB_RUN_TEST_TOKEN": api.token, "PB_RUN_TEST_KEY": "k",
           "PB_RUN_TEST_SECRET": "s"}
    await api.start_outage("refuse")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "positionbot", "run", "-c", str(config), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await api.wait_for(lambda: exchange_server.count("positionRisk") >= 1, within=30)
        await asyncio.sleep(3)  # Telegram still down: the bot keeps going, it does not exit
        assert process.returncode is None
        assert api.messages(CHAT) == []
        await api.end_outage()
        await api.wait_for(lambda: any("Opened" in m.text for m in api.messages(CHAT)),
                           within=30)
        api.user_message(CHAT, "/positions")
        await api.wait_for(lambda: any("Entry 60000.0" in m.text for m in api.messages(CHAT)),
                           within=15)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    log = err.decode()
    assert process.returncode == 0, log[-2000:]
    assert "Telegram unreachable" in log and "tracking carries on" in log
    assert log.index("cycle main ok") < log.index("Telegram connected")
