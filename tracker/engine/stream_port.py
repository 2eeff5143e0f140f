"""The port a user-data stream implements for the stream follower (gateways import this,
never the follower itself)."""

from __future__ import annotations

from typing import Protocol

from positionbot.tracker.core.stream_events import StreamBatch


class StreamLost(Exception):
    """The stream session ended (closed, silent, key expired, refused): reconnect."""


class StreamSource(Protocol):
    """One account's user-data stream, as a gateway implements it."""

    account: str
    calls: int  # REST requests the stream made (listen keys, keep-alives)

    async def open(self) -> None:
        """A fresh session, connected; raises ``StreamLost`` when it cannot be had."""
        ...

    async def receive(self) -> StreamBatch:
        """The next events, waiting for them; raises ``StreamLost`` when the session died."""
        ...

    async def close(self) -> None:
        """End the session (the next ``open`` starts a new one)."""
        ...

    async def shutdown(self) -> None:
        """End the session and release everything (the process stops)."""
        ...
