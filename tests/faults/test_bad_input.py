"""Bad input, fuzzed end to end: typed commands and button presses go through the fake Bot API
into the real python-telegram-bot application, with a trade open on the exchange.

For every input: no handler fails (the error handler logs nothing, nothing logs a traceback),
the sender always gets an answer (a reply, or the button press answered), and nothing reaches
the exchange's order endpoints — except a well-formed stop-loss request, whose reply then says
what was placed or cleared.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from positionbot.bot import callbacks
from positionbot.bot.app import stop
from positionbot.fakes.botapi_rules import SentMessage
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store
from positionbot.tracker.core.models import Order, Side
from positionbot.tracker.exchange.paper import PaperGateway
from tests.support.telegram import BTC, CHAT, BotEnv, make_env, open_position

COMMANDS = ("/sl", "/positions", "/history", "/sync", "/status", "/long", "/short", "/close",
            "/cancel")
WORDS = ("BTC", "btc", "ETH", "DOGE", "BTC/USDT:USDT", "main", "all", "off", "none", "-2%",
         "+2%", "2%", "0%", "100%", "-", "%", "0", "1", "58000", "60000", "61000", "1e9", "1e-9",
         "NaN", "inf", "-1", "0.5", ".5", "5.", "1,000", "0x10", "market", "limit", "@", "<b>",
         "&amp;", "sl=1", "🚀", "x" * 40)
SAFE_TEXT = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=24)
ARGUMENT = st.one_of(st.sampled_from(WORDS), SAFE_TEXT,
                     st.decimals(allow_nan=False, allow_infinity=False).map(str))
CALLBACK_PARTS = st.one_of(
    st.sampled_from(("v1", "v2", "r", "l", "s", "sl", "ss", "c", "ok", "no", "pk", "pos", "main",
                     "*", "1", "2", "999999999999", "0", "off", "58000", "0.5", "-1", "",
                     "AAAAAAAAAAAA", "a" * 30)),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=10))
CALLBACK_DATA = st.one_of(st.text(st.characters(blacklist_categories=["Cs"]), max_size=80),
                          st.lists(CALLBACK_PARTS, min_size=1, max_size=5).map("|".join))
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
ACKNOWLEDGED = ("🛡", "🧹")  # a stop placed or cleared, as the reply says


class CountingGateway(PaperGateway):
    """The paper gateway, remembering every call that would hit an order endpoint."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.order_calls: list[str] = []

    async def place_stop_loss(self, *args: object, **kwargs: object) -> Order:
        self.order_calls.append("place_stop_loss")
        return await super().place_stop_loss(*args, **kwargs)  # type: ignore[arg-type]

    async def place_entry(self, *args: object, **kwargs: object) -> Order:
        self.order_calls.append("place_entry")
        return await super().place_entry(*args, **kwargs)  # type: ignore[arg-type]

    async def place_reduce(self, *args: object, **kwargs: object) -> Order:
        self.order_calls.append("place_reduce")
        return await super().place_reduce(*args, **kwargs)  # type: ignore[arg-type]

    async def cancel_order(self, *args: object, **kwargs: object) -> None:
        self.order_calls.append("cancel_order")
        await super().cancel_order(*args, **kwargs)  # type: ignore[arg-type]


class Fuzzed:
    def __init__(self, env: BotEnv, caplog: pytest.LogCaptureFixture) -> None:
        self.env = env
        self.caplog = caplog
        gateway = env.tracker.gateway("main")
        assert isinstance(gateway, CountingGateway)
        self.gateway = gateway

    async def idle(self) -> None:
        """Until every update fetched so far has been handled to the end."""
        processor = self.env.app.update_processor
        await self.env.api.wait_for(lambda: processor.current_concurrent_updates == 0
                                    and self.env.app.update_queue.empty())

    def failures(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.caplog.records
                if r.levelno >= logging.ERROR or r.exc_info is not None]


@pytest.fixture
async def fuzzed(api: FakeBotApi, store: Store,
                 caplog: pytest.LogCaptureFixture) -> AsyncIterator[Fuzzed]:
    env = await make_env(api, store, gateway_type=CountingGateway)
    open_position(env.exchange, BTC, Side.LONG, "0.010", "60000")
    await env.cycle()
    caplog.set_level(logging.INFO)
    yield Fuzzed(env, caplog)
    await stop(env.app)


@FUZZ
@given(command=st.sampled_from(COMMANDS), args=st.lists(ARGUMENT, max_size=4),
       glue=st.sampled_from((" ", "  ", "\n", "\t")))
async def test_any_command_text_gets_a_reply_and_sends_no_order(
    fuzzed: Fuzzed, command: str, args: list[str], glue: str,
) -> None:
    text = glue.join([command, *args])
    api, before = fuzzed.env.api, len(fuzzed.gateway.order_calls)
    replies = len(api.messages(CHAT))
    api.user_message(CHAT, text)
    await api.wait_for_messages(CHAT, replies + 1)
    await fuzzed.idle()

    reply: SentMessage = api.messages(CHAT)[replies]
    assert reply.text.strip(), text
    assert fuzzed.failures() == [], text
    sent = fuzzed.gateway.order_calls[before:]
    event("an order call" if sent else "no order call")
    if sent:
        assert command == "/sl" and reply.text.startswith(ACKNOWLEDGED), (text, sent, reply.text)


@FUZZ
@given(data=CALLBACK_DATA)
async def test_any_button_data_is_answered_and_sends_no_order(fuzzed: Fuzzed, data: str) -> None:
    api, before = fuzzed.env.api, len(fuzzed.gateway.order_calls)
    listing = await _a_listing(fuzzed)
    query = api.press_button(CHAT, listing.message_id, data)
    answer = await api.wait_for_answer(query)
    await fuzzed.idle()

    assert fuzzed.failures() == [], data
    sent = fuzzed.gateway.order_calls[before:]
    event("an order call" if sent else "no order call")
    if sent:
        pressed = callbacks.decode(data)
        assert pressed is not None and pressed.action is callbacks.Action.STOP_SET, (data, sent)
        assert answer.get("text") in ("Setting the stop loss…", "Removing the stop…")
        assert api.messages(CHAT)[-1].text.startswith(ACKNOWLEDGED), data


async def _a_listing(fuzzed: Fuzzed) -> SentMessage:
    """The newest /positions listing in the chat (buttons are pressed on a real message)."""
    api = fuzzed.env.api
    for message in reversed(api.messages(CHAT)):
        if any(data == callbacks.refresh_positions() for _, data in message.buttons):
            return message
    return await fuzzed.env.command("/positions")


async def test_the_fuzzed_exchange_is_untouched_by_a_refused_stop(fuzzed: Fuzzed) -> None:
    """The oracle above can fail: a stop above the mark is refused before any order call."""
    reply = await fuzzed.env.command("/sl BTC 61000")
    await fuzzed.idle()
    assert reply.text.startswith("⚠️") and fuzzed.gateway.order_calls == []
    placed = await fuzzed.env.command("/sl BTC 58000")
    assert placed.text.startswith("🛡") and fuzzed.gateway.order_calls == ["place_stop_loss"]
    assert fuzzed.env.exchange.open_stop_orders()[0].trigger_price == Decimal("58000")
