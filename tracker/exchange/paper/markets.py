"""Markets for the paper exchange: a few real Binance USDⓈ-M contracts, and synthetic ones in bulk.

The real ones carry Binance's filters (amount step, price tick, minimum quantity and notional)
so demos and tests meet the same rejections a live account would.
"""

from __future__ import annotations

from decimal import Decimal

from positionbot.tracker.core.models import Market


def default_markets() -> list[Market]:
    """BTC, ETH, SOL and DOGE linear perpetuals with Binance's filters."""
    return [
        _usdt_perp("BTC", step="0.001", tick="0.1", min_notional="100"),
        _usdt_perp("ETH", step="0.001", tick="0.01", min_notional="20"),
        _usdt_perp("SOL", step="0.01", tick="0.01", min_notional="5"),
        _usdt_perp("DOGE", step="1", tick="0.00001", min_notional="5"),
    ]


def synthetic_markets(n: int) -> list[Market]:
    """``n`` markets ``C0/USDT:USDT`` ... for benchmarks: step 0.001, tick 0.01, no minimums."""
    return [
        Market(
            symbol=f"C{i}/USDT:USDT", base=f"C{i}", quote="USDT", settle="USDT",
            amount_step=Decimal("0.001"), price_tick=Decimal("0.01"),
        )
        for i in range(n)
    ]


def _usdt_perp(base: str, *, step: str, tick: str, min_notional: str) -> Market:
    return Market(
        symbol=f"{base}/USDT:USDT", base=base, quote="USDT", settle="USDT",
        amount_step=Decimal(step), price_tick=Decimal(tick),
        min_amount=Decimal(step), min_notional=Decimal(min_notional),
    )
