"""OKX-only stream behaviour, through real ccxt.pro against the fake OKX v5 private streams
(sizes in contracts of 0.01 BTC and 0.1 ETH): the periodic position snapshots OKX pushes, and the
wiring that gives an OKX (and a Bybit) account its stream. What OKX shares with Bybit is tested
on both in test_venue_streams.py."""

from __future__ import annotations

import asyncio
import json

import pytest

from positionbot.bot.config import load_config
from positionbot.bot.wiring import build_streams
from positionbot.fakes import okx_wire
from positionbot.tracker.core.models import OrderSide
from positionbot.tracker.exchange.ccxt.stream import CcxtUserStream
from tests.support.config import OKX, OKX_ENV, WriteConfig
from tests.support.config import write_config as write_config
from tests.support.stream import BTC, ETH, D, eventually
from tests.support.venue_streams import KitLive, okx_live

__all__ = ["okx_live", "write_config"]  # fixtures

BUY, SELL = OrderSide.BUY, OrderSide.SELL


async def test_position_snapshots_repeat_nothing_and_leaving_one_out_closes_nothing(
        okx_live: KitLive) -> None:
    """OKX pushes the open positions every few seconds (and at subscription): a row repeating
    what was said changes nothing, and a push that does not list a position does not close it."""
    live = okx_live
    live.venue.manual_order(BTC, BUY, D("1"))
    live.venue.manual_order(ETH, SELL, D("2"))
    await eventually(lambda: len(live.trades()) == 2)
    cycles = live.tracker.cycles_completed
    for _ in range(3):
        live.server.stream.snapshot()
    eth = next(p for p in live.venue.positions() if p.symbol == ETH)
    row = okx_wire.position_json(eth, "ETH-USDT-SWAP", hedge=False, leverage=10,
                                 liquidation=None, settle="USDT")
    live.server.stream.push("positions", json.dumps(
        {"arg": {"channel": "positions", "instType": "ANY"}, "data": [row]}))
    live.venue.manual_order(ETH, BUY, D("1"), reduce_only=True)  # and the stream still follows
    await eventually(lambda: {t.symbol: t.size for t in live.trades()} == {BTC: D("1"),
                                                                           ETH: D("1")})
    await asyncio.sleep(0.1)
    assert live.tracker.cycles_completed == cycles
    assert await live.kinds() == ["opened", "opened", "decreased"]


async def test_an_okx_and_a_bybit_account_get_their_stream_by_default(
        write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in OKX_ENV.items():
        monkeypatch.setenv(name, value)
    bybit = OKX.replace('name = "okx"', 'name = "bybit"').replace('exchange = "okx"',
                                                                'exchange = "bybit"')
    config = load_config(write_config(OKX + bybit), OKX_ENV)
    streams = build_streams(config)
    try:
        assert sorted(streams) == ["bybit", "okx"]
        assert all(isinstance(s, CcxtUserStream) for s in streams.values())
    finally:
        for stream in streams.values():
            await stream.shutdown()
