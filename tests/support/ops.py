"""``positionbot run`` as a real process against the local Binance-format server and the fake
Bot API, with helpers to read systemd notify datagrams and the metrics endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.tracker.core.models import Side
from positionbot.tracker.exchange.paper import PaperExchange, default_markets
from tests.soak.bot_process import inline_toml

BTC = "BTC/USDT:USDT"
CHAT = 4242

CONFIG = """
[storage]
path = "state.db"

[logging]
format = "json"

[tracker]
interval_seconds = 1
verify_delay_seconds = 0
cycle_timeout_seconds = 5
watchdog_seconds = 30

[telegram]
token_env = "PB_OPS_TOKEN"
base_url = {base_url}
allowed_chats = [{chat}]
notify_chats = [{chat}]
{metrics}
[[accounts]]
name = "main"
exchange = "binanceusdm"
api_key_env = "PB_OPS_KEY"
secret_env = "PB_OPS_SECRET"
ccxt_config = {ccxt_config}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def exchange_server() -> AsyncIterator[BinanceServer]:
    venue = PaperExchange(default_markets(), marks={BTC: Decimal("60000")})
    venue.open_position(BTC, Side.LONG, Decimal("0.01"), Decimal("60000"))
    async with BinanceServer(venue) as running:
        yield running


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as running:
        yield running


class NotifySocket:
    """What systemd would receive on ``$NOTIFY_SOCKET``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.states: list[str] = []

    def poll(self) -> list[str]:
        while True:
            try:
                self.states.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.states

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    directory = Path(tempfile.mkdtemp(prefix="pbn", dir="/tmp"))  # AF_UNIX paths are short
    sock = NotifySocket(directory / "notify")
    yield sock
    sock.close()
    (directory / "notify").unlink(missing_ok=True)
    directory.rmdir()


@dataclass
class BotProcess:
    """One ``positionbot run`` child; ``stop`` sends a signal and returns its stderr."""

    process: asyncio.subprocess.Process
    metrics_port: int | None
    stderr: str = field(default="")

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> str:
        if self.process.returncode is None:
            self.process.send_signal(sig)
        _, err = await asyncio.wait_for(self.process.communicate(), 30)
        self.stderr = err.decode()
        return self.stderr


@dataclass
class Launcher:
    tmp_path: Path
    api: FakeBotApi
    exchange: BinanceServer
    started: list[BotProcess] = field(default_factory=list)

    async def start(self, *, notify: NotifySocket | None = None, metrics: bool = False) -> BotProcess:
        port = free_port() if metrics else None
        config = self.tmp_path / "config.toml"
        config.write_text(CONFIG.format(
            base_url=json.dumps(self.api.base_url), chat=CHAT,
            metrics=f'[metrics]\nlisten = "127.0.0.1:{port}"\n' if port else "",
            ccxt_config=inline_toml(ccxt_config_for(self.exchange.base_url))))
        env = {**os.environ, "PB_OPS_TOKEN": self.api.token, "PB_OPS_KEY": "k", "PB_OPS_SECRET": "s"}
        env.pop("NOTIFY_SOCKET", None)
        if notify is not None:
            env["NOTIFY_SOCKET"] = str(notify.path)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "positionbot", "run", "-c", str(config), env=env,
            cwd=self.tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        bot = BotProcess(process, port)
        self.started.append(bot)
        return bot


@pytest.fixture
async def launcher(tmp_path: Path, api: FakeBotApi,
                   exchange_server: BinanceServer) -> AsyncIterator[Launcher]:
    launched = Launcher(tmp_path, api, exchange_server)
    yield launched
    for bot in launched.started:
        if bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()
