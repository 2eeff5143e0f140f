"""Process-wide stdlib logging: text or JSON lines, UTC timestamps, secrets redacted.

Secrets resolved from the environment are registered with ``add_secret`` so no log line can
carry them — not even a library's (httpx logs every Telegram URL, which embeds the bot token).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from positionbot.tracker.core.redact import REDACTED, add_secret, redact

__all__ = ["FORMATS", "LEVELS", "REDACTED", "add_secret", "redact", "setup_logging"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("text", "json")
_NOISY_LIBRARIES = ("httpx", "httpcore", "aiosqlite")
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_NUMBERS = re.compile(r"\d+")

_installed: list[logging.Handler] = []


class SecretRedactingFilter(logging.Filter):
    """Rewrites a record's message, traceback and string extras with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in extra_fields(record).items():
            if isinstance(value, str):
                setattr(record, name, redact(value))
        return True


class RepeatCollapsingFilter(logging.Filter):
    """Lets the first of a run of like warnings through and swallows the rest for ``window``
    seconds; the next one let through says how many were swallowed (``repeated``).

    "Like" means equal but for numbers: APScheduler's "skipped: maximum number of running
    instances reached" names the next run time, so a backlog would otherwise log one line per
    missed run. Errors always pass. At most ``max_keys`` kinds are remembered.
    """

    def __init__(self, window: float = 60.0, max_keys: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self._max_keys = max_keys
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        key = (record.name, _NUMBERS.sub("#", record.getMessage()))
        now = self._clock()
        since, swallowed = self._seen.get(key, (now - self.window - 1, 0))
        if now - since < self.window:
            self._seen[key] = (since, swallowed + 1)
            return False
        self._seen[key] = (now, 0)
        self._seen.move_to_end(key)
        while len(self._seen) > self._max_keys:
            self._seen.popitem(last=False)
        if swallowed:
            record.msg = f"{record.getMessage()} (and {swallowed} like it in the last {self.window:g}s)"
            record.args = None
            record.repeated = swallowed
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra={...}`` fields a caller attached to the record."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}


def _utc_timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _traceback(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    parts: list[str] = []
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(parts) or None


class TextFormatter(logging.Formatter):
    """``2025-01-02T03:04:05.678Z INFO    logger: message key=value ...``"""

    def format(self, record: logging.LogRecord) -> str:
        extras = "".join(
            f" {k}={v if isinstance(v, str) and ' ' not in v else json.dumps(v, default=str)}"
            for k, v in extra_fields(record).items()
        )
        line = (
            f"{_utc_timestamp(record)} {record.levelname:<7} {record.name}: "
            f"{record.getMessage()}{extras}"
        )
        trace = _traceback(self, record)
        return f"{line}\n{trace}" if trace else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the extra fields, and exc if any."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            **extra_fields(record),
            "ts": _utc_timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        trace = _traceback(self, record)
        if trace:
            payload["exc"] = trace
        return json.dumps(payload, default=str, ensure_ascii=False)


def setup_logging(level: str, fmt: str, stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) in ``fmt``; calling again replaces it."""
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    root = logging.getLogger()
    for old in _installed:
        root.removeHandler(old)
        old.close()
    _installed.clear()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RepeatCollapsingFilter())
    handler.addFilter(SecretRedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    _installed.append(handler)
    library_level = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for name in _NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(library_level)
