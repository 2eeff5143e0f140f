"""``positionbot run`` as a child process, the way a trader runs it: a config file, secrets in
environment variables, and the local exchange and Bot API servers in the parent's event loop.

Used by the crash soak and by the whole-process fault tests. The child's output goes to a log
file per start (a pipe nobody reads could fill and stall it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOKEN_ENV = "PB_SOAK_TOKEN"
KEY_ENV = "PB_SOAK_KEY"
SECRET_ENV = "PB_SOAK_SECRET"

_CONFIG = """\
[storage]
path = "state.db"

[logging]
level = "INFO"

[tracker]
interval_seconds = {interval}
verify_delay_seconds = {verify_delay}
cycle_timeout_seconds = {cycle_timeout}
watchdog_seconds = {watchdog}

[telegram]
token_env = "{token_env}"
base_url = {base_url}
allowed_chats = {allowed}
notify_chats = [{push_chat}]
digest_threshold = {digest_threshold}

[telegram.notifications]
startup = "{startup}"

[[accounts]]
name = "main"
exchange = "binanceusdm"
api_key_env = "{key_env}"
secret_env = "{secret_env}"
stream = {stream}
ccxt_config = {ccxt_config}
"""


def inline_toml(value: Any) -> str:
    """Strings, numbers and nested tables as one TOML inline value."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {inline_toml(v)}"
                                for k, v in value.items()) + " }"
    return json.dumps(value)


@dataclass(frozen=True)
class BotConfig:
    """The knobs the soak and the fault tests turn; everything else is the product's default."""

    bot_api_url: str
    ccxt_config: dict[str, Any]
    command_chat: int
    push_chat: int
    interval: float = 1.0
    verify_delay: float = 0.3
    cycle_timeout: float = 10.0
    watchdog: float = 30.0
    digest_threshold: int = 1000  # one message per push, so each delivery maps to one row
    startup: str = "off"
    stream: bool = True  # the product's default for Binance: follow the user-data stream

    def write(self, path: Path) -> Path:
        path.write_text(_CONFIG.format(
            interval=self.interval, verify_delay=self.verify_delay,
            cycle_timeout=self.cycle_timeout, watchdog=self.watchdog, token_env=TOKEN_ENV,
            base_url=json.dumps(self.bot_api_url),
            allowed=json.dumps(sorted({self.command_chat, self.push_chat})),
            push_chat=self.push_chat, digest_threshold=self.digest_threshold,
            startup=self.startup, key_env=KEY_ENV, secret_env=SECRET_ENV,
            ccxt_config=inline_toml(self.ccxt_config), stream=str(self.stream).lower()))
        return path


@dataclass
class BotProcess:
    """Start, SIGKILL and restart ``python -m positionbot run -c <config>`` in ``workdir``.

    The database is ``state.db`` beside the config file; each start logs to
    ``<name>-<n>.log`` in ``workdir``.
    """

    workdir: Path
    config: Path
    token: str
    name: str = "run"
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def database(self) -> Path:
        return self.config.parent / "state.db"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        assert not self.running, "the bot is already running"
        self.starts += 1
        log_path = self.workdir / f"{self.name}-{self.starts:03d}.log"
        self.logs.append(log_path)
        env = {**os.environ, TOKEN_ENV: self.token, KEY_ENV: "soak-key",
               SECRET_ENV: "soak-secret"}
        with log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "positionbot", "run", "-c", str(self.config), env=env,
                cwd=self.workdir, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)

    def kill(self) -> None:
        """SIGKILL: no handler runs, no buffer is flushed, no transaction is finished."""
        if self.running:
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)

    async def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (a graceful shutdown) and its exit code; SIGKILL if it does not come."""
        if self.process is None:
            return 0
        if self.running:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await self.wait(timeout)
        except TimeoutError:
            self.kill()
            await self.wait()
            raise

    def log_text(self, start: int | None = None) -> str:
        """The output of one start (1-based), or of the latest."""
        path = self.logs[(start or len(self.logs)) - 1]
        return path.read_text(errors="replace")
