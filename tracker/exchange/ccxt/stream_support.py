"""Which exchanges positionbot can follow by user-data stream (kept apart from ``stream`` so the
configuration can ask without importing ccxt)."""

from __future__ import annotations

STREAM_EXCHANGES = frozenset({"binanceusdm", "bybit", "okx"})
"""Exchanges whose user-data stream is followed (Binance USDⓈ-M, Bybit v5, OKX v5); the others
are polled only."""


def supports_stream(exchange_id: str) -> bool:
    return exchange_id in STREAM_EXCHANGES
