"""Lifecycle pushes and systemd's notify protocol, on ``positionbot run`` as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from positionbot.bot.cli import main
from positionbot.bot.lifecycle import SystemdNotifier
from positionbot.fakes.botapi_server import FakeBotApi
from tests.support.ops import CHAT, Launcher, NotifySocket


def _texts(api: FakeBotApi) -> list[str]:
    return [m.text for m in api.messages(CHAT)]


async def _wait_for_state(notify: NotifySocket, state: str, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not any(state in s for s in notify.poll()):
        assert asyncio.get_running_loop().time() < deadline, f"no {state} in {notify.states}"
        await asyncio.sleep(0.05)


async def _metric(port: int, name: str, labels: dict[str, str]) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as reply:
        text = await reply.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"{name}{labels} not in /metrics")


async def test_sigterm_pushes_stopped_with_the_reason_and_tells_systemd(
    launcher: Launcher, api: FakeBotApi, notify_socket: NotifySocket,
) -> None:
    bot = await launcher.start(notify=notify_socket, metrics=True)
    await api.wait_for(lambda: any("PositionBot started" in t for t in _texts(api)), within=30)
    await _wait_for_state(notify_socket, "READY=1")
    await _wait_for_state(notify_socket, "WATCHDOG=1")  # pinged by completed cycles
    assert bot.metrics_port is not None
    async with aiohttp.ClientSession() as http, \
            http.get(f"http://127.0.0.1:{bot.metrics_port}/healthz") as reply:
        assert reply.status == 200, await reply.text()
        verdict = json.loads(await reply.text())
    assert verdict["accounts"]["main"]["ok"] is True
    cycles = await _metric(bot.metrics_port, "positionbot_cycles_total", {"account": "main", "result": "ok"})
    assert cycles >= 1

    log = await bot.stop(signal.SIGTERM)
    assert bot.process.returncode == 0, log[-2000:]
    stopped = [t for t in _texts(api) if "PositionBot stopped" in t]
    assert len(stopped) == 1 and "SIGTERM" in stopped[0], _texts(api)
    assert "open trades are not watched" in stopped[0].lower()
    assert any(s.startswith("STOPPING=1") for s in notify_socket.poll())
    assert any(json.loads(line).get("msg", "").startswith("shutting down: SIGTERM")
               for line in log.splitlines() if line.startswith("{"))


async def test_a_start_after_a_kill_says_the_last_stop_was_unclean(
    launcher: Launcher, api: FakeBotApi,
) -> None:
    first = await launcher.start()
    await api.wait_for(lambda: sum("PositionBot started" in t for t in _texts(api)) == 1, within=30)
    assert "unclean stop" not in _texts(api)[0]
    first.process.kill()
    await first.process.wait()

    second = await launcher.start()  # (the killed run may have left its last push to resend)
    await api.wait_for(lambda: any("unclean stop" in t for t in _texts(api)), within=30)
    starts = [t for t in _texts(api) if "PositionBot started" in t]
    assert sum("unclean stop" in t for t in starts) == 1
    await second.stop(signal.SIGINT)
    assert second.process.returncode == 0
    assert "SIGINT" in next(t for t in _texts(api) if "PositionBot stopped" in t)


def test_a_configuration_error_exits_with_2(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text('[tracker]\ninterval_seconds = "soon"\n')
    assert main(["run", "-c", str(bad)]) == 2
    assert main(["check-config", "-c", str(bad)]) == 2


def test_sd_notify_reaches_an_abstract_socket_and_is_silent_without_one() -> None:
    name = f"positionbot-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        listener.settimeout(5)
        notifier = SystemdNotifier("@" + name)
        try:
            assert notifier.ready() and notifier.watchdog() and notifier.stopping("SIGTERM received")
            states = [listener.recv(256).decode() for _ in range(3)]
        finally:
            notifier.close()
    assert states == ["READY=1\nSTATUS=tracking", "WATCHDOG=1",
                      "STOPPING=1\nSTATUS=stopping: SIGTERM received"]
    assert SystemdNotifier("").ready() is False  # not under systemd: nothing sent, no error
    gone = SystemdNotifier("@positionbot-nobody-listens")
    assert gone.watchdog() is False  # the manager went away: logged once, never raised
    gone.close()
