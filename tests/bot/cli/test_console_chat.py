"""The console chat as python-telegram-bot sees it: a Bot API server that prints what it gets."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken

from positionbot.bot.demo.console_chat import ConsoleChat
from positionbot.bot.demo.console_render import terminal_text

CHAT = 77
KEYBOARD = InlineKeyboardMarkup([
    [InlineKeyboardButton("🔄 Refresh", callback_data="v1|r|pos"),
     InlineKeyboardButton("⟳ Sync now", callback_data="v1|s|*")],
    [InlineKeyboardButton("Docs", url="https://example.com/docs")],
])


@pytest.fixture
async def chat() -> AsyncIterator[ConsoleChat]:
    async with ConsoleChat(io.StringIO(), CHAT, ansi=False) as running:
        yield running


@pytest.fixture
async def bot(chat: ConsoleChat) -> AsyncIterator[Bot]:
    async with Bot(chat.token, base_url=chat.base_url) as connected:
        yield connected


def printed(chat: ConsoleChat) -> str:
    out = chat._out
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def test_html_becomes_terminal_text() -> None:
    html = "<b>BTC</b> &lt;long&gt; <i>est.</i> <code>42</code> P&amp;L"
    assert terminal_text(html, ansi=False) == "BTC <long> est. 42 P&L"
    styled = terminal_text(html, ansi=True)
    assert styled.startswith("\x1b[0;1mBTC\x1b[0m <long> \x1b[0;3mest.\x1b[0m")
    assert terminal_text("<b>open <i>both", ansi=True).endswith("\x1b[0m")  # never left styled


async def test_a_message_with_buttons_is_printed_as_numbered_choices(
    chat: ConsoleChat, bot: Bot,
) -> None:
    sent = await bot.send_message(CHAT, "🆕 <b>Opened</b> · BTC", parse_mode=ParseMode.HTML,
                                  reply_markup=KEYBOARD, disable_notification=True)
    assert sent.text == "🆕 Opened · BTC"  # Telegram returns the visible text
    assert printed(chat) == (
        "🤖 PositionBot · 🔕 silent\n"
        "   🆕 Opened · BTC\n"
        "   [1] 🔄 Refresh   [2] ⟳ Sync now\n"
        "   [3] Docs\n\n"
    )


async def test_typed_text_and_numbers_become_updates(chat: ConsoleChat, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "listing", reply_markup=KEYBOARD)
    chat.handle_line("/sl BTC 58000\n")
    chat.handle_line("2")
    chat.handle_line("3")  # a URL button: nothing to press
    chat.handle_line("9")
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["/sl BTC 58000"]
    command = updates[0].message
    assert command is not None and command.entities[0].type == "bot_command"
    query = updates[1].callback_query
    assert query is not None and query.data == "v1|s|*"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert len(updates) == 2
    out = printed(chat)
    assert "🧑 you: [2] ⟳ Sync now\n" in out
    assert "([3] Docs is a link; nothing to press here.)" in out
    assert "(There is no button [9] on the latest message.)" in out
    await bot.answer_callback_query(query.id, "Syncing…")
    assert chat.answered(query.id)
    assert printed(chat).endswith("   💬 Syncing…\n\n")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)


async def test_edits_are_printed_and_unchanged_edits_refused(chat: ConsoleChat, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "mark 60000", reply_markup=KEYBOARD)
    await bot.edit_message_text("mark 60100", CHAT, sent.message_id, reply_markup=KEYBOARD)
    assert f"🤖 PositionBot · ✏️ edited message #{sent.message_id}\n   mark 60100\n" in printed(chat)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("mark 60100", CHAT, sent.message_id, reply_markup=KEYBOARD)
    assert chat.shown == 2
    assert printed(chat).count("mark 60100") == 1  # the refused edit printed nothing


async def test_other_chats_and_tokens_are_refused(chat: ConsoleChat, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(CHAT + 1, "hello")
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=chat.base_url):
            pass
    assert printed(chat) == ""


async def test_quit_words_request_the_end(chat: ConsoleChat) -> None:
    chat.handle_line("   ")
    assert not chat.quit_requested.is_set()
    chat.handle_line("/quit")
    assert chat.quit_requested.is_set()
