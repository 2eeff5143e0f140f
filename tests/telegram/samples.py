"""Outbox fields for every push kind, shaped like the ones the tracker writes."""

from __future__ import annotations

from positionbot.tracker.core.models import NoticeKind

_POSITION = {
    "symbol": "BTC/USDT:USDT", "side": "long", "source": "external", "size_before": "0.010",
    "size_after": "0.020", "price": "61000.12345", "estimated": "0", "avg_entry": "60500.061725",
    "realized_pnl": "0", "fees": "0.244", "trade_realized_pnl": "-0.244", "stop_loss": "58000",
    "trade_id": "7",
}
_CLOSE = {**_POSITION, "size_before": "0.020", "size_after": "0", "price": "62000",
          "estimated": "1", "realized_pnl": "29.5", "trade_realized_pnl": "29.1",
          "pnl_pct": "2.44", "duration_s": "7500", "reason": "closed"}
_STOP = {"symbol": "ETH/USDT:USDT", "side": "short", "price": "3150.5", "size": "1.5",
         "order_id": "8000000012", "error": "", "trade_id": "9"}

SAMPLES: dict[str, dict[str, str]] = {
    NoticeKind.OPENED: {**_POSITION, "size_before": "0", "size_after": "0.010",
                        "price": "60000", "avg_entry": "60000", "stop_loss": ""},
    NoticeKind.INCREASED: dict(_POSITION),
    NoticeKind.DECREASED: {**_POSITION, "size_before": "0.020", "size_after": "0.005",
                           "estimated": "1", "realized_pnl": "-12.75", "source": "bot"},
    NoticeKind.CLOSED: _CLOSE,
    NoticeKind.FLIPPED: {**_CLOSE, "reason": "flipped", "new_side": "short",
                         "new_size": "0.030", "new_entry": "62000", "new_trade_id": "8"},
    NoticeKind.STOP_LOSS_PLACED: dict(_STOP),
    NoticeKind.STOP_LOSS_FAILED: {**_STOP, "order_id": "",
                                  "error": "Order would immediately trigger <-2021>"},
    NoticeKind.STOP_LOSS_CLEARED: {**_STOP, "order_id": "", "reason": "position closed"},
    NoticeKind.STOP_LOSS_REMOVED: dict(_STOP),
    NoticeKind.STOP_LOSS_HIT: {**_CLOSE, "reason": "stop_loss", "realized_pnl": "-40.2",
                               "pnl_pct": "-3.3"},
    NoticeKind.PENDING_CANCELLED: {"symbol": "SOL/USDT:USDT", "side": "long",
                                   "reason": "entry order expired on the exchange",
                                   "trade_id": "11"},
    NoticeKind.EXCHANGE_UNREACHABLE: {"failures": "3",
                                      "error": "binanceusdm GET /fapi/v3/positionRisk 502 <html>"},
    NoticeKind.EXCHANGE_RECOVERED: {"down_s": "185"},
    NoticeKind.STARTUP: {"accounts": "main, alt", "open_trades": "2", "pending_trades": "1"},
    NoticeKind.WATCHDOG: {"job": "cycle:main", "detail": "no completed cycle for 130s; restarted"},
}
