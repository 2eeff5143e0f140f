"""Issue 11, a Confirm that cannot be answered in time: nothing is sent, the trader is told,
and the token is not spent (real PTB and real ccxt against the fakes)."""

from __future__ import annotations

from tests.support.trading import CHAT, TradingEnv

TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


async def test_a_confirm_telegram_no_longer_takes_an_answer_for_sends_nothing_and_says_so(
    env: TradingEnv,
) -> None:
    preview = await env.command("/long btc 0.010")
    data = next(d for text, d in preview.buttons if "Confirm" in text)
    env.api.fail_next("answerCallbackQuery", 400, TOO_OLD)
    env.api.press_button(CHAT, preview.message_id, data)
    await env.api.wait_for(lambda: any("too late" in m.text for m in env.api.messages(CHAT)))
    assert env.orders_sent() == 0
    assert env.current(preview).buttons  # the preview can still be confirmed
    outcome = await env.confirm(preview)
    assert outcome.text.startswith("✅ <b>Entry sent"), outcome.text
    assert len(env.sent("/fapi/v1/order")) == 1
