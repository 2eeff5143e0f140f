"""check-config tells the truth at once: placeholder ids, muted stop-loss pushes, and every
problem of a file in one run."""

from __future__ import annotations

from pathlib import Path

import pytest

from positionbot.bot.cli import main

BASE = """
[telegram]
token_env = "PB_TRUTH_TOKEN"
allowed_chats = [{chat}]
notify_chats = [{chat}]
{extra}

[[accounts]]
name = "main"
exchange = "binanceusdm"
api_key_env = "PB_TRUTH_KEY"
secret_env = "PB_TRUTH_SECRET"
"""


def _check(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> tuple[int, str]:
    config = tmp_path / "config.toml"
    config.write_text(text)
    code = main(["check-config", "-c", str(config)])
    return code, capsys.readouterr().err


def test_placeholder_ids_and_muted_stop_loss_pushes_are_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("PB_TRUTH_TOKEN", "PB_TRUTH_KEY", "PB_TRUTH_SECRET"):
        monkeypatch.setenv(name, "set")
    extra = ('[telegram.notifications]\nstop_loss_hit = "off"\nincreased = "silent"\n'
             '[telegram.chats.123456789]\nnotifications = { stop_loss_failed = "silent" }\n')
    code, err = _check(tmp_path, capsys, BASE.format(chat=123456789, extra=extra))
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert sum("123456789 is the example's placeholder" in w for w in warnings) == 2
    assert any("telegram.notifications.stop_loss_hit" in w and "off mutes" in w for w in warnings)
    assert any("stop_loss_failed" in w and "silent mutes" in w for w in warnings)
    assert not any("increased" in w for w in warnings)

    code, err = _check(tmp_path, capsys, BASE.format(chat=4242, extra=""))
    assert code == 0 and "warning:" not in err, err


def test_every_problem_of_a_file_is_reported_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("PB_TRUTH_TOKEN", "PB_TRUTH_KEY", "PB_TRUTH_SECRET"):
        monkeypatch.delenv(name, raising=False)
    text = BASE.format(chat=4242, extra="digest_threshold = 1") + "\n[tracker]\ninterval_seconds = 0\n"
    code, err = _check(tmp_path, capsys, text)
    assert code == 2
    for key in ("telegram.digest_threshold", "tracker.interval_seconds", "PB_TRUTH_TOKEN",
                "PB_TRUTH_KEY", "PB_TRUTH_SECRET"):
        assert key in err, (key, err)

    monkeypatch.setenv("PB_TRUTH_KEY", "set")
    monkeypatch.setenv("PB_TRUTH_SECRET", "set")
    code, err = _check(tmp_path, capsys, BASE.format(chat=4242, extra=""))
    assert code == 2 and "PB_TRUTH_TOKEN" in err  # a valid file without the token: still one run


def test_metrics_listen_must_be_host_and_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("PB_TRUTH_TOKEN", "PB_TRUTH_KEY", "PB_TRUTH_SECRET"):
        monkeypatch.setenv(name, "set")
    for listen, ok in (('"127.0.0.1:9108"', True), ('"[::1]:9108"', True), ('"9108"', False),
                       ('"localhost:port"', False), ('"127.0.0.1:70000"', False)):
        text = BASE.format(chat=4242, extra="") + f"\n[metrics]\nlisten = {listen}\n"
        code, err = _check(tmp_path, capsys, text)
        assert (code == 0) is ok, (listen, err)
        assert ok or "metrics.listen" in err
