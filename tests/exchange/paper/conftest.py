"""Fixtures of these tests; they and their helpers live in tests/support/paper.py."""

from tests.support.paper import clock, exchange, gateway, hedge_exchange  # noqa: F401
