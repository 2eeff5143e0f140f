"""The demo's keyboard on a terminal, through prompt_toolkit: the line being typed stays intact
(and editable) while the bot's messages print above it, instead of being torn apart by them."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TYPE_CHECKING

from prompt_toolkit import PromptSession
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout

if TYPE_CHECKING:
    from positionbot.bot.demo.console_chat import ConsoleChat

PROMPT = "› "


class KeyboardPrompt:
    """Reads typed lines into ``chat`` until end of input (Ctrl-D) or ``stop``."""

    def __init__(self, chat: ConsoleChat, *, input: Input | None = None,
                 output: Output | None = None) -> None:
        self._chat = chat
        self._session: PromptSession[str] = PromptSession(input=input, output=output)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="demo-keyboard")

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def _loop(self) -> None:
        chat = self._chat
        with patch_stdout(raw=True):  # the chat's prints go above the prompt line
            previous = chat.redirect(sys.stdout)
            try:
                while True:
                    try:
                        line = await self._session.prompt_async(PROMPT)
                    except (EOFError, KeyboardInterrupt):
                        chat.input_closed.set()
                        return
                    chat.handle_line(line)
            finally:
                with contextlib.suppress(Exception):
                    chat.redirect(previous)
