"""Fixtures of these tests; they and their helpers live in tests/support/pnl.py."""

from tests.support.pnl import pnl_env  # noqa: F401
