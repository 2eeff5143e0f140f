"""``positionbot sync --once`` as a subprocess, against the local Binance-format server.

The server runs in the test's event loop, so the CLI is started with asyncio's subprocess API
(a blocking ``subprocess.run`` would stop the server from answering).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.storage.store import Store
from positionbot.tracker.core.models import OrderSide, Side
from positionbot.tracker.exchange.paper import PaperExchange, default_markets

BTC = "BTC/USDT:USDT"
D = Decimal
KEYS = {"PB_SYNC_TEST_KEY": "sync-test-key", "PB_SYNC_TEST_SECRET": "sync-test-secret"}
CONFIG = """
[storage]
path = "state.db"

[tracker]
verify_delay_seconds = 0
cycle_timeout_seconds = 20

[[accounts]]
name = "main"
exchange = "binanceusdm"
api_key_env = "PB_SYNC_TEST_KEY"
secret_env = "PB_SYNC_TEST_SECRET"
"""


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def toml_table(name: str, table: Mapping[str, Any]) -> str:
    """A nested table of strings and integers as TOML (enough for ``ccxt_config_for``)."""
    lines = [f"[{name}]"]
    lines += [f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}"
              for key, value in table.items() if not isinstance(value, Mapping)]
    subtables = [toml_table(f"{name}.{key}", value) for key, value in table.items()
                 if isinstance(value, Mapping)]
    return "\n".join([*lines, *subtables])


async def sync_once(config: Path, env: Mapping[str, str] = KEYS) -> Result:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PB_SYNC_TEST")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "positionbot", "sync", "--once", "-c", str(config),
        env={**clean, **env}, cwd=config.parent,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


@pytest.fixture
def venue() -> PaperExchange:
    return PaperExchange(default_markets(), marks={BTC: D("60000")})


@pytest.fixture
async def server(venue: PaperExchange) -> AsyncIterator[BinanceServer]:
    async with BinanceServer(venue) as running:
        yield running


@pytest.fixture
def config(tmp_path: Path, server: BinanceServer) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG + toml_table("accounts.ccxt_config", ccxt_config_for(server.base_url)))
    return path


async def test_first_sync_adopts_the_position_and_prints_the_report(
    server: BinanceServer, config: Path,
) -> None:
    server.seed_position(BTC, Side.LONG, D("0.010"), D("60000"))
    result = await sync_once(config)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("main: ok in ")
    assert "    #1 BTC/USDT:USDT long 0.010 @ 60000 (external) · mark 60000" in result.stdout
    assert "    opened #1 BTC/USDT:USDT long: 0 → 0.010 @ 60000\n" in result.stdout
    assert result.stdout.endswith("1 of 1 account(s) synced · no pushes waiting\n")
    assert "cycle main ok: positions=1 changes=1" in result.stderr  # the one log line per cycle
    assert (config.parent / "state.db").exists()


async def test_a_partial_close_is_reported_with_exact_figures_from_the_fills(
    server: BinanceServer, venue: PaperExchange, config: Path,
) -> None:
    server.seed_position(BTC, Side.LONG, D("0.010"), D("60000"))
    assert (await sync_once(config)).returncode == 0
    venue.set_mark(BTC, D("61000"))
    venue.manual_order(BTC, OrderSide.SELL, D("0.004"), reduce_only=True)
    result = await sync_once(config)
    assert result.returncode == 0, result.stderr
    # (61000 - 60000) * 0.004 = 4, less the taker fee 0.004 * 61000 * 0.0004 = 0.0976
    assert ("    decreased #1 BTC/USDT:USDT long: 0.010 → 0.006 @ 61000 · "
            "realized P&L 3.9024 · fees 0.0976\n") in result.stdout
    assert "    #1 BTC/USDT:USDT long 0.006 @ 60000 (external)" in result.stdout


async def test_nothing_changed_says_so(config: Path) -> None:
    result = await sync_once(config)
    assert result.returncode == 0, result.stderr
    assert "main: ok in " in result.stdout
    assert "0 positions" in result.stdout
    assert "  no changes\n" in result.stdout


async def test_exchange_down_exits_non_zero(server: BinanceServer, config: Path) -> None:
    await server.stop()
    result = await sync_once(config)
    assert result.returncode == 1
    assert result.stdout.startswith("main: FAILED after ")
    assert "  error: " in result.stdout
    assert "FAILED: main" in result.stdout
    assert "cycle main FAILED" in result.stderr


async def test_rejected_api_key_exits_non_zero(server: BinanceServer, config: Path) -> None:
    server.bad_api_keys.add(KEYS["PB_SYNC_TEST_KEY"])
    result = await sync_once(config)
    assert result.returncode == 1
    assert "main: FAILED" in result.stdout
    assert "Invalid API-key" in result.stdout
    for secret in KEYS.values():
        assert secret not in result.stdout + result.stderr


async def test_database_in_use_is_refused_with_a_clear_message(config: Path) -> None:
    store = await Store.open(config.parent / "state.db")
    try:
        result = await sync_once(config)
    finally:
        await store.close()
    assert result.returncode == 2
    assert "is in use: another positionbot process" in result.stderr
    assert result.stdout == ""
