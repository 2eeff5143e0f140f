"""Timeouts, capped retries with jitter, and the mapping of ccxt errors onto the gateway's errors.

ccxt's hierarchy has two branches under ``BaseError``: ``ExchangeError`` (the exchange understood
the request and refused it: authentication, permissions, bad symbol, invalid order, insufficient
funds...) and ``OperationFailed`` (the request did not complete: ``NetworkError`` with its
``RequestTimeout``, ``DDoSProtection`` (what a 429 raises) and ``RateLimitExceeded``;
``BadResponse``; and a bare ``OperationFailed``, which is what Binance's JSON-bodied 5xx ``-1001``
raises). Only the second branch is worth retrying; the first gets a clear message instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import InvalidOperation
from typing import TypeVar

import ccxt.async_support as ccxt

from positionbot.tracker.core.redact import redact, short_reason
from positionbot.tracker.engine.ports import (
    ExchangeError,
    OrderRejectedError,
    PermanentExchangeError,
    StopPriceCrossedError,
    TransientExchangeError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# What ccxt's parsers raise when a payload has the right JSON shape but garbage inside.
MALFORMED_PAYLOAD_ERRORS: tuple[type[Exception], ...] = (
    TypeError, ValueError, KeyError, IndexError, AttributeError, InvalidOperation,
)

_MAX_MESSAGE = 300
_NAMES = {"binanceusdm": "Binance", "binance": "Binance", "bybit": "Bybit", "okx": "OKX"}


class Health:
    """Whether the exchange answers right now: set by the first failed attempt of any call,
    cleared by the next answer, so a reader sees trouble while the retries are still going."""

    def __init__(self) -> None:
        self.failing_since: datetime | None = None

    def failed(self) -> None:
        if self.failing_since is None:
            self.failing_since = datetime.now(UTC)

    def answered(self) -> None:
        self.failing_since = None


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one gateway call tries: ``attempts`` in all, each cut off after ``call_timeout``."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    call_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("RetryPolicy needs 0 <= base_delay <= max_delay")
        if self.call_timeout <= 0:
            raise ValueError("RetryPolicy.call_timeout must be positive")

    def delay(self, retry: int) -> float:
        """Pause before retry number ``retry`` (0-based): capped exponential, half of it jittered."""
        capped: float = min(self.max_delay, self.base_delay * (2 ** retry))
        return capped / 2 + random.uniform(0, capped / 2)


def is_transient(exc: BaseException) -> bool:
    """True for faults a later attempt may not meet: the whole ``OperationFailed`` branch."""
    return isinstance(exc, ccxt.OperationFailed)


def describe(exc: BaseException) -> str:
    """A one-line, bounded description of ``exc`` with credentials and secrets masked."""
    text = redact(" ".join(str(exc).split()) or type(exc).__name__)
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "..."
    return f"{type(exc).__name__}: {text}"


def refusal(exc: BaseException) -> tuple[str, str, str] | None:
    """(exchange, code, message) of an exchange's JSON refusal as ccxt words it, ``"<id> <body>"``:
    Binance ``{"code", "msg"}``, Bybit ``{"retCode", "retMsg"}``, OKX ``{"code", "msg"}`` with the
    order's own ``sCode``/``sMsg`` in ``data``; None for any other text."""
    exchange, _, body = str(exc).partition(" ")
    start = body.find("{")
    try:
        answer = json.loads(body[start:]) if start >= 0 else None
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    items = answer.get("data")
    item = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
    if str(item.get("sCode") or "0") != "0":
        code, message = item.get("sCode"), item.get("sMsg")
    elif "retCode" in answer:
        code, message = answer.get("retCode"), answer.get("retMsg")
    else:
        code, message = answer.get("code"), answer.get("msg")
    if code is None:
        return None
    return _NAMES.get(exchange, exchange), str(code), " ".join(str(message or "").split())


def reason(exc: BaseException) -> str:
    """What the trader is told of a refusal: the exchange's own message and code, redacted and
    short (never a JSON body or URL); any other fault as ``describe`` words it, shortened."""
    said = refusal(exc)
    if said is None:
        return short_reason(describe(exc))
    exchange, code, message = said
    verb = "answered" if is_transient(exc) else "refused"
    return short_reason(f"{exchange} {verb}: {message.rstrip('.')} ({code})")


def permanent_error(exc: BaseException, what: str, *, order: bool = False,
                    crossed: frozenset[str] = frozenset()) -> ExchangeError:
    """The gateway error for a refusal ccxt reported; ``order`` marks an order-placing call,
    ``crossed`` the codes meaning its stop price is already crossed (it would trigger at once).
    Each carries the readable ``reason`` the trader is told."""
    why = reason(exc)
    if isinstance(exc, ccxt.AuthenticationError):
        return PermanentExchangeError(
            f"{what}: authentication failed - check the API key, secret and its permissions "
            f"({why})", reason=f"authentication failed ({why})")
    if isinstance(exc, ccxt.BadSymbol):
        return PermanentExchangeError(f"{what}: the exchange does not know this symbol ({why})",
                                      reason=why)
    said = refusal(exc)
    if order and said is not None and said[1] in crossed:
        return StopPriceCrossedError(f"{what}: {why}", reason=why)
    if order:
        return OrderRejectedError(f"{what}: order rejected by the exchange ({why})", reason=why)
    return PermanentExchangeError(f"{what}: refused by the exchange ({why})", reason=why)


async def attempt_once(what: str, call: Callable[[], Awaitable[T]], timeout: float) -> T:
    """One attempt with a hard timeout (raised as ccxt's ``RequestTimeout``, a transient fault);
    malformed payloads become ``TransientExchangeError`` at once."""
    try:
        return await asyncio.wait_for(call(), timeout)
    except TimeoutError as exc:
        raise ccxt.RequestTimeout(f"{what}: no answer within {timeout:g} s") from exc
    except MALFORMED_PAYLOAD_ERRORS as exc:
        raise TransientExchangeError(f"{what}: malformed response ({describe(exc)})") from exc


async def with_retries(policy: RetryPolicy, what: str, call: Callable[[], Awaitable[T]],
                       health: Health | None = None) -> T:
    """Run ``call`` until it succeeds, retrying transient faults within ``policy``'s caps.

    Only for calls that are safe to repeat (reads and cancels); order creation has its own loop.
    """
    last: BaseException | None = None
    for attempt in range(policy.attempts):
        if attempt:
            await asyncio.sleep(policy.delay(attempt - 1))
        try:
            answer = await attempt_once(what, call, policy.call_timeout)
        except ccxt.BaseError as exc:
            if not is_transient(exc):
                raise permanent_error(exc, what) from exc
            last = exc
            if health is not None:
                health.failed()
        else:
            if health is not None:
                health.answered()
            return answer
        log.warning("%s: attempt %d/%d failed: %s", what, attempt + 1, policy.attempts,
                    describe(last))
    assert last is not None
    raise TransientExchangeError(
        f"{what}: failed after {policy.attempts} attempts ({describe(last)})",
        reason=f"no good answer after {policy.attempts} attempts ({reason(last)})") from last
