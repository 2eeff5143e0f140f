"""Fixtures of these tests; they and their helpers live in tests/support/exchange.py."""

from tests.support.exchange import (  # noqa: F401
    gateway,
    hedge_gateway,
    hedge_server,
    hedge_venue,
    make_gateway,
    server,
    venue,
)
