"""Process lifecycle: the signal that stops the bot, the "stopped" push, and systemd's notify
protocol (READY, WATCHDOG, STOPPING) sent to ``$NOTIFY_SOCKET``.

The notify protocol is one datagram per state change on a Unix socket (sd_notify(3)). It is
written here rather than taken from a library: ``sdnotify`` on PyPI has had one release (2017)
and swallows every error, ``systemd-python`` needs libsystemd headers and a compiler on the
server, and the protocol itself is a dozen lines.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Sequence
from datetime import datetime

from positionbot.tracker.core.notices import Stopped

log = logging.getLogger(__name__)

_REASONS = {
    signal.SIGTERM: "SIGTERM received (systemctl stop, docker stop or kill)",
    signal.SIGINT: "SIGINT received (Ctrl-C)",
}


async def wait_for_signal() -> str:
    """Wait for SIGINT or SIGTERM; return why the process is stopping, for the push."""
    received: asyncio.Future[signal.Signals] = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if not received.done():
            received.set_result(sig)

    for sig in _REASONS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return _REASONS[await received]
    finally:
        for sig in _REASONS:
            loop.remove_signal_handler(sig)


def stopped_notice(accounts: Sequence[str], reason: str, open_trades: int, now: datetime) -> Stopped:
    """The last push of a run: why it stopped, and that nothing is watched until it is back."""
    first = accounts[0] if accounts else ""
    return Stopped(account=first, dedupe_key=f"stopped/{now.isoformat()}",
                   accounts=tuple(accounts), reason=reason, open_trades=open_trades)


class SystemdNotifier:
    """Sends sd_notify states when systemd started us with ``Type=notify``; a no-op otherwise.

    A failed send is logged once and never raised: the bot must not stop because the service
    manager went away.
    """

    def __init__(self, address: str | None = None) -> None:
        address = os.environ.get("NOTIFY_SOCKET") if address is None else address
        self._address = ("\0" + address[1:]) if address and address.startswith("@") else address
        self._socket: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def ready(self) -> bool:
        return self.notify("READY=1\nSTATUS=tracking")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, reason: str) -> bool:
        return self.notify(f"STOPPING=1\nSTATUS=stopping: {reason}")

    def notify(self, state: str) -> bool:
        """Send one state datagram; whether it was sent."""
        if not self._address:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._socket.setblocking(False)
            self._socket.sendto(state.encode(), self._address)
        except OSError as err:
            if not self._warned:
                log.warning("sd_notify to %s failed: %s", self._address.lstrip("\0"), err)
                self._warned = True
            return False
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
