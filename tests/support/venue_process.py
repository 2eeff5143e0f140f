"""``positionbot run`` as a trader runs it on Bybit v5 or OKX v5: a config file with the
product's defaults (so the private stream is on), secrets in environment variables, the fake
exchange (REST and private WebSockets) and the fake Bot API in the test's event loop.

The poll interval is 30 s, so a push that arrives within seconds of a change made at the
exchange can only have come from the stream.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from positionbot.fakes.botapi_rules import SentMessage
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.tracker.core.models import PositionMode
from positionbot.tracker.exchange.paper import PaperExchange
from tests.exchange.contract.kits import Kit
from tests.soak.bot_process import KEY_ENV, SECRET_ENV, TOKEN_ENV, BotProcess, inline_toml

COMMAND_CHAT = 4242  # the trader's private chat: commands and their answers
PUSH_CHAT = 5151  # where pushes go, so command replies never interleave with them
PASSWORD_ENV = "PB_E2E_PASSPHRASE"
INTERVAL = 30  # seconds between polls: far longer than any push the tests wait for

_CONFIG = """\
[storage]
path = "state.db"

[tracker]
interval_seconds = {interval}

[telegram]
token_env = "{token_env}"
base_url = {base_url}
allowed_chats = [{chats}]
notify_chats = [{push_chat}]

[[accounts]]
name = "main"
exchange = "{exchange}"
api_key_env = "{key_env}"
secret_env = "{secret_env}"
{password}ccxt_config = {ccxt_config}
"""


@dataclass
class Desk:
    """One running bot on one fake exchange account, seen from the trader's chats."""

    venue: PaperExchange
    server: Any  # BybitServer | OkxServer
    api: FakeBotApi
    bot: BotProcess
    push_chat: int  # PUSH_CHAT, or COMMAND_CHAT when one chat has both (the usual set-up)

    def pushes(self, title: str) -> list[str]:
        return [m.text for m in self.api.messages(self.push_chat) if title in m.text]

    async def push(self, title: str, within: float = 5.0) -> tuple[str, float]:
        """Wait for one more push whose text has ``title``: its text and how long it took."""
        seen, began = len(self.pushes(title)), time.monotonic()
        await self.api.wait_for(lambda: len(self.pushes(title)) > seen, within=within)
        return self.pushes(title)[seen], time.monotonic() - began

    async def answer(self, command: str, expect: str = "", within: float = 10.0
                     ) -> SentMessage:
        """Send a command in the trader's chat; the bot's first new message there with
        ``expect`` in it (pushes may come in between when one chat has both), as first sent
        (with its buttons: a tap edits the message in place, taking them away)."""
        seen = len(self.api.messages(COMMAND_CHAT))

        def found() -> list[SentMessage]:
            return [m for m in self.api.messages(COMMAND_CHAT)[seen:] if expect in m.text]

        self.api.user_message(COMMAND_CHAT, command)
        await self.api.wait_for(lambda: bool(found()), within)
        return replace(found()[0])

    async def ask(self, command: str, expect: str = "", within: float = 10.0) -> str:
        return (await self.answer(command, expect, within)).text

    def press(self, message: SentMessage, label: str) -> str:
        """Tap the one button of ``message`` whose label has ``label``: the query id."""
        (data,) = [d for text, d in message.buttons if label in text]
        return self.api.press_button(COMMAND_CHAT, message.message_id, data)

    async def stream_connected(self, within: float = 20.0) -> None:
        """Ask /status until it says the stream is connected (its REST sync done)."""
        deadline = time.monotonic() + within
        while "stream connected" not in await self.ask("/status", "<b>Status</b>"):
            assert time.monotonic() < deadline, self.bot.log_text()[-3000:]
            await asyncio.sleep(0.3)

    def events(self) -> list[tuple[str, Decimal, Decimal, Decimal, Decimal, bool]]:
        """Every position event as stored: (kind, size before, after, realized P&L, fees,
        estimated), oldest first, read straight from the bot's SQLite file."""
        with sqlite3.connect(f"file:{self.bot.database}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT kind, size_before, size_after, realized_pnl, fees, "
                              "estimated FROM position_events ORDER BY id").fetchall()
        return [(k, Decimal(b), Decimal(a), Decimal(p), Decimal(f), bool(e))
                for k, b, a, p, f, e in rows]


def _config(kit: Kit, base_url: str, bot_api_url: str, push_chat: int) -> str:
    return _CONFIG.format(
        interval=INTERVAL, token_env=TOKEN_ENV, base_url=json.dumps(bot_api_url),
        chats=", ".join(str(c) for c in sorted({COMMAND_CHAT, push_chat})), push_chat=push_chat,
        exchange=kit.exchange_id,
        key_env=KEY_ENV, secret_env=SECRET_ENV,
        password=f'password_env = "{PASSWORD_ENV}"\n' if kit.password else "",
        ccxt_config=inline_toml(kit.ccxt_config(base_url)))


@asynccontextmanager
async def open_desk(kit: Kit, workdir: Path, monkeypatch: pytest.MonkeyPatch, *,
                    mode: PositionMode = PositionMode.ONE_WAY,
                    one_chat: bool = False) -> AsyncIterator[Desk]:
    """The fake exchange and Bot API up, ``positionbot run`` started and its stream connected;
    on exit the bot is stopped with SIGTERM and must exit 0 without a traceback. ``one_chat``:
    commands and pushes share the trader's private chat, as in the example configuration."""
    push_chat = COMMAND_CHAT if one_chat else PUSH_CHAT
    paper = kit.venue(mode=mode)
    monkeypatch.setenv(PASSWORD_ENV, "test-passphrase")
    server = kit.server(paper)
    async with server, FakeBotApi() as api:
        path = workdir / "config.toml"
        path.write_text(_config(kit, server.base_url, api.base_url, push_chat))
        bot = BotProcess(workdir, path, api.token, kit.name)
        await bot.start()
        try:
            desk = Desk(paper, server, api, bot, push_chat)
            await desk.stream_connected()
            yield desk
        finally:
            code = await bot.stop()
        log = bot.log_text()
        assert code == 0, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
