"""The paper venue (demo mode) refuses a crossed stop as the real exchanges do, and the bot
answers it the same way: the crossed warning, told once, placed when the price is back."""

from positionbot.tracker.engine.commands import TradeCommands
from tests.support.tracker import BTC, BUY, D, Env


async def test_a_stop_the_paper_venue_finds_crossed_is_the_crossed_warning(env: Env) -> None:
    env.exchange.manual_order(BTC, BUY, D("0.010"))
    await env.cycle()
    [trade] = env.trades()
    env.exchange.set_mark(BTC, D("47000"))  # past the stop since the bot last looked

    result = await TradeCommands(env.tracker).set_stop_loss(trade.id, D("48000"))

    assert not result.placed and result.message.startswith("stop 48000 not placed: the price is "
                                                           "already past it (")
    await env.cycle()
    env.exchange.set_mark(BTC, D("46500"))
    await env.cycle()
    assert env.exchange.open_stop_orders() == []
    assert (await env.kinds()).count("stop_loss_failed") == 1
    assert env.trades()[0].stop_loss_note.startswith("stop 48000 is already crossed (")  # type: ignore[union-attr]
    env.exchange.set_mark(BTC, D("50000"))
    await env.cycle()
    assert [o.trigger_price for o in env.exchange.open_stop_orders()] == [D("48000")]
    assert (await env.kinds())[-1] == "stop_loss_placed"
