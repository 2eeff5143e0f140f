"""Fixtures shared by every test package: the fake Bot API, a real SQLite store, and the
real tracker over the paper venue (defined in tests/support)."""

from tests.support.telegram import api, ptb_bot, store  # noqa: F401
from tests.support.tracker import env  # noqa: F401
