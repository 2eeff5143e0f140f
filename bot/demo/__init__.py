"""``positionbot demo``: the real bot on a paper exchange, chatting in the terminal.

Nothing is faked above the exchange: the tracker, the SQLite store, the scheduler, the stream
follower with its verifying poll, the notifier, the handlers and python-telegram-bot itself all
run as in production. Telegram is replaced by the console chat (a Bot API server on 127.0.0.1),
the exchange by the in-process paper exchange and its user-data stream, and the trader by a
script (``bot.demo.script``) that the person watching may interrupt with commands of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from positionbot.bot.app import build_application, start, stop
from positionbot.bot.config import AppConfig, StorageConfig, TelegramConfig, TrackerConfig
from positionbot.bot.demo.console_chat import ConsoleChat
from positionbot.bot.demo.script import OPENING_MARKS, play
from positionbot.bot.demo.session import DemoSession, DemoStalled
from positionbot.bot.notifier import DeliveryPolicy
from positionbot.bot.scheduler import Timing
from positionbot.bot.wiring import StartupError, open_runtime
from positionbot.tracker.engine.stream_follower import StreamSettings
from positionbot.tracker.exchange.paper import PaperExchange, PaperGateway, default_markets
from positionbot.tracker.exchange.paper.stream import PaperStream

ACCOUNT = "paper"
CHAT_ID = 1001
EXIT_OK, EXIT_STALLED, EXIT_STARTUP, EXIT_INTERRUPTED = 0, 1, 2, 130
EPILOGUE_LIMIT_S = 600.0  # an interactive session left open ends on its own after this
_BASE_INTERVAL_S = 1.0  # polling interval at speed 1 (while the stream is down)
_VERIFY_EVERY = 4  # the verifying poll, in intervals, while the stream is up (live: 60 s / 15 s)
Script = Callable[[DemoSession], Coroutine[Any, Any, None]]


def run_demo(speed: float, db: Path | None) -> int:
    """The command: returns the exit code (130 after Ctrl-C)."""
    return asyncio.run(play_demo(speed, db, sys.stdout, sys.stdin))


def demo_config(db_path: Path, speed: float) -> AppConfig:
    """One chat that may use the bot and receives every push; quick, scaled verification."""
    telegram = TelegramConfig(allowed_chats=[CHAT_ID], notify_chats=[CHAT_ID])
    tracker = TrackerConfig(verify_delay_seconds=0.5 / speed, cycle_timeout_seconds=30)
    return AppConfig.model_construct(
        storage=StorageConfig(path=db_path), tracker=tracker, telegram=telegram, accounts=[],
        source_path=Path("(demo)"),
    )


async def play_demo(speed: float, db: Path | None, out: TextIO, stdin: TextIO | None,
                    script: Script = play) -> int:
    """Run the session, writing the chat to ``out`` and reading typed lines from ``stdin``
    when it is a terminal. A temporary database is used (and removed) unless ``db`` is given;
    ``script`` is the trader's part (tests play shorter ones)."""
    with contextlib.ExitStack() as cleanup:
        if db is None:
            tmp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="positionbot-demo-"))
            db = Path(tmp) / "demo.db"
        try:
            return await _session(speed, db, out, stdin, script)
        except StartupError as err:
            sys.stderr.write(f"{err}\n")
            return EXIT_STARTUP


async def _session(speed: float, path: Path, out: TextIO, stdin: TextIO | None,
                   script: Script) -> int:
    # A drain still running when the next is due is skipped by design (max_instances=1); at
    # demo speeds that is routine, and APScheduler's warning about it would only be noise.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    config = demo_config(path, speed)
    exchange = PaperExchange(default_markets(),
                             marks={s: Decimal(p) for s, p in OPENING_MARKS.items()})
    gateway = PaperGateway(exchange, ACCOUNT)
    stream = PaperStream(exchange, ACCOUNT)
    interrupted = asyncio.Event()
    async with ConsoleChat(out, CHAT_ID) as chat, \
            open_runtime(config, {ACCOUNT: gateway}, streams={ACCOUNT: stream},
                         stream_settings=StreamSettings(
                             verify_interval=_VERIFY_EVERY * _BASE_INTERVAL_S / speed)) as runtime:
        application = build_application(
            config, runtime.tracker, runtime.store, base_url=chat.base_url, token=chat.token,
            poll_timeout=1,
            timing=Timing(_BASE_INTERVAL_S / speed, config.tracker.cycle_timeout_seconds,
                          watchdog_after=120.0, notify_interval=max(0.05, 0.2 / speed)),
            delivery=DeliveryPolicy(chat_interval=0.3 / speed, send_timeout=10.0),
        )
        chat.files_dir = path.parent  # the chart goes next to the database (a temporary one)
        interactive = chat.attach_keyboard(stdin) if stdin is not None else False
        session = DemoSession(chat, exchange, stream, runtime.tracker, runtime.store, ACCOUNT,
                              speed, interactive)
        with _signals_set(interrupted, chat):
            await start(application)
            try:
                code = await _perform(session, interrupted, script)
            finally:
                chat.detach_keyboard()
                await stop(application)
        if code == EXIT_INTERRUPTED:
            chat.note("Interrupted — the bot stopped cleanly.")
        return code


async def _perform(session: DemoSession, interrupted: asyncio.Event, script: Script) -> int:
    """The script, then (at a terminal) free play until /quit, Ctrl-D or Ctrl-C."""
    chat = session.chat
    finished = await _until_quit(script(session), chat)
    if interrupted.is_set():
        return EXIT_INTERRUPTED
    if chat.quit_requested.is_set():
        return EXIT_OK
    if isinstance(finished, DemoStalled):
        chat.note(f"The bot did not react as the script expected ({finished}).")
        return EXIT_STALLED
    if session.interactive and not chat.input_closed.is_set():
        chat.narrate("The script is over; the bot is still running. Keep typing commands, or "
                     "/quit (Ctrl-D) to leave.")
        await _until_quit(_idle(chat), chat)
        if interrupted.is_set():
            return EXIT_INTERRUPTED
    return EXIT_OK


async def _idle(chat: ConsoleChat) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(chat.input_closed.wait(), EPILOGUE_LIMIT_S)


async def _until_quit(work: Coroutine[Any, Any, None], chat: ConsoleChat) -> DemoStalled | None:
    """Run ``work`` until it ends or the trader quits; a stall is returned, not raised."""
    task = asyncio.ensure_future(work)
    quit_wait = asyncio.ensure_future(chat.quit_requested.wait())
    try:
        await asyncio.wait({task, quit_wait}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, quit_wait):
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pending
    if task.cancelled():
        return None
    error = task.exception()
    if isinstance(error, DemoStalled):
        return error
    if error is not None:
        raise error
    return None


@contextlib.contextmanager
def _signals_set(interrupted: asyncio.Event, chat: ConsoleChat) -> Iterator[None]:
    """Ctrl-C and SIGTERM end the session through the same clean path as /quit."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        interrupted.set()
        chat.quit_requested.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
