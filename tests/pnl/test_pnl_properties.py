"""Property: for any sequence of trades, fills, fees and funding on the paper venue, every
period's net P&L equals the venue's income ledger for that period to the last decimal, and
its parts (price, fees, funding) add up to the whole."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from positionbot.storage.reports import Scope, closed_trades, pnl_events
from positionbot.tracker.core.models import ZERO, OrderSide
from positionbot.tracker.core.pnl import Period, parse_period, periods, summarize
from positionbot.tracker.exchange.paper.income import IncomeType
from tests.support.pnl import PnlEnv, make_pnl_env
from tests.support.tracker import BTC, ETH

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")
UNITS = {BTC: D("0.002"), ETH: D("0.050")}


@dataclass(frozen=True)
class Manual:
    symbol: str
    side: OrderSide
    units: int
    reduce_only: bool


@dataclass(frozen=True)
class Mark:
    symbol: str
    pct: int


@dataclass(frozen=True)
class Funding:
    symbol: str
    rate_bp: int  # basis points of notional (can be negative)


@dataclass(frozen=True)
class Wait:
    minutes: int


symbols = st.sampled_from([BTC, ETH])
op = st.one_of(
    st.builds(Manual, symbols, st.sampled_from(list(OrderSide)), st.integers(1, 6), st.booleans()),
    st.builds(Mark, symbols, st.integers(-40, 40)),
    st.builds(Funding, symbols, st.integers(-30, 30)),
    st.builds(Wait, st.integers(1, 24 * 60)),
)


async def step(env: PnlEnv, o: object) -> None:
    if isinstance(o, Manual):
        try:
            env.exchange.manual_order(o.symbol, o.side, UNITS[o.symbol] * o.units,
                                      reduce_only=o.reduce_only)
        except Exception as e:  # nothing to reduce, or below the minimum notional: refusals
            assert "-2022" in str(e) or "-4164" in str(e), e
    elif isinstance(o, Mark):
        mark = env.exchange.mark(o.symbol)
        tick = env.exchange.markets[o.symbol].price_tick
        env.exchange.set_mark(o.symbol, (mark * (1000 + o.pct) / 1000).quantize(tick))
    elif isinstance(o, Funding):
        env.exchange.apply_funding(o.symbol, D(o.rate_bp) / 10_000)
    else:
        assert isinstance(o, Wait)
        env.clock.advance(o.minutes * 60)
    await env.cycle()


def ledger(env: PnlEnv, period: Period, kind: IncomeType) -> Decimal:
    rows = env.exchange.income.rows(period.start, period.end, kind)
    return sum((r.amount for r in rows), ZERO)


async def check_periods(env: PnlEnv) -> None:
    now = env.clock()
    checked = [*periods("day", 8, now, BERLIN), *periods("week", 2, now, BERLIN),
               parse_period("all", now, BERLIN)]
    for period in checked:
        scope = Scope(period, "paper")
        s = summarize(await pnl_events(env.store, scope), await closed_trades(env.store, scope))
        price = ledger(env, period, IncomeType.REALIZED_PNL)
        fees = -ledger(env, period, IncomeType.COMMISSION)
        funding = ledger(env, period, IncomeType.FUNDING_FEE)
        assert (s.price, s.fees, s.funding) == (price, fees, funding), period
        assert s.net == price - fees + funding == s.price - s.fees + s.funding
        assert sum((r.net for r in s.symbols), ZERO) == s.net


async def scenario(ops: list[object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = await make_pnl_env(Path(tmp))
        try:
            for o in ops:
                await step(env, o)
            await check_periods(env)
            for p in env.exchange.positions():  # flatten: every trade closes
                env.exchange.manual_order(p.symbol, p.side.exit_order_side, p.size,
                                          reduce_only=True)
            await env.cycle()
            await check_periods(env)
        finally:
            await env.store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=30))
def test_every_period_matches_the_venue_ledger(ops: list[object]) -> None:
    asyncio.run(scenario(ops))
