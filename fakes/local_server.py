"""What every exchange fake shares: the request log and fault queue its tests read, and the
aiohttp lifecycle on 127.0.0.1 (port 0), WebSockets routed before the REST catch-all."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Self

from aiohttp import web

from positionbot.fakes.binance_faults import Fault, FaultQueue
from positionbot.tracker.exchange.paper import PaperExchange

LOG_SIZE = 500
SocketHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    params: dict[str, str]


class LocalServer:
    """Controls: ``faults`` (queued ``Fault``s, one request each), ``requests`` (a count per
    ``"METHOD /path"``), ``log`` (recent requests' parameters), ``bad_api_keys``."""

    def __init__(self, venue: PaperExchange) -> None:
        self.venue = venue
        self.faults = FaultQueue()
        self.requests: Counter[str] = Counter()
        self.log: deque[LoggedRequest] = deque(maxlen=LOG_SIZE)
        self.bad_api_keys: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def inject(self, *faults: Fault) -> None:
        self.faults.inject(*faults)

    def count(self, path_suffix: str, method: str | None = None) -> int:
        """Requests received whose path ends with ``path_suffix`` (any method unless given)."""
        return sum(n for key, n in self.requests.items()
                   if key.endswith(path_suffix) and (method is None or key.startswith(method)))

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def sent(self, path_suffix: str, method: str = "POST") -> list[dict[str, str]]:
        """Parameters of the logged requests to ``path_suffix``, oldest first."""
        return [entry.params for entry in self.log
                if entry.method == method and entry.path.endswith(path_suffix)]

    def _count_request(self, method: str, path: str) -> None:
        self.requests[f"{method} {path}"] += 1

    def _log_request(self, method: str, path: str, values: dict[str, str]) -> None:
        self.log.append(LoggedRequest(method, path, values))

    def _socket_routes(self) -> Mapping[str, SocketHandler]:
        return {}

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    async def start(self) -> str:
        app = web.Application()
        for path, handler in self._socket_routes().items():
            app.router.add_get(path, handler)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
