"""Bybit and OKX stream tests: the tracker following a fake Bybit v5 or OKX v5 account through
real ccxt (REST) and real ccxt.pro (the private WebSockets), with the stream follower."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.models import PositionMode, Trade
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.engine.stream_follower import StreamFollower
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.stream import CcxtUserStream
from positionbot.tracker.exchange.paper import PaperExchange
from tests.exchange.contract.kits import BYBIT, OKX, Kit
from tests.support.stream import (
    ACCOUNT,
    BTC,
    CHAT,
    FAST_FOLLOW,
    FAST_RETRY,
    FAST_TIMING,
    D,
    eventually,
)

__all__ = ["KitLive", "bybit_live", "okx_live", "venue_hedge_live", "venue_live"]

_FILL_LISTINGS = {"bybit": ("/v5/execution/list",),  # OKX: the recent fills and the history
                  "okx": ("/api/v5/trade/fills", "/api/v5/trade/fills-history")}


@dataclass
class KitLive:
    """The tracker following a fake Bybit or OKX account (``server``: that fake)."""

    venue: PaperExchange
    server: Any  # BybitServer | OkxServer
    gateway: CcxtGateway
    stream: CcxtUserStream
    store: Store
    tracker: SimplePositionTracker
    follower: StreamFollower
    kit: Kit

    def trades(self) -> list[Trade]:
        return self.tracker.book.active_trades(ACCOUNT)

    async def notices(self) -> list[tuple[str, dict[str, str]]]:
        rows = await self.store.pending_notifications(datetime.now(UTC) + timedelta(days=1),
                                                      limit=10_000)
        return [(r.kind, json.loads(r.fields) if isinstance(r.fields, str) else r.fields)
                for r in rows if r.kind != "startup"]

    async def kinds(self) -> list[str]:
        return [kind for kind, _ in await self.notices()]

    def qty(self, base: str, symbol: str = BTC) -> Decimal:
        """``base`` coins of ``symbol`` in the exchange's order units: the coins as written on
        Bybit, a contract count without trailing zeros on OKX ("1", not "1.0"). The venue keeps
        an order's places into the notices, so they are the places the tests expect there."""
        units = self.kit.qty(base, symbol)
        if units == D(base):
            return D(base)
        return units.quantize(D(1)) if units == units.to_integral_value() else units.normalize()

    def fills_asked(self) -> int:
        """REST fill listings asked so far: a change priced from the stream needs none."""
        return sum(self.server.count(path) for path in _FILL_LISTINGS[self.kit.name])


async def kit_env(kit: Kit, tmp_path: Path, *, mode: PositionMode = PositionMode.ONE_WAY
                  ) -> KitLive:
    venue: PaperExchange = kit.venue(mode=mode)
    server: Any = kit.server(venue)
    await server.start()
    config = kit.ccxt_config(server.base_url)
    gateway = CcxtGateway(ACCOUNT, kit.exchange_id, api_key="test-key", secret="test-secret",
                          password=kit.password, ccxt_config=config, retry=FAST_RETRY,
                          settle_coins=["USDT"] if kit is BYBIT else None)
    stream = CcxtUserStream(ACCOUNT, kit.exchange_id, api_key="test-key",
                            secret="test-secret", password=kit.password, ccxt_config=config,
                            timing=FAST_TIMING)
    store = await Store.open(tmp_path / "state.db", recipients=fixed_recipients([CHAT]))
    settings = TrackerSettings(verify_delay=0.05, dust=DustPolicy(D("5")))
    tracker = SimplePositionTracker(store, {ACCOUNT: gateway}, settings)
    await tracker.start()
    follower = StreamFollower(tracker, stream, store, FAST_FOLLOW)
    follower.start()
    await eventually(lambda: follower.connected)
    return KitLive(venue, server, gateway, stream, store, tracker, follower, kit)


async def close_kit(live: KitLive) -> None:
    await live.follower.stop()
    await live.gateway.close()
    await live.store.close()
    await live.server.stop()


async def _env(kit: Kit, tmp_path: Path, mode: PositionMode) -> AsyncIterator[KitLive]:
    env = await kit_env(kit, tmp_path, mode=mode)
    yield env
    await close_kit(env)


@pytest.fixture(params=[BYBIT, OKX], ids=lambda kit: kit.name)
async def venue_live(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KitLive]:
    """Each of Bybit and OKX in one-way mode, for the tests both exchanges share."""
    async for env in _env(request.param, tmp_path, PositionMode.ONE_WAY):
        yield env


@pytest.fixture(params=[BYBIT, OKX], ids=lambda kit: kit.name)
async def venue_hedge_live(request: pytest.FixtureRequest, tmp_path: Path
                           ) -> AsyncIterator[KitLive]:
    """Each of Bybit and OKX in hedge (long/short) mode."""
    async for env in _env(request.param, tmp_path, PositionMode.HEDGE):
        yield env


@pytest.fixture
async def bybit_live(tmp_path: Path) -> AsyncIterator[KitLive]:
    async for env in _env(BYBIT, tmp_path, PositionMode.ONE_WAY):
        yield env


@pytest.fixture
async def okx_live(tmp_path: Path) -> AsyncIterator[KitLive]:
    async for env in _env(OKX, tmp_path, PositionMode.ONE_WAY):
        yield env
