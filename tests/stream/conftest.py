"""Fixtures of these tests; they and their helpers live in tests/support/stream.py."""

from tests.support.stream import hedge_live, live  # noqa: F401
