"""The positionbot command line as a user runs it: a subprocess, exit codes and messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"
SECRETS = {
    "POSITIONBOT_TELEGRAM_TOKEN": "777:cli-token-SECRET",
    "BINANCE_API_KEY": "cli-key-SECRET",
    "BINANCE_SECRET": "cli-secret-SECRET",
}
GOOD = """
[telegram]
allowed_chats = [1]
notify_chats = [1]

[[accounts]]
name = "main"
exchange = "binanceusdm"
api_key_env = "BINANCE_API_KEY"
secret_env = "BINANCE_SECRET"
"""


def positionbot(
    *args: str, cwd: Path, env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POSITIONBOT", "BINANCE"))}
    return subprocess.run(
        [sys.executable, "-m", "positionbot", *args], cwd=cwd, env={**clean, **(env or {})},
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_check_config_prints_masked_config_and_exits_0(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(GOOD)
    result = positionbot("check-config", "-c", "config.toml", cwd=tmp_path, env=SECRETS)
    assert result.returncode == 0, result.stderr
    assert 'token_env = "POSITIONBOT_TELEGRAM_TOKEN"  # ***set***' in result.stdout
    assert 'exchange = "binanceusdm"' in result.stdout
    assert f'path = "{tmp_path / "positionbot.db"}"' in result.stdout
    assert result.stderr == "config.toml: OK — 1 account(s): main\n"
    for secret in SECRETS.values():
        assert secret not in result.stdout + result.stderr
    assert not (tmp_path / "positionbot.db").exists()


def test_check_config_reads_config_toml_by_default(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(GOOD)
    result = positionbot("check-config", cwd=tmp_path, env=SECRETS)
    assert result.returncode == 0, result.stderr


def test_check_config_accepts_the_example_file(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    names = [line.split('"')[1] for line in text.splitlines() if line.split(" = ")[0].endswith("_env")]
    env = {name: f"value-{index}-sekrit" for index, name in enumerate(names)}
    result = positionbot("check-config", "-c", str(EXAMPLE), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "OK — 3 account(s): binance-demo, bybit, okx" in result.stderr
    assert "sekrit" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("binanceusdm", "binanse"),
         "config.toml: accounts[0].exchange: unknown ccxt exchange 'binanse' — did you mean "
         "'binance'?"),
        (GOOD + 'api_key = "pasted-KEY-abc"\n',
         "config.toml: accounts[0].api_key: secrets must not be written in the config file"),
        (GOOD + "sandbox = maybe\n", "config.toml: invalid TOML: Invalid value (at line 11, column 11)"),
        ("[tracker]\ninterval_seconds = 0\n" + GOOD,
         "config.toml: tracker.interval_seconds: should be greater than or equal to 1 (got 0)"),
    ],
    ids=["unknown-exchange", "literal-secret", "toml-syntax", "bad-value"],
)
def test_check_config_on_a_broken_file_exits_2_with_the_message(
    tmp_path: Path, text: str, expected: str,
) -> None:
    (tmp_path / "config.toml").write_text(text)
    result = positionbot("check-config", "-c", "config.toml", cwd=tmp_path, env=SECRETS)
    assert result.returncode == 2
    assert result.stderr.startswith(expected), result.stderr
    assert result.stdout == ""
    assert "pasted-KEY-abc" not in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_on_a_missing_file(tmp_path: Path) -> None:
    result = positionbot("check-config", "-c", "absent.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "absent.toml: file not found — copy config.example.toml to this path and edit it, "
        "or pass the right file with -c\n"
    )


def test_check_config_with_unset_secret_variables(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(GOOD)
    result = positionbot("check-config", "-c", "config.toml", cwd=tmp_path,
                         env={"BINANCE_API_KEY": "cli-key-SECRET"})
    assert result.returncode == 2
    assert result.stderr.startswith(  # every unset secret in one run: this one, then the token
        "config.toml: accounts[0].secret_env: environment variable BINANCE_SECRET is not set — "
        "export BINANCE_SECRET=... before starting positionbot, or change the name to the "
        "variable that holds the secret\n"
    )
    assert "telegram.token_env: environment variable POSITIONBOT_TELEGRAM_TOKEN" in result.stderr


def test_check_config_with_unset_token_still_shows_the_config(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(GOOD)
    env = {k: v for k, v in SECRETS.items() if k != "POSITIONBOT_TELEGRAM_TOKEN"}
    result = positionbot("check-config", "-c", "config.toml", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert 'token_env = "POSITIONBOT_TELEGRAM_TOKEN"  # ***missing***' in result.stdout
    assert "telegram.token_env: environment variable POSITIONBOT_TELEGRAM_TOKEN is not set" in (
        result.stderr
    )


def test_check_config_warns_about_a_bot_nobody_can_use(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(GOOD.replace("[1]", "[]"))
    result = positionbot("check-config", "-c", "config.toml", cwd=tmp_path, env=SECRETS)
    assert result.returncode == 0
    assert "warning: config.toml: telegram.allowed_chats: " in result.stderr
    assert "warning: config.toml: telegram.notify_chats: " in result.stderr


@pytest.mark.parametrize("command", ["run", "sync"])
def test_run_and_sync_refuse_a_broken_file_before_starting(tmp_path: Path, command: str) -> None:
    (tmp_path / "config.toml").write_text(GOOD.replace("binanceusdm", "binanse"))
    args = [command, "--once"] if command == "sync" else [command]
    result = positionbot(*args, "-c", "config.toml", cwd=tmp_path, env=SECRETS)
    assert result.returncode == 2
    assert result.stderr.startswith("config.toml: accounts[0].exchange: unknown ccxt exchange")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        ([], ["usage: positionbot", "run", "demo", "sync", "check-config", "--log-level"]),
        (["run"], ["usage: positionbot run", "-c CONFIG", "config.toml"]),
        (["demo"], ["usage: positionbot demo", "--speed X", "--db PATH", "temporary"]),
        (["sync"], ["usage: positionbot sync", "--once", "-c CONFIG"]),
        (["check-config"], ["usage: positionbot check-config", "-c CONFIG", "masked"]),
    ],
    ids=["main", "run", "demo", "sync", "check-config"],
)
def test_help(tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    result = positionbot(*args, "--help", cwd=tmp_path)
    assert result.returncode == 0
    for fragment in fragments:
        assert fragment in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "usage: positionbot"),
        (["sync", "-c", "config.toml"], "the following arguments are required: --once"),
        (["demo", "--speed", "0"], "must be a positive number"),
        (["demo", "--speed", "fast"], "not a number: 'fast'"),
        (["launch"], "invalid choice: 'launch'"),
    ],
    ids=["no-command", "sync-without-once", "zero-speed", "word-speed", "unknown-command"],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], fragment: str) -> None:
    result = positionbot(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert fragment in result.stderr


def test_version(tmp_path: Path) -> None:
    result = positionbot("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("positionbot ")
