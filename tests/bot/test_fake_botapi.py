"""The fake Bot API itself: it must reject what Telegram rejects, or tests prove nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from positionbot.fakes.botapi_rules import ApiError, html_visible_text
from positionbot.fakes.botapi_server import FakeBotApi

# PTB itself warns when it builds a RetryAfter; the 429s here are deliberate.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.mark.parametrize("text", [
    "<b>open", "a < b", "x > y", "<b><i>x</b></i>", "</b>", "<script>x</script>", "fish & chips",
    "&nbsp;",
])
def test_malformed_html_is_rejected(text: str) -> None:
    with pytest.raises(ApiError, match="can't parse entities"):
        html_visible_text(text)


def test_wellformed_html_counts_visible_characters() -> None:
    visible = html_visible_text('<b>P&amp;L</b> <a href="https://x.y/?a=1">link</a> &lt;3 &#33;')
    assert visible == "P&L link <3 !"


async def test_sending_is_validated_like_telegram(api: FakeBotApi, ptb_bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)parse entities"):
        await ptb_bot.send_message(1, "<b>unclosed", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await ptb_bot.send_message(1, "x" * 4097)
    await ptb_bot.send_message(1, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    too_big = InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="x" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await ptb_bot.send_message(1, "hi", reply_markup=too_big)
    assert len(api.messages(1)) == 1


async def test_faults_surface_as_ptb_errors(api: FakeBotApi, ptb_bot: Bot) -> None:
    api.flood("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as flood:
        await ptb_bot.send_message(1, "x")
    assert "7" in str(flood.value)
    api.block_chat(2)
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await ptb_bot.send_message(2, "x")
    api.forget_chat(3)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await ptb_bot.send_message(3, "x")
    for mode in ("502", "drop", "refuse"):
        await api.start_outage(mode)
        with pytest.raises(NetworkError):
            await ptb_bot.send_message(1, "x")
        await api.end_outage()
    sent = await ptb_bot.send_message(1, "back")
    assert api.messages(1)[-1].message_id == sent.message_id


async def test_get_updates_honours_offset_and_long_poll(api: FakeBotApi, ptb_bot: Bot) -> None:
    api.user_message(10, "/one")
    api.user_message(10, "/two")
    first = await ptb_bot.get_updates(timeout=0)
    assert [u.message.text for u in first if u.message] == ["/one", "/two"]
    again = await ptb_bot.get_updates(offset=first[0].update_id + 1, timeout=0)
    assert [u.message.text for u in again if u.message] == ["/two"]
    assert await ptb_bot.get_updates(offset=first[1].update_id + 1, timeout=timedelta(seconds=0.2)) == ()


async def test_edits_and_callback_answers(api: FakeBotApi, ptb_bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("r", callback_data="v1|r|pos")]])
    sent = await ptb_bot.send_message(5, "one", reply_markup=markup)
    await ptb_bot.edit_message_text("two", chat_id=5, message_id=sent.message_id,
                                    reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await ptb_bot.edit_message_text("two", chat_id=5, message_id=sent.message_id,
                                        reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)not found"):
        await ptb_bot.edit_message_text("x", chat_id=5, message_id=999)
    assert api.message(5, sent.message_id).edits == 1
    query = api.press_button(5, sent.message_id, "v1|r|pos")
    await ptb_bot.answer_callback_query(query, text="ok")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await ptb_bot.answer_callback_query(query, text="twice")


TINY_PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00"
            b"\x00:~\x9bU\x00\x00\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00\x00\x00\x00IEND"
            b"\xaeB`\x82")


async def test_not_an_image_is_refused_as_telegram_does(api: FakeBotApi, ptb_bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await ptb_bot.send_photo(8, photo=b"\x89PNG fake")
    assert api.messages(8) == []


async def test_photos_and_chat_actions(api: FakeBotApi, ptb_bot: Bot) -> None:
    await ptb_bot.send_chat_action(8, "typing")
    sent = await ptb_bot.send_photo(8, photo=TINY_PNG, caption="<b>chart</b>",
                                    parse_mode=ParseMode.HTML)
    assert sent.photo and (sent.photo[-1].width, sent.photo[-1].height) == (1, 1)
    [message] = api.messages(8)
    assert message.photo and message.text == "<b>chart</b>"
    with pytest.raises(BadRequest, match=r"(?i)parse entities"):
        await ptb_bot.send_photo(8, photo=b"x", caption="<i>open", parse_mode=ParseMode.HTML)
