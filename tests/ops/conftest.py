"""Fixtures of these tests; they and their helpers live in tests/support/ops.py."""

from tests.support.ops import api, exchange_server, launcher, notify_socket  # noqa: F401
