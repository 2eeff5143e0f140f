"""Low items: config that would leak or mislead is refused; a longer ccxt timeout is respected."""

from __future__ import annotations

from pathlib import Path

import pytest

from positionbot.bot.config import ConfigError, load_config
from positionbot.fakes.binance_faults import Fault
from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.retry import RetryPolicy
from tests.support.config import ACCOUNT, ENV


def refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    return str(caught.value)


def test_ccxt_verbose_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, ACCOUNT + "ccxt_config = { verbose = true }\n")
    assert "accounts[0].ccxt_config.verbose" in message and "API key" in message


def test_sandbox_on_binance_futures_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, ACCOUNT + "sandbox = true\n")
    assert "accounts[0].sandbox" in message and "sandbox = false" in message


async def test_a_ccxt_timeout_above_the_call_limit_is_respected(server: BinanceServer) -> None:
    config = {**ccxt_config_for(server.base_url), "timeout": 1500}
    gateway = CcxtGateway("main", "binanceusdm", api_key="k", secret="s", ccxt_config=config,
                          retry=RetryPolicy(attempts=1, base_delay=0, max_delay=0,
                                            call_timeout=0.5))
    try:
        await gateway.markets()
        server.inject(Fault.slow(0.8, "/positionRisk"))
        snapshot = await gateway.fetch_positions()  # answered after 0.8 s: within 1.5 s
    finally:
        await gateway.close()
    assert snapshot.positions == ()
