"""Reading request parameters strictly, the way an exchange refuses a bad one: each fake passes
the error its exchange answers with."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

Params = Mapping[str, str]
Refusal = Callable[[str], Exception]
"""The exchange's error for an invalid parameter, given the parameter's name."""


def positive_decimal(params: Params, key: str, invalid: Refusal) -> Decimal:
    try:
        value = Decimal(params.get(key) or "")
    except ArithmeticError as exc:
        raise invalid(key) from exc
    if not value.is_finite() or value <= 0:
        raise invalid(key)
    return value


def optional_int(params: Params, key: str, invalid: Refusal) -> int | None:
    value = params.get(key)
    if not value:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise invalid(key) from exc
