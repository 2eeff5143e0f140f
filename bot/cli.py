"""The ``positionbot`` command line: run, demo, sync --once, check-config, backup.

Each command's implementation is imported only when that command runs, so ``--help`` and
``check-config`` stay fast and work without the Telegram and exchange machinery loaded.
Exit codes: 0 success, 1 failure reported by a command, 2 bad usage or configuration,
130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from positionbot.bot import package_version
from positionbot.bot.config import AppConfig, ConfigError, load_config
from positionbot.bot.config.errors import render_problem
from positionbot.bot.logging_setup import LEVELS, setup_logging

EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130
DEFAULT_CONFIG = "config.toml"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as error:
        _err(str(error))
        return EXIT_CONFIG
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="positionbot",
        description=(
            "Telegram bot that keeps a record of your derivatives positions true to the "
            "exchange and pushes every change."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    parser.add_argument(
        "--log-level", choices=LEVELS, default=None,
        help="override the configured log level for this run",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run the bot: track every account and serve Telegram",
        description="Run the bot until SIGINT/SIGTERM: sync every account on schedule, "
        "push changes to Telegram and answer commands.",
    )
    _config_option(run)
    run.add_argument(
        "--fresh-db", action="store_true",
        help="start a new record when the database is missing, empty or corrupt (it is kept "
        "aside, renamed); without it such a database is refused",
    )
    run.set_defaults(handler=_run)

    demo = commands.add_parser(
        "demo", help="watch the bot work on a paper exchange (no token, no keys)",
        description="A scripted trading session on an in-process paper exchange, shown in a "
        "console chat with the same messages and buttons Telegram would get.",
    )
    demo.add_argument(
        "--speed", type=_positive_float, default=1.0, metavar="X",
        help="play the script X times faster (default: 1)",
    )
    demo.add_argument(
        "--db", type=Path, default=None, metavar="PATH",
        help="keep the demo database in PATH (default: a temporary file, removed at exit)",
    )
    demo.set_defaults(handler=_demo)

    sync = commands.add_parser(
        "sync", help="sync every account once and print the report",
        description="Run one tracking cycle for every account, print the report, and exit "
        "non-zero if any account failed.",
    )
    sync.add_argument(
        "--once", action="store_true", required=True,
        help="run a single cycle and exit (use 'run' for continuous tracking)",
    )
    _config_option(sync)
    sync.set_defaults(handler=_sync)

    check = commands.add_parser(
        "check-config", help="validate the configuration and print it with secrets masked",
        description="Validate the configuration file and the environment variables it names, "
        "then print the effective configuration with secrets masked. Exit 0 when it is "
        "usable, 2 when it is not.",
    )
    _config_option(check)
    check.set_defaults(handler=_check_config)

    backup = commands.add_parser(
        "backup", help="copy the database safely while the bot runs (SQLite online backup)",
        description="Copy the configured database to OUT with SQLite's online backup. OUT may "
        "be a file, or a directory to get a timestamped positionbot-YYYYmmddTHHMMSSZ.db in it.",
    )
    _config_option(backup)
    backup.add_argument("out", type=Path, metavar="OUT", help="backup file or directory")
    backup.add_argument(
        "--keep", type=_positive_int, default=None, metavar="N",
        help="with a directory OUT, keep only the newest N timestamped backups",
    )
    backup.set_defaults(handler=_backup)
    for command in (run, demo, sync, check, backup):  # also after the command, where people type it
        command.add_argument("--log-level", choices=LEVELS, default=argparse.SUPPRESS,
                             help="override the configured log level for this run")
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c", "--config", type=Path, default=Path(DEFAULT_CONFIG), metavar="CONFIG",
        help=f"configuration file (default: {DEFAULT_CONFIG}; see config.example.toml)",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _command(module: str, name: str) -> Callable[..., int]:
    """A command's implementation, imported on first use."""
    function: Callable[..., int] = getattr(importlib.import_module(module), name)
    return function


def _configured(args: argparse.Namespace, *, require_token: bool = False) -> AppConfig:
    config = load_config(args.config, require_token=require_token)
    setup_logging(args.log_level or config.logging.level, config.logging.format)
    return config


def _run(args: argparse.Namespace) -> int:
    config = _configured(args, require_token=True)
    if args.fresh_db and _command("positionbot.bot.wiring", "start_fresh_record")(config):
        return EXIT_CONFIG
    return _command("positionbot.bot.app", "run")(config)


def _sync(args: argparse.Namespace) -> int:
    config = _configured(args)
    return _command("positionbot.bot.sync_once", "sync_once")(config)


def _demo(args: argparse.Namespace) -> int:
    setup_logging(args.log_level or "WARNING", "text")
    return _command("positionbot.bot.demo", "run_demo")(args.speed, args.db)


def _backup(args: argparse.Namespace) -> int:
    from positionbot.storage.backup import BackupError, backup_database

    config = load_config(args.config)
    try:
        written = backup_database(config.storage.path, args.out, keep=args.keep)
    except BackupError as err:
        _err(str(err))
        return 1
    sys.stdout.write(f"{written}\n")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    """Every problem of the file at once; a file whose only fault is the unset token is still
    shown (masked), with its warnings, before the error."""
    missing_token: ConfigError | None = None
    try:
        config = load_config(args.config, require_token=True)
    except ConfigError as error:
        if any(problem.key != "telegram.token_env" for problem in error.problems):
            raise
        missing_token, config = error, load_config(args.config)
    sys.stdout.write(config.masked_dump())
    sys.stdout.flush()
    source = str(config.source_path)
    for warning in config.warnings():
        _err("warning: " + render_problem(source, warning))
    if missing_token is not None:
        raise missing_token
    names = ", ".join(account.name for account in config.accounts)
    _err(f"{source}: OK — {len(config.accounts)} account(s): {names}")
    return 0
