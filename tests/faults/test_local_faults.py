"""Local faults: a full disk or a database locked by someone else fails the cycle clearly,
changes nothing, corrupts nothing, and the next cycle after the fault catches up exactly once."""

import sqlite3

from tests.support.tracker import BTC, BUY, D, Env


def integrity(env: Env) -> str:
    with sqlite3.connect(env.path) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


async def test_disk_full_fails_the_cycle_then_recovers_without_duplicates(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    db = env.store._db  # the store's own connection: the only way to cap its file size
    assert db is not None
    pages = (await (await db.execute("PRAGMA page_count")).fetchone())[0]  # type: ignore[index]
    await db.execute(f"PRAGMA max_page_count = {pages}")
    for _ in range(200):  # events and notices keep coming until the file is full
        env.exchange.manual_order("ETH/USDT:USDT", BUY, D("0.010"))
        env.clock.advance(15)
        report = await env.tracker.run_cycle("paper")
        if not report.ok:
            break
    assert not report.ok and "database error" in report.errors[0]
    assert "full" in report.errors[0]
    await db.execute("PRAGMA max_page_count = 1073741823")
    await env.cycle()
    await env.cycle()
    assert sorted(t.symbol for t in env.trades()) == [BTC, "ETH/USDT:USDT"]
    eth = next(t for t in env.trades() if t.symbol == "ETH/USDT:USDT")
    assert eth.size == {p.symbol: p.size for p in env.exchange.positions()}[eth.symbol]
    kinds = await env.kinds()
    events = await env.store.events_for_trade(eth.id)
    assert kinds.count("increased") == sum(e.kind == "increased" for e in events)
    assert integrity(env) == "ok"


async def test_database_locked_by_another_writer_fails_clearly_then_recovers(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    other = sqlite3.connect(env.path, timeout=0.1, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # e.g. a backup tool holding a write lock
        await env.store._db.execute("PRAGMA busy_timeout = 200")  # type: ignore[union-attr]
        env.clock.advance(15)
        report = await env.tracker.run_cycle("paper")
        assert not report.ok and "locked" in report.errors[0]
        assert env.trades() == []
    finally:
        other.rollback()
        other.close()
    await env.cycle()
    assert [t.symbol for t in env.trades()] == [BTC]
    assert await env.kinds() == ["opened"]
    assert integrity(env) == "ok"
