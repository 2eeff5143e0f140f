"""Fixtures of these tests; they and their helpers live in tests/support/config.py."""

from tests.support.config import write_config  # noqa: F401
