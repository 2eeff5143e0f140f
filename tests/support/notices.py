"""One notice of every kind, shaped like the ones the tracker writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from positionbot.tracker.core.models import Side, Source
from positionbot.tracker.core.notices import (
    CloseReason,
    DailyReport,
    ExchangeRecovered,
    ExchangeUnreachable,
    Notice,
    PendingCancelled,
    PositionClosed,
    PositionDecreased,
    PositionFlipped,
    PositionIncreased,
    PositionOpened,
    Startup,
    StopLossCleared,
    StopLossFailed,
    StopLossHit,
    StopLossPlaced,
    StopLossRemoved,
    Stopped,
    Watchdog,
)

D = Decimal
BTC = "BTC/USDT:USDT"
_AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
_HELD = timedelta(seconds=7500)

OPENED = PositionOpened(
    account="main", dedupe_key="main/trade/7/1", trade_id=7, symbol=BTC, side=Side.LONG,
    source=Source.EXTERNAL, size_before=D("0"), size_after=D("0.010"), price=D("60000"),
    estimated=False, avg_entry=D("60000"), realized_pnl=D("0"), fees=D("0.244"),
    trade_realized_pnl=D("-0.244"), stop_loss=None, notional=D("600"),
)
INCREASED = PositionIncreased(
    account="main", dedupe_key="main/trade/7/2", trade_id=7, symbol=BTC, side=Side.LONG,
    source=Source.EXTERNAL, size_before=D("0.010"), size_after=D("0.020"),
    price=D("61000.12345"), estimated=False, avg_entry=D("60500.061725"), realized_pnl=D("0"),
    fees=D("0.244"), trade_realized_pnl=D("-0.244"), stop_loss=D("58000"), notional=D("1220"),
)
DECREASED = PositionDecreased(
    account="main", dedupe_key="main/trade/7/3", trade_id=7, symbol=BTC, side=Side.LONG,
    source=Source.BOT, size_before=D("0.020"), size_after=D("0.005"), price=D("61000.12345"),
    estimated=True, avg_entry=D("60500.061725"), realized_pnl=D("-12.75"), fees=D("0.244"),
    trade_realized_pnl=D("-0.244"), stop_loss=D("58000"), notional=D("1220"),
)
CLOSED = PositionClosed(
    account="main", dedupe_key="main/trade/7/4", trade_id=7, symbol=BTC, side=Side.LONG,
    source=Source.EXTERNAL, size_before=D("0.020"), size_after=D("0"), price=D("62000"),
    estimated=True, avg_entry=D("60500.061725"), realized_pnl=D("29.5"), fees=D("0.244"),
    trade_realized_pnl=D("29.1"), stop_loss=D("58000"), notional=D("1240"),
    reason=CloseReason.CLOSED, pnl_pct=D("2.44"), held=_HELD,
)
FLIPPED = PositionFlipped(
    account="main", dedupe_key="main/trade/7/5", trade_id=7, symbol=BTC, side=Side.LONG,
    source=Source.EXTERNAL, size_before=D("0.020"), size_after=D("0"), price=D("62000"),
    estimated=True, avg_entry=D("60500.061725"), realized_pnl=D("29.5"), fees=D("0.244"),
    trade_realized_pnl=D("29.1"), stop_loss=D("58000"), notional=D("1240"),
    reason=CloseReason.FLIPPED, pnl_pct=D("2.44"), held=_HELD,
    new_trade_id=8, new_side=Side.SHORT, new_size=D("0.030"), new_entry=D("62000"),
)
STOP_LOSS_HIT = StopLossHit(
    account="main", dedupe_key="main/trade/7/6", trade_id=7, symbol=BTC, side=Side.LONG,
    source=Source.EXTERNAL, size_before=D("0.020"), size_after=D("0"), price=D("62000"),
    estimated=True, avg_entry=D("60500.061725"), realized_pnl=D("-40.2"), fees=D("0.244"),
    trade_realized_pnl=D("29.1"), stop_loss=D("58000"), notional=D("1240"),
    reason=CloseReason.STOP_LOSS, pnl_pct=D("-3.3"), held=_HELD,
)
STOP_PLACED = StopLossPlaced(
    account="main", dedupe_key="main/sl/9/placed", trade_id=9, symbol="ETH/USDT:USDT",
    side=Side.SHORT, source=Source.BOT, price=D("3150.5"), size=D("1.5"), order_id="8000000012",
)
STOP_FAILED = StopLossFailed(
    account="main", dedupe_key="main/sl/9/failed", trade_id=9, symbol="ETH/USDT:USDT",
    side=Side.SHORT, source=Source.BOT, price=D("3150.5"), size=D("1.5"),
    error="Order would immediately trigger <-2021>",
)
STOP_CLEARED = StopLossCleared(
    account="main", dedupe_key="main/sl/9/cleared", trade_id=9, symbol="ETH/USDT:USDT",
    side=Side.SHORT, source=Source.BOT, price=D("3150.5"), size=D("1.5"),
    reason="position closed",
)
STOP_REMOVED = StopLossRemoved(
    account="main", dedupe_key="main/sl/9/removed", trade_id=9, symbol="ETH/USDT:USDT",
    side=Side.SHORT, source=Source.BOT, price=D("3150.5"), size=D("1.5"),
)

SAMPLES: list[Notice] = [
    OPENED, INCREASED, DECREASED, CLOSED, FLIPPED, STOP_PLACED, STOP_FAILED, STOP_CLEARED,
    STOP_REMOVED, STOP_LOSS_HIT,
    PendingCancelled(account="main", dedupe_key="main/pending/11/cancelled", trade_id=11,
                     symbol="SOL/USDT:USDT", side=Side.LONG, source=Source.BOT,
                     reason="entry order expired on the exchange"),
    ExchangeUnreachable(account="main", dedupe_key="main/unreachable/1", failures=3,
                        error="binanceusdm GET /fapi/v3/positionRisk 502 <html>",
                        last_success=_AT),
    ExchangeRecovered(account="main", dedupe_key="main/recovered/1",
                      down_for=timedelta(seconds=185)),
    Startup(account="main", dedupe_key="startup/1", accounts=("main", "alt"), open_trades=2,
            pending_trades=1, unclean_stop=True),
    Watchdog(account="main", dedupe_key="watchdog/1", job="cycle:main",
             detail="no completed cycle for 130s; restarted"),
    Stopped(account="main", dedupe_key="stopped/1", accounts=("main",), reason="SIGTERM",
            open_trades=2),
    DailyReport(account="main", dedupe_key="daily_report/2026-01-05", day="2026-01-05",
                currency="USDT", net=D("-12.5"), price=D("-10"), fees=D("1.25"),
                funding=D("-1.25"), closes=3, wins=1, open_positions=2, unrealized=D("40.1")),
]
