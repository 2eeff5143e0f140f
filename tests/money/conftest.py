"""Fixtures of these tests; they and their helpers live in tests/support/money.py."""

from tests.support.money import money, server, venue  # noqa: F401
