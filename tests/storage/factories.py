"""Builders for storage tests: realistic rows with every field overridable."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from positionbot.tracker.core.models import PositionEvent, Side, Source, Trade, TradeStatus
from positionbot.tracker.core.notices import Notice
from tests.support.notices import OPENED

T0 = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def make_trade(trade_id: int, **overrides: Any) -> Trade:
    trade = Trade(
        id=trade_id,
        account="main",
        symbol="BTC/USDT:USDT",
        side=Side.LONG,
        status=TradeStatus.OPEN,
        source=Source.EXTERNAL,
        size=Decimal("0.5"),
        avg_entry_price=Decimal("65000.1"),
        created_at=T0,
        opened_at=T0,
    )
    return replace(trade, **overrides)


def make_event(trade_id: int, seq: int, **overrides: Any) -> PositionEvent:
    event = PositionEvent(
        trade_id=trade_id,
        seq=seq,
        kind="opened",
        size_before=Decimal(0),
        size_after=Decimal("0.5"),
        price=Decimal("65000.1"),
        realized_pnl=Decimal(0),
        fees=Decimal("0.013"),
        estimated=False,
        at=T0,
    )
    return replace(event, **overrides)


def make_notice(dedupe_key: str, notice: Notice = OPENED, **overrides: Any) -> Notice:
    return replace(notice, dedupe_key=dedupe_key, **overrides)


REPO_ROOT = Path(__file__).resolve().parents[2]


async def start_python(script: str, *args: str) -> asyncio.subprocess.Process:
    """A fresh interpreter running ``script`` from the repository root, so ``tests`` imports."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, *args, cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def run_python(script: str, *args: str, timeout: float = 30) -> tuple[int, str, str]:
    """Run ``script`` to the end; returns (exit code, stdout, stderr)."""
    proc = await start_python(script, *args)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "positionbot.db"
