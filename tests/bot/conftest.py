"""Fixtures of these tests; they and their helpers live in tests/support/telegram.py."""

from tests.support.process import exchange_server  # noqa: F401
from tests.support.telegram import env  # noqa: F401
