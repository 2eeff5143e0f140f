"""``positionbot demo`` as a user runs it: a subprocess, with and without a terminal."""

from __future__ import annotations

import io
import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from positionbot.bot.demo import ACCOUNT, play_demo
from positionbot.bot.demo.script import BTC
from positionbot.bot.demo.session import DemoSession
from positionbot.tracker.core.models import NoticeKind

ROOT = Path(__file__).resolve().parents[3]
# What the script promises to show, as the chat renders it (header line of each push).
PROMISED_PUSHES = (
    "🚀 PositionBot started · paper",
    "🆕 Opened · BTC/USDT:USDT 🟢 LONG",
    "➕ Increased · BTC/USDT:USDT 🟢 LONG",
    "🆕 Opened · ETH/USDT:USDT 🔴 SHORT",
    "➖ Decreased · ETH/USDT:USDT 🔴 SHORT",
    "🔄 Flipped · ETH/USDT:USDT 🔴 SHORT",
    "🏁 Closed · ETH/USDT:USDT 🟢 LONG",
    "🆕 Opened · SOL/USDT:USDT 🟢 LONG",
    "🛡 Stop loss placed · SOL/USDT:USDT 🟢 LONG",
    "🚫 Pending entry cancelled · DOGE/USDT:USDT 🟢 LONG",
    "🔌 Exchange unreachable · paper",
    "🔗 Exchange reachable again · paper",
    "🛑 Stop loss hit · BTC/USDT:USDT 🟢 LONG",
    "🏁 Closed · SOL/USDT:USDT 🟢 LONG",
    "🧹 Stop loss cleared · SOL/USDT:USDT 🟢 LONG",
)


def demo_env(tmp: Path) -> dict[str, str]:
    """The environment with a private TMPDIR, to see what the demo leaves behind."""
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp)}


def run_demo(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "positionbot", "demo", *args], cwd=ROOT, env=demo_env(tmp),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
    )


def test_demo_plays_to_the_end_and_shows_every_push_it_promises(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_demo("--speed", "50", tmp=tmp_path / "tmp")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60
    out = result.stdout
    assert "Input is not a terminal, so the session plays on its own." in out
    for header in PROMISED_PUSHES:
        assert f"🤖 PositionBot\n   {header}\n" in out, header
    # Exact figures: the weighted average entry and the realized P&L of the partial close.
    assert "Avg entry 60200.0 · SL 58000.0" in out  # (60000 * 0.010 + 60600 * 0.005) / 0.015
    assert "P&L +9.76 USDT · fees 0.24 USDT" in out  # (3000 - 2950) * 0.2 - 0.236 in fees
    assert "Reason: entry order cancelled on the exchange" in out
    # Commands typed by the script get the bot's replies; buttons are numbered choices.
    assert "🧑 you: /sl BTC 58000\n" in out
    assert "stop loss placed at 58000.0 for 0.010" in out
    # /sl answers once: the reply, not the reply and then a push saying the same
    assert "🛡 Stop loss placed · BTC/USDT:USDT" not in out
    assert "🧑 you: /positions\n" in out
    assert "⏳ SOL/USDT:USDT 🟢 LONG pending · limit 148.00" in out
    assert "   [1] 🛑 Stop loss   [2] ✖ Close\n   [3] 📊 Positions   [4] ⟳ Sync now\n" in out
    assert "🧑 you: [5] 🔄 Refresh\n" in out
    assert "🤖 PositionBot · ✏️ edited message #" in out
    assert "🧑 you: /sync\n" in out and "No changes." in out
    assert "📜 History · last 5" in out
    assert "ℹ️ Status · positionbot" in out
    # the bot followed the paper exchange's stream, which the scripted outage dropped once
    assert "stream connected · last event" in out and "1 reconnect today" in out
    assert "🧑 you: /pnl\n" in out and "📊 P&L · today" in out and "win rate 75.00%" in out
    assert "🧑 you: [5] 📈 Chart\n" in out and "pnl-chart.png" in out  # sent with sendPhoto
    assert out.rstrip().endswith('see\n  "Going live" in README.md.')
    assert "\x1b[" not in out  # no terminal styling in piped output
    # the scripted outage raises the one alert it narrates; nothing else is logged as an error
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert "Traceback" not in result.stderr
    assert len(errors) == 1 and "alert: paper unreachable after 3 failed cycles" in errors[0]
    assert list((tmp_path / "tmp").iterdir()) == []  # the temporary database is gone


async def test_a_change_made_by_hand_is_pushed_from_the_stream_not_after_a_cycle(
        tmp_path: Path) -> None:
    """At speed 0.25 the demo polls every 4 s and verifies every 16 s while its stream is up:
    a push within a second of the act came from the stream, with no cycle in between."""
    waits: list[tuple[float, int]] = []

    async def timed(s: DemoSession, act: Callable[[], object], kind: NoticeKind) -> None:
        cycles, started = s.tracker.cycles_completed, time.monotonic()
        act()
        await s.pushed(kind)
        waits.append((time.monotonic() - started, s.tracker.cycles_completed - cycles))

    async def script(s: DemoSession) -> None:
        await s.drained()  # the startup push
        await s.until(lambda: s.tracker.streams[ACCOUNT].connected, "the stream")
        await s.pause(0.5)  # (past the chat's pacing of 1.2 s at this speed)
        await timed(s, lambda: s.buy(BTC, "0.010"), NoticeKind.OPENED)
        await s.pause(0.5)
        await timed(s, lambda: s.sell(BTC, "0.010", reduce_only=True), NoticeKind.CLOSED)

    out = io.StringIO()
    assert await play_demo(0.25, tmp_path / "demo.db", out, None, script) == 0
    assert "🆕 Opened · BTC/USDT:USDT" in out.getvalue()
    assert "🏁 Closed · BTC/USDT:USDT" in out.getvalue()
    assert [cycles for _, cycles in waits] == [0, 0]
    assert all(seconds < 1.0 for seconds, _ in waits), waits


def test_db_option_keeps_the_session_in_that_database(tmp_path: Path) -> None:
    db = tmp_path / "kept" / "demo.db"
    result = run_demo("--speed", "50", "--db", str(db), tmp=tmp_path / "tmp")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as conn:
        trades = conn.execute(
            "SELECT symbol, side, status, source, close_reason FROM trades ORDER BY id").fetchall()
        undelivered = conn.execute(
            "SELECT COUNT(*) FROM notifications WHERE status != 'sent'").fetchone()[0]
        events = conn.execute("SELECT COUNT(*) FROM position_events").fetchone()[0]
    assert trades == [
        ("BTC/USDT:USDT", "long", "position_closed", "external", "stop_loss"),
        ("ETH/USDT:USDT", "short", "position_closed", "external", "flipped"),
        ("ETH/USDT:USDT", "long", "position_closed", "external", "closed"),
        ("SOL/USDT:USDT", "long", "position_closed", "bot", "closed"),
        ("DOGE/USDT:USDT", "long", "cancelled", "bot", "entry order cancelled on the exchange"),
    ]
    assert undelivered == 0
    assert events >= 9
    assert list((tmp_path / "tmp").iterdir()) == []


def read_until(stream: int, seen: bytearray, fragment: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while fragment.encode() not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"{fragment!r} not shown in {within}s; got:\n{seen.decode()}")
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            chunk = os.read(stream, 65536)
            if not chunk:
                raise AssertionError(f"output ended before {fragment!r}:\n{seen.decode()}")
            seen.extend(chunk)


def test_ctrl_c_stops_the_demo_cleanly(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "positionbot", "demo", "--speed", "3"], cwd=ROOT,
        env=demo_env(tmp_path / "tmp"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    seen = bytearray()
    try:
        read_until(process.stdout.fileno(), seen, "🆕 Opened · BTC/USDT:USDT")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 130
    finally:
        process.kill()
    seen.extend(process.stdout.read())
    assert seen.decode().rstrip().endswith("(Interrupted — the bot stopped cleanly.)")
    assert "Traceback" not in process.stderr.read().decode()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_trader_at_a_terminal_types_commands_and_presses_buttons(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "positionbot", "demo"], cwd=ROOT, env=demo_env(tmp_path / "tmp"),
        stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    os.close(terminal)
    assert process.stdout is not None
    out = process.stdout.fileno()
    seen = bytearray()
    try:
        read_until(out, seen, "/quit leaves.")
        read_until(out, seen, "🚀 PositionBot started")
        os.write(controller, b"/help\n")
        read_until(out, seen, "keeps your positions true to the exchange")
        os.write(controller, b"/nonsense\n")
        read_until(out, seen, "I don't know that command.")
        os.write(controller, b"/positions\n")
        read_until(out, seen, "🔄 Refresh")
        os.write(controller, b"99\n")
        read_until(out, seen, "(There is no button [99] on the latest message.)")
        os.write(controller, b"/quit\n")
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
        os.close(controller)
    assert "\x1b[" not in seen.decode()  # stdout is a pipe here, so no styling
