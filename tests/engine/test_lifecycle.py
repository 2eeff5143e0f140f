"""Manual trading tracked end to end: open, increase, partial close, close, flip, hedge."""

from decimal import Decimal

from positionbot.tracker.core.models import ChangeKind, Side, Source, TradeStatus
from tests.support.tracker import BTC, BUY, ETH, SELL, D, Env


async def test_manual_open_is_tracked_as_external_with_exact_entry(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    report = await env.cycle()
    assert [c.kind for c in report.changes] == [ChangeKind.OPENED]
    (t,) = env.trades()
    assert (t.symbol, t.side, t.size, t.avg_entry_price, t.source) == (
        BTC, Side.LONG, D("0.010"), D("50000"), Source.EXTERNAL)
    assert t.fees == D("0.2")  # 0.04% taker on 500 USDT, from the fill
    assert await env.kinds() == ["opened"]


async def test_increase_weights_the_average_entry(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    env.exchange.set_mark(BTC, D("53000"))
    env.exchange.manual_order(BTC, BUY, D("0.020"))
    report = await env.cycle()
    assert [c.kind for c in report.changes] == [ChangeKind.INCREASED]
    (t,) = env.trades()
    assert t.size == D("0.030") and t.avg_entry_price == D("52000")
    assert t.avg_entry_price == env.exchange.positions()[0].entry_price
    assert report.changes[0].price == D("53000")


async def test_partial_close_books_exact_pnl_from_fills(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.030"))
    await env.cycle()
    env.exchange.set_mark(BTC, D("51000"))
    env.exchange.manual_order(BTC, SELL, D("0.010"), reduce_only=True)
    report = await env.cycle()
    (c,) = report.changes
    assert c.kind is ChangeKind.DECREASED and not c.estimated
    assert c.price == D("51000") and c.fees == D("0.204")
    assert c.realized_pnl == D("10") - D("0.204")
    (t,) = env.trades()
    assert t.size == D("0.020") and t.avg_entry_price == D("50000")
    notices = await env.notices()
    assert [k for k, _ in notices][-1] == "decreased"
    assert notices[-1][1]["realized_pnl"] == "9.796"


async def test_full_close_is_verified_then_reported_with_trade_pnl(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    env.exchange.set_mark(BTC, D("49000"))
    env.exchange.manual_order(BTC, SELL, D("0.010"), reduce_only=True)
    report = await env.cycle()
    assert report.verified and [c.kind for c in report.changes] == [ChangeKind.CLOSED]
    assert env.trades() == []
    closed = (await env.store.list_trades("paper"))[0]
    assert closed.status is TradeStatus.CLOSED and closed.close_reason == "closed"
    expected = env.exchange.realized_pnl() - env.exchange.fees_paid()
    assert closed.realized_pnl == expected == D("-10") - D("0.2") - D("0.196")
    kind, fields = (await env.notices())[-1]
    assert kind == "closed" and fields["price"] == "49000" and fields["reason"] == "closed"


async def test_flip_closes_the_long_and_opens_a_short(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    env.exchange.set_mark(BTC, D("51000"))
    env.exchange.manual_order(BTC, SELL, D("0.030"))
    report = await env.cycle()
    assert [c.kind for c in report.changes] == [ChangeKind.FLIPPED]
    (short,) = env.trades()
    assert (short.side, short.size, short.avg_entry_price) == (Side.SHORT, D("0.020"), D("51000"))
    old = next(t for t in await env.store.list_trades("paper") if t.status is TradeStatus.CLOSED)
    assert old.close_reason == "flipped"
    assert old.realized_pnl == D("10") - D("0.2") - D("0.204")  # its share of the flip fee
    assert await env.kinds() == ["opened", "flipped"]


async def test_hedge_mode_tracks_both_sides_separately(hedge_env: Env) -> None:
    env = hedge_env
    env.exchange.manual_order(BTC, BUY, D("0.010"), position_side=Side.LONG)
    env.exchange.manual_order(BTC, SELL, D("0.020"), position_side=Side.SHORT)
    await env.cycle()
    assert sorted((t.side, t.size) for t in env.trades()) == [
        (Side.LONG, D("0.010")), (Side.SHORT, D("0.020"))]
    env.exchange.set_mark(BTC, D("49000"))
    env.exchange.manual_order(BTC, BUY, D("0.020"), reduce_only=True, position_side=Side.SHORT)
    report = await env.cycle()
    assert [c.kind for c in report.changes] == [ChangeKind.CLOSED]
    (t,) = env.trades()
    assert t.side is Side.LONG
    short = next(x for x in await env.store.list_trades("paper") if x.side is Side.SHORT)
    assert short.realized_pnl == D("20") - D("0.4") - D("0.392")


async def test_many_positions_on_several_symbols(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    env.exchange.manual_order(ETH, SELL, D("0.100"))
    report = await env.cycle()
    assert sorted(c.trade.symbol for c in report.changes) == [BTC, ETH]
    assert {t.symbol: t.side for t in env.trades()} == {BTC: Side.LONG, ETH: Side.SHORT}


async def test_dust_is_ignored_and_shrinking_to_dust_closes(env: Env) -> None:
    env.exchange.open_position("DOGE/USDT:USDT", Side.LONG, D("10"), D("0.1"))  # 1 USDT < 5
    env.exchange.manual_order(ETH, BUY, D("0.010"))  # 30 USDT
    await env.cycle()
    assert [t.symbol for t in env.trades()] == [ETH]
    env.exchange.manual_order(ETH, SELL, D("0.009"), reduce_only=True)  # 3 USDT left
    report = await env.cycle()
    assert [c.kind for c in report.changes] == [ChangeKind.CLOSED]
    closed = (await env.store.list_trades("paper"))[0]
    assert closed.close_reason == "dust"


async def test_steady_cycle_changes_nothing_and_writes_no_notice(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    before = await env.notices()
    for _ in range(3):
        report = await env.cycle()
        assert report.changes == () and report.exchange_calls == 1
    assert await env.notices() == before


async def test_first_sync_adopts_existing_positions_at_the_exchange_entry(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from positionbot.storage.store import Store
    from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway, default_markets
    from tests.support.tracker import HandClock, make_tracker

    clock = HandClock()
    ex = PaperExchange(default_markets(), clock=clock, marks={BTC: D("50000")})
    ex.open_position(BTC, Side.SHORT, D("0.5"), D("61234.5"))
    store = await Store.open(tmp_path / "s.db")
    tracker = make_tracker(store, PaperGateway(ex, "paper"), clock)
    await tracker.start()
    report = await tracker.run_cycle("paper")
    # markets, positions, the new record's stop and order listings (the bot's orders left on
    # the exchange are reconciled) and funding: no fill look-ups for old history
    assert report.ok and report.exchange_calls == 5
    (t,) = tracker.book.active_trades()
    assert (t.side, t.size, t.avg_entry_price, t.fees) == (Side.SHORT, D("0.5"), D("61234.5"), Decimal(0))
    await store.close()
