"""Fixtures of these tests; they and their helpers live in tests/support/trading.py."""

from tests.support.trading import api, env, server, store, venue  # noqa: F401
