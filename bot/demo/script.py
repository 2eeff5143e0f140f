"""The demo's trading session: under a minute of mixed manual and bot trading at speed 1.

Each act is followed by the bot's real reaction, pushed from the exchange's stream the moment
it happens; pauses (scaled by ``--speed``) leave time to read. Every push kind the bot has for a
trader's day shows up at least once, and the script waits for each push it narrates.
"""

from __future__ import annotations

from positionbot.bot.demo.session import DemoSession
from positionbot.tracker.core.models import NoticeKind, Side

BTC, ETH, SOL, DOGE = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "DOGE/USDT:USDT"
OPENING_MARKS = {BTC: "60000", ETH: "3000", SOL: "150", DOGE: "0.16"}
READ = 2.5  # seconds to read a push at speed 1
(OPENED, INCREASED, DECREASED, CLOSED, FLIPPED, SL_PLACED, SL_CLEARED, SL_HIT, PENDING_CANCELLED,
 UNREACHABLE, RECOVERED) = (
    NoticeKind.OPENED, NoticeKind.INCREASED, NoticeKind.DECREASED, NoticeKind.CLOSED,
    NoticeKind.FLIPPED, NoticeKind.STOP_LOSS_PLACED, NoticeKind.STOP_LOSS_CLEARED,
    NoticeKind.STOP_LOSS_HIT, NoticeKind.PENDING_CANCELLED, NoticeKind.EXCHANGE_UNREACHABLE,
    NoticeKind.EXCHANGE_RECOVERED)


def intro(interactive: bool) -> str:
    how = ("Type along at any time: /positions, /sync, /status, /history, /sl BTC 58000 ...,\n"
           "or a button's number to press that button. /quit leaves."
           if interactive else "Input is not a terminal, so the session plays on its own.")
    return (
        "positionbot demo — a scripted trading session on a paper exchange (BTC, ETH, SOL and "
        "DOGE\nperpetuals with Binance's rules), tracked by the real bot: the same tracker, "
        "database and\nmessages as in production. Everything under 🤖 PositionBot is exactly "
        "what Telegram would\nshow; [1] [2] ... are its buttons.\n" + how
    )


async def play(s: DemoSession) -> None:
    await s.say(intro(s.interactive))
    await s.drained()
    await s.pause(READ)

    await s.say("You buy 0.010 BTC at market in the exchange app (BTC 60,000). The bot is not "
                "involved —\nthe exchange's stream tells it the moment the order fills.")
    s.buy(BTC, "0.010")
    await s.pushed(OPENED)
    await s.pause(READ)

    await s.say("From the chat, you protect it with a stop loss:")
    await s.type("/sl BTC 58000")
    await s.pause(READ)

    await s.say("BTC climbs to 60,600 and you add 0.005 by hand. Watch the weighted average "
                "entry;\nthe bot also resizes the stop order to the new size.")
    s.mark(BTC, "60600")
    s.buy(BTC, "0.005")
    await s.pushed(INCREASED)
    await s.pause(READ)

    await s.say("ETH: you short 0.50 at 3,000 by hand.")
    s.sell(ETH, "0.50")
    await s.pushed(OPENED)
    await s.pause(READ - 1)

    await s.say("ETH dips to 2,950 and you buy back 0.20: a partial close, with its own "
                "realized P&L.")
    s.mark(ETH, "2950")
    s.buy(ETH, "0.20", reduce_only=True)
    await s.pushed(DECREASED)
    await s.pause(READ)

    await s.say("You change your mind: buy 0.80 ETH at 2,970 — the 0.30 short becomes a 0.50 "
                "long.")
    s.mark(ETH, "2970")
    s.buy(ETH, "0.80")
    await s.pushed(FLIPPED)
    await s.pause(READ)

    await s.say("ETH rallies to 3,010 and you sell the long by hand.")
    s.mark(ETH, "3010")
    s.sell(ETH, "0.50", reduce_only=True)
    await s.pushed(CLOSED)
    await s.pause(READ)

    await s.say("Now the bot trades: a limit buy of 10 SOL at 148 with a stop loss at 144, as "
                "a confirmed\n/long SOL 10 @148 sl 144 places it. SOL trades at 150, so the "
                "order rests.")
    await s.bot_entry(SOL, Side.LONG, "10", "148", "144")
    await s.say("And a second bot entry: 1,000 DOGE at 0.15 (DOGE is at 0.16).")
    doge = await s.bot_entry(DOGE, Side.LONG, "1000", "0.15", "0.14")
    await s.type("/positions")
    await s.pause(READ)

    await s.say("SOL dips to 147.90: the bot's limit order fills, the pending trade becomes a "
                "position,\nand its stop loss goes on the exchange.")
    s.mark(SOL, "147.90")
    await s.pushed(OPENED, SL_PLACED)
    await s.pause(READ)

    await s.say("You cancel the DOGE order by hand in the exchange app. The bot sees a pending "
                "entry\nwhose order is gone and no position: a ghost trade, so it cancels it.")
    s.cancel_by_hand(doge.entry_order_id or "")
    await s.pushed(PENDING_CANCELLED)
    await s.pause(READ)

    await s.say("The exchange has a bad minute: its stream drops, so the bot polls, and the "
                "next three\nrequests fail with 503. One alert, then one \"reachable again\" "
                "— not a flood, and\nno position is taken for closed meanwhile.")
    s.outage(3)
    s.mark(BTC, "60900")
    await s.pushed(UNREACHABLE, RECOVERED)
    await s.pause(READ)

    await s.say("BTC has come back to 60,900 meanwhile. You ask for the book; prices come with "
                "the bot's\nverifying poll (streams report trades, not prices). At 60,950 you "
                "tap Refresh —\nthe listing is edited in place, not sent again.")
    await s.type("/positions")
    await s.pause(READ - 1)
    s.mark(BTC, "60950")
    await s.synced()
    await s.press("Refresh")
    await s.pause(READ)

    await s.say("BTC slides: 59,500 … 58,600 … 57,900. Your stop at 58,000 fires on the "
                "exchange.")
    for price in ("59500", "58600"):
        s.mark(BTC, price)
        await s.pause(1)
    s.mark(BTC, "57900")
    await s.pushed(SL_HIT)
    await s.pause(READ)

    await s.say("SOL recovers to 150.50 and you take profit by hand; the bot cancels the stop "
                "order\nit no longer needs.")
    s.mark(SOL, "150.50")
    s.sell(SOL, "10", reduce_only=True)
    await s.pushed(CLOSED, SL_CLEARED)
    await s.pause(READ)

    await s.say("Anything else out there? /sync runs a cycle now and reports it.")
    await s.type("/sync")
    await s.pause(READ - 1)
    await s.type("/history")
    await s.pause(READ)
    await s.type("/status")
    await s.pause(READ - 1)

    await s.say("How did the session go? /pnl sums it up — price, fees and funding — and "
                "📈 Chart draws it.")
    await s.type("/pnl")
    shown = s.chat.shown
    await s.press("Chart")
    await s.until(lambda: s.chat.shown > shown, "the chart")
    await s.pause(READ)

    await s.say("That was the whole loop: every change pushed with exact figures, stop losses "
                "managed,\nghost entries cleaned up, outages reported once. To run it on your own "
                "account, see\n\"Going live\" in README.md.")
