"""The demo's terminal keyboard goes through prompt_toolkit (which keeps the line being typed
intact while messages print above it): typed lines reach the chat, Ctrl-D ends the input."""

from __future__ import annotations

import asyncio
import io

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from positionbot.bot.demo.console_chat import ConsoleChat
from positionbot.bot.demo.console_prompt import KeyboardPrompt


async def test_typed_lines_reach_the_chat_and_ctrl_d_ends_the_input() -> None:
    out = io.StringIO()
    chat = ConsoleChat(out, 4242, ansi=False)
    with create_pipe_input() as keys:
        chat.attach_prompt(KeyboardPrompt(chat, input=keys, output=DummyOutput()))
        keys.send_text("/quit\r")
        await asyncio.wait_for(chat.quit_requested.wait(), 5)
        keys.send_text("\x04")  # Ctrl-D on an empty line
        await asyncio.wait_for(chat.input_closed.wait(), 5)
    chat.detach_keyboard()
    chat.narrate("printed after the prompt ended")
    assert "printed after the prompt ended" in out.getvalue()  # the chat prints to its own out again
