"""Stop actions side by side over real ccxt and the wire-format fakes: one trade never ends up
with two stops (its new stop is placed before its old one is cancelled), the orders stay within
the exchange's rate limit as the fake server counts them, and a failure belongs to its trade."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

import pytest
from aiohttp import web

from positionbot.fakes import bybit_server
from positionbot.fakes.binance_server import BinanceServer, ccxt_config_for
from positionbot.fakes.bybit_server import BybitServer
from positionbot.tracker.core.ledger import Outcome
from positionbot.tracker.core.models import Market, Side, Source, Trade, TradeStatus
from positionbot.tracker.core.notices import StopLossFailed, StopLossPlaced
from positionbot.tracker.core.stoploss import StopAction, StopActionKind
from positionbot.tracker.engine.stop_actions import STOP_CONCURRENCY, execute_stop_actions
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.order_pacing import Limit, OrderPacer
from positionbot.tracker.exchange.ccxt.retry import RetryPolicy
from positionbot.tracker.exchange.paper import PaperExchange, synthetic_markets

D = Decimal
PRICE = D("100")
RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.04, call_timeout=2.0)


def _symbol(i: int) -> str:
    return f"C{i}/USDT:USDT"


def _side(i: int) -> Side:
    return Side.LONG if i % 2 == 0 else Side.SHORT


def _stop(side: Side) -> Decimal:
    return PRICE - 10 if side is Side.LONG else PRICE + 10


def _trade(i: int, size: Decimal, **stop: object) -> Trade:
    side = _side(i)
    fields: dict[str, object] = {"stop_loss_price": _stop(side), **stop}
    return Trade(id=i + 1, account="acc-1", symbol=_symbol(i), side=side,
                 status=TradeStatus.OPEN, source=Source.BOT, size=size, avg_entry_price=PRICE,
                 **fields)  # type: ignore[arg-type]


def _venue(n: int) -> PaperExchange:
    venue = PaperExchange(synthetic_markets(n))
    for i in range(n):
        venue.set_mark(_symbol(i), PRICE)
    return venue


class WatchedBinance(BinanceServer):
    """The Binance fake, slowed a little on the Algo service so actions overlap, watching how
    many requests are in flight and how many stops each symbol holds after every request."""

    def __init__(self, venue: PaperExchange) -> None:
        super().__init__(venue)
        self.in_flight = 0
        self.most_in_flight = 0
        self.most_live: Counter[str] = Counter()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        algo = request.path == "/fapi/v1/algoOrder"
        self.in_flight += algo
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if algo:
                await asyncio.sleep(0.02)
            return await super()._dispatch(request)
        finally:
            self.in_flight -= algo
            live = Counter(o.symbol for o in self.venue.open_stop_orders())
            for symbol, count in live.items():
                self.most_live[symbol] = max(self.most_live[symbol], count)


class TimedBybit(BybitServer):
    """The Bybit fake noting when each order create was signed (``X-BAPI-TIMESTAMP``, taken by
    ccxt after the pacer let it go): the sending side's pace, which this event loop's
    scheduling of the server handlers cannot bunch up under CPU load."""

    def __init__(self, venue: PaperExchange) -> None:
        super().__init__(venue)
        self.creates: list[float] = []

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST" and request.path == "/v5/order/create":
            self.creates.append(int(request.headers["X-BAPI-TIMESTAMP"]) / 1000)
        return await super()._dispatch(request)


@pytest.fixture
async def binance() -> AsyncIterator[tuple[WatchedBinance, CcxtGateway]]:
    async with WatchedBinance(_venue(32)) as server:
        gateway = CcxtGateway("acc-1", "binanceusdm", api_key="k", secret="s", retry=RETRY,
                              ccxt_config=ccxt_config_for(server.base_url))
        try:
            yield server, gateway
        finally:
            await gateway.close()


async def _run(gateway: CcxtGateway, actions: Sequence[StopAction]) -> Outcome:
    markets: dict[str, Market] = dict(await gateway.markets())
    return await execute_stop_actions(gateway, actions, markets, False, {})


async def test_moves_run_side_by_side_and_leave_each_trade_one_stop_placed_before_the_old_goes(
        binance: tuple[WatchedBinance, CcxtGateway]) -> None:
    server, gateway = binance
    old: dict[int, str] = {}
    for i in range(24):
        server.seed_position(_symbol(i), _side(i), D(1), PRICE)
        placed = await gateway.place_stop_loss(_symbol(i), _side(i), D(1), _stop(_side(i)),
                                               f"pb-{i + 1}-sl-old", False)
        old[i] = placed.id
        server.seed_position(_symbol(i), _side(i), D(2), PRICE)  # the position grew
    for i in range(24, 32):
        server.seed_position(_symbol(i), _side(i), D(3), PRICE)
    server.most_in_flight = 0
    actions = [StopAction(StopActionKind.REPLACE, _trade(i, D(2), stop_loss_order_id=old[i],
                                                         stop_loss_size=D(1)))
               for i in range(24)]
    actions += [StopAction(StopActionKind.PLACE, _trade(i, D(3))) for i in range(24, 32)]

    out = await _run(gateway, actions)

    assert out.errors == []
    assert 1 < server.most_in_flight <= STOP_CONCURRENCY
    live = {o.symbol: o for o in server.venue.open_stop_orders()}
    assert len(server.venue.open_stop_orders()) == len(live) == 32  # one stop per trade
    assert all(count <= 2 for count in server.most_live.values())  # new one, then old one gone
    recorded = {t.symbol: t for t in out.trades}
    for i in range(32):
        trade = recorded[_symbol(i)]
        assert trade.stop_loss_order_id == live[_symbol(i)].id
        assert trade.stop_loss_size == live[_symbol(i)].amount == (D(2) if i < 24 else D(3))
    log = list(server.log)
    for i in range(24):
        created = next(n for n, entry in enumerate(log) if entry.method == "POST"
                       and entry.path.endswith("/algoOrder") and entry.params["symbol"] == f"C{i}USDT")
        cancelled = next(n for n, entry in enumerate(log) if entry.method == "DELETE"
                         and entry.params.get("algoId") == old[i])
        assert created < cancelled
    assert [type(n) for n in out.notices] == [StopLossPlaced] * 8  # the moves stay quiet


async def test_a_refused_stop_among_many_is_reported_for_its_trade_only(
        binance: tuple[WatchedBinance, CcxtGateway]) -> None:
    server, gateway = binance
    for i in range(12):
        server.seed_position(_symbol(i), _side(i), D(1), PRICE)
    crossed = _trade(5, D(1), stop_loss_price=PRICE - 10)  # a short stop below the mark: -2021
    actions = [StopAction(StopActionKind.PLACE, crossed if i == 5 else _trade(i, D(1)))
               for i in range(12)]

    out = await _run(gateway, actions)

    assert len(out.errors) == 1 and out.errors[0].startswith(f"stop loss {_symbol(5)}:")
    assert "-2021" in out.errors[0]
    failed = [n for n in out.notices if isinstance(n, StopLossFailed)]
    assert [n.trade_id for n in failed] == [6]
    placed = {n.trade_id for n in out.notices if isinstance(n, StopLossPlaced)}
    assert placed == {i + 1 for i in range(12) if i != 5}
    assert {o.symbol for o in server.venue.open_stop_orders()} == {
        _symbol(i) for i in range(12) if i != 5}
    note = next(t for t in out.trades if t.id == 6)
    assert note.stop_loss_order_id is None and note.stop_loss_note is not None


async def test_bybit_creates_stay_within_ten_a_second_at_the_server() -> None:
    venue = _venue(25)
    async with TimedBybit(venue) as server:
        gateway = CcxtGateway("acc-1", "bybit", api_key="k", secret="s", retry=RETRY,
                              ccxt_config=bybit_server.ccxt_config_for(server.base_url))
        try:
            for i in range(25):
                server.seed_position(_symbol(i), _side(i), D(1), PRICE)
            out = await _run(gateway, [StopAction(StopActionKind.PLACE, _trade(i, D(1)))
                                       for i in range(25)])
        finally:
            await gateway.close()

    assert out.errors == []
    assert len(server.creates) == 25
    in_any_second = max(bisect.bisect_right(server.creates, t + 1.0) - n
                        for n, t in enumerate(server.creates))
    assert 5 <= in_any_second <= 10  # side by side, yet never above Bybit's 10/s per UID
    assert server.creates[-1] - server.creates[0] >= 1.0


class HandClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_binance_pacer_keeps_both_order_windows_below_their_limits() -> None:
    clock = HandClock()
    pacer = OrderPacer((Limit(300, 10.0), Limit(1200, 60.0)), clock=clock, sleep=clock.sleep)
    sent: list[float] = []
    for _ in range(2500):
        await pacer.acquire()
        sent.append(clock.now)

    for seconds, limit in ((10.0, 300), (60.0, 1200)):
        most = max(bisect.bisect_left(sent, t + seconds) - n for n, t in enumerate(sent))
        assert most <= limit * 0.9
    assert sent[269] == 0.0 and sent[270] == 10.0  # a full window waits, and only as long as needed


async def test_a_waiter_cancelled_while_waiting_takes_no_slot() -> None:
    pacer = OrderPacer((Limit(2, 0.3),))  # 90 % of 2: one request per 0.3 s
    await pacer.acquire()
    started = time.monotonic()
    waiter = asyncio.create_task(pacer.acquire())
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await pacer.acquire()  # the slot the cancelled waiter would have taken
    assert 0.2 < time.monotonic() - started < 0.5
