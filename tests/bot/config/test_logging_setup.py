"""Logging: text or JSON lines in UTC, and secrets redacted from every part of a record."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from positionbot.bot.config import load_config
from positionbot.bot.logging_setup import add_secret, setup_logging
from tests.support.config import ACCOUNT, WriteConfig


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Captures what setup_logging installs; restores the root logger afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_library = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    buffer = io.StringIO()
    yield buffer
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
    root.setLevel(saved_level)
    for name, level in saved_library.items():
        logging.getLogger(name).setLevel(level)


def test_json_lines_carry_ts_level_logger_msg_and_extras(stream: io.StringIO) -> None:
    setup_logging("INFO", "json", stream)
    before = datetime.now(UTC)
    logging.getLogger("tracker.cycle").info(
        "cycle %s done", "main", extra={"account": "main", "changes": 2, "pnl": Decimal("1.50")}
    )
    logging.getLogger("tracker.cycle").debug("not shown at INFO")

    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "INFO"
    assert record["logger"] == "tracker.cycle"
    assert record["msg"] == "cycle main done"
    assert (record["account"], record["changes"], record["pnl"]) == ("main", 2, "1.50")
    assert record["ts"].endswith("Z")
    stamp = datetime.fromisoformat(record["ts"].replace("Z", "+00:00"))
    assert abs((stamp - before).total_seconds()) < 5


def test_json_keeps_a_traceback_on_one_line(stream: io.StringIO) -> None:
    setup_logging("INFO", "json", stream)
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        logging.getLogger("x").exception("failed")
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert "RuntimeError: boom" in record["exc"] and "Traceback" in record["exc"]


def test_text_lines_are_readable_with_extras(stream: io.StringIO) -> None:
    setup_logging("DEBUG", "text", stream)
    logging.getLogger("bot.app").debug("started", extra={"accounts": 2, "mode": "one way"})
    line = stream.getvalue().rstrip("\n")
    timestamp, level, rest = line.split(maxsplit=2)
    assert timestamp.endswith("Z") and "T" in timestamp
    assert level == "DEBUG"
    assert rest == 'bot.app: started accounts=2 mode="one way"'


def test_secrets_are_redacted_everywhere(stream: io.StringIO) -> None:
    setup_logging("INFO", "json", stream)
    add_secret("S3CR3T-redact-me-1")
    log = logging.getLogger("httpx")
    log.warning("GET https://api.telegram.org/botS3CR3T-redact-me-1/getMe")
    log.warning("key=%s", "S3CR3T-redact-me-1", extra={"url": "x/S3CR3T-redact-me-1/y"})
    try:
        raise ValueError("bad key S3CR3T-redact-me-1")
    except ValueError:
        log.exception("call failed")

    output = stream.getvalue()
    assert "S3CR3T-redact-me-1" not in output
    records = [json.loads(line) for line in output.splitlines()]
    assert records[0]["msg"] == "GET https://api.telegram.org/bot***/getMe"
    assert records[1]["msg"] == "key=***" and records[1]["url"] == "x/***/y"
    assert "ValueError: bad key ***" in records[2]["exc"]


def test_secrets_read_from_the_environment_are_redacted(
    stream: io.StringIO, write_config: WriteConfig,
) -> None:
    env = {
        "BINANCE_API_KEY": "env-key-Redacted-77", "BINANCE_SECRET": "env-secret-Redacted-88",
        "POSITIONBOT_TELEGRAM_TOKEN": "99:env-token-Redacted",
    }
    config = load_config(write_config(ACCOUNT), env)
    config.telegram.token(env)
    setup_logging("INFO", "text", stream)
    logging.getLogger("ccxt").error("auth failed for %s / %s / %s", *env.values())
    output = stream.getvalue()
    assert all(value not in output for value in env.values())
    assert output.rstrip().endswith("auth failed for *** / *** / ***")


def test_calling_again_replaces_the_handler(stream: io.StringIO) -> None:
    setup_logging("INFO", "text", io.StringIO())
    setup_logging("WARNING", "text", stream)
    logging.getLogger("y").warning("once")
    logging.getLogger("y").info("filtered by level")
    assert stream.getvalue().count("once") == 1
    assert "filtered" not in stream.getvalue()


def test_chatty_libraries_are_quiet_unless_debugging(stream: io.StringIO) -> None:
    setup_logging("INFO", "text", stream)
    logging.getLogger("httpx").info("HTTP Request: POST ...")
    assert stream.getvalue() == ""
    setup_logging("DEBUG", "text", stream)
    logging.getLogger("httpx").info("HTTP Request: POST ...")
    assert "HTTP Request" in stream.getvalue()


@pytest.mark.parametrize(("level", "fmt"), [("TRACE", "text"), ("INFO", "xml")])
def test_rejects_unknown_level_or_format(level: str, fmt: str) -> None:
    with pytest.raises(ValueError, match="must be one of"):
        setup_logging(level, fmt)
