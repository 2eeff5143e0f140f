"""``positionbot run`` as a real process: real ccxt against the local Binance-format server,
real PTB against the fake Bot API, a real SQLite file; stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.fakes.botapi_server import FakeBotApi
from tests.soak.bot_process import inline_toml
from tests.support.process import CONFIG
from tests.support.telegram import CHAT

pytestmark = pytest.mark.slow  # a real process (or a soak): seconds, not milliseconds


async def test_run_serves_pushes_and_commands_and_stops_cleanly_on_sigterm(
    tmp_path: Path, api: FakeBotApi, exchange_server: BinanceServer,
) -> None:

    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(
        base_url=json.dumps(api.base_url), chat=CHAT,
        ccxt_config=inline_toml(ccxt_config_for(exchange_server.base_url))))
    env = {**os.environ, "PB_RUN_TEST_TOKEN": api.token, "PB_RUN_TEST_KEY": "k",
           "PB_RUN_TEST_SECRET": "s"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "positionbot", "run", "-c", str(config), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await api.wait_for(lambda: any("Opened" in m.text for m in api.messages(CHAT)),
                           within=30)
        api.user_message(CHAT, "/positions")
        await api.wait_for(lambda: any("Entry 60000.0" in m.text for m in api.messages(CHAT)),
                           within=10)
        assert {"positions", "sl", "sync"} <= {c["command"] for c in api.commands_for_chat(CHAT)}
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    log = err.decode()
    assert process.returncode == 0, log[-2000:]
    assert api.token not in log and "token" not in log.lower().replace("token_env", "")
    assert "cycle main ok" in log
    texts = [m.text for m in api.messages(CHAT)]
    assert sum("PositionBot started" in t for t in texts) == 1
    assert sum("Opened" in t for t in texts) == 1
