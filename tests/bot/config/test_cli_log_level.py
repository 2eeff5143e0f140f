"""``--log-level`` works where people type it: before the command or after it."""

from __future__ import annotations

import pytest

from positionbot.bot.cli import build_parser


@pytest.mark.parametrize("command", ["run", "demo", "check-config", "backup x", "sync --once"])
def test_log_level_after_the_command(command: str) -> None:
    args = build_parser().parse_args([*command.split(), "--log-level", "DEBUG"])
    assert args.log_level == "DEBUG"


def test_log_level_before_the_command_still_works_and_after_it_wins() -> None:
    parser = build_parser()
    assert parser.parse_args(["--log-level", "ERROR", "run"]).log_level == "ERROR"
    assert parser.parse_args(["run"]).log_level is None
    assert parser.parse_args(["--log-level", "ERROR", "run", "--log-level", "DEBUG"]).log_level == (
        "DEBUG")
