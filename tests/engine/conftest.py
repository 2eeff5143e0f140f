"""Fixtures of these tests; they and their helpers live in tests/support/tracker.py."""

from tests.support.tracker import hedge_env  # noqa: F401
