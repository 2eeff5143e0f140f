"""Which exchanges positionbot can follow by user-data stream (kept apart from ``stream`` so the
configuration can ask without importing ccxt)."""

from __future__ import annotations

STREAM_EXCHANGES = frozenset({"binanceusdm"})
"""Exchanges whose user-data stream is followed; the others are polled only."""


def supports_stream(exchange_id: str) -> bool:
    return exchange_id in STREAM_EXCHANGES
