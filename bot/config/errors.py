"""Configuration errors a trader can act on: each names the file, the key and the fix.

Pydantic's own messages name neither the file nor the remedy, so validation errors are
translated here into ``ConfigProblem`` lines with dotted key paths (``accounts[0].exchange``).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

CUSTOM_ERROR = "config_key"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ECHO_LIMIT = 60

# A literal secret in the file is refused with a pointer to the *_env key that replaces it.
_SECRET_KEYS = {
    "api_key": "api_key_env",
    "apikey": "api_key_env",
    "key": "api_key_env",
    "secret": "secret_env",
    "api_secret": "secret_env",
    "secret_key": "secret_env",
    "password": "password_env",
    "passphrase": "password_env",
    "token": "token_env",
    "bot_token": "token_env",
}

_HINTS = {
    "list_type": "this must be a list, like [1, 2]",
    "string_type": 'write it as a quoted string, like "text"',
    "bool_type": "write true or false (no quotes)",
    "bool_parsing": "write true or false (no quotes)",
    "int_type": "write a whole number, like 5",
    "int_parsing": "write a whole number, like 5",
    "int_from_float": "write a whole number, like 5",
    "float_type": "write a number, like 15 or 2.5",
    "float_parsing": "write a number, like 15 or 2.5",
    "decimal_type": 'write a number, like 10 or "0.5"',
    "decimal_parsing": 'write a number, like 10 or "0.5"',
    "finite_number": "write an ordinary number (not inf or nan)",
    "too_short": "add at least one entry",
}

_TABLE_KINDS = frozenset({"model_type", "model_attributes_type", "dict_type"})
# Whole messages for keys whose absence (or emptiness) deserves more than "required".
_ABSENT_HINTS: dict[tuple[str | int, ...], str] = {
    ("accounts",): (
        "no exchange account is configured — add an [[accounts]] table with name and "
        "exchange (see config.example.toml)"
    ),
}


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with the configuration: where (dotted key) and what to do about it."""

    key: str  # dotted path such as "accounts[0].exchange"; "" for the file as a whole
    message: str


class ConfigError(Exception):
    """The configuration cannot be used; ``str()`` is one line per problem, each naming the file."""

    def __init__(self, source: str, problems: Sequence[ConfigProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(render_problem(source, p) for p in self.problems))


def render_problem(source: str, problem: ConfigProblem) -> str:
    if problem.key:
        return f"{source}: {problem.key}: {problem.message}"
    return f"{source}: {problem.message}"


def key_problem(message: str, *subpath: str | int) -> PydanticCustomError:
    """A validation error whose message is shown verbatim (never echoing the input).

    ``subpath`` extends the location pydantic reports, so a check made on a whole table can
    still point at the exact key (``accounts[1].name`` rather than ``accounts``).
    """
    return PydanticCustomError(CUSTOM_ERROR, "{message}", {"message": message, "subpath": subpath})


def dotted(loc: Iterable[str | int]) -> str:
    """``("accounts", 0, "exchange")`` -> ``accounts[0].exchange``; odd keys are quoted."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            name = part if _BARE_KEY.fullmatch(part) else json.dumps(part)
            out += f".{name}" if out else name
    return out


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` for a near miss, else an empty string."""
    options = list(choices)
    lowered = {choice.lower(): choice for choice in options}
    if word.lower() in lowered:
        return f" — did you mean '{lowered[word.lower()]}'?"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def problems_from_validation(
    error: ValidationError, root: type[BaseModel], hidden_keys: frozenset[str] = frozenset(),
) -> list[ConfigProblem]:
    """Translate pydantic's errors into key + message + fix, one per bad key."""
    problems: list[ConfigProblem] = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        ctx = item.get("ctx") or {}
        if item["type"] == CUSTOM_ERROR:
            problems.append(ConfigProblem(dotted(loc + tuple(ctx["subpath"])), ctx["message"]))
        elif item["type"] == "extra_forbidden":
            problems.append(_unknown_key(loc, root, hidden_keys))
        else:
            problems.append(ConfigProblem(dotted(loc), _describe(item["type"], item, loc)))
    return problems


def _unknown_key(
    loc: tuple[str | int, ...], root: type[BaseModel], hidden_keys: frozenset[str],
) -> ConfigProblem:
    key = str(loc[-1])
    replacement = _SECRET_KEYS.get(key.lower())
    model = _model_at(root, loc[:-1])
    valid = [name for name in (model.model_fields if model else {}) if name not in hidden_keys]
    if replacement is not None and replacement in valid:
        message = (
            "secrets must not be written in the config file — put the value in an environment "
            f'variable and name that variable instead: {replacement} = "MY_VARIABLE"'
        )
    else:
        message = f"unknown key '{key}'"
        message += suggest(key, valid) or " — remove it or correct its spelling"
        if valid:
            message += f" (valid keys here: {', '.join(valid)})"
    return ConfigProblem(dotted(loc), message)


def _describe(kind: str, item: Any, loc: tuple[str | int, ...]) -> str:
    msg = str(item["msg"])
    for prefix in ("Input ", "Value error, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if kind in ("missing", "too_short") and loc in _ABSENT_HINTS:
        return _ABSENT_HINTS[loc]
    if kind == "missing":
        return f"required key is missing — add {dotted(loc[-1:])} = ... to this table"
    got = _echo(item.get("input"))
    if kind in _TABLE_KINDS:
        header = f"[[{dotted(loc[:-1])}]]" if isinstance(loc[-1], int) else f"[{dotted(loc)}]"
        return f"must be a table{got} — write {header} on its own line, then its keys"
    hint = _HINTS.get(kind)
    return f"{msg}{got} — {hint}" if hint else f"{msg}{got}"


def _echo(value: Any) -> str:
    if isinstance(value, bool):
        return f" (got {str(value).lower()})"
    if isinstance(value, int | float | Decimal):
        return f" (got {value})"
    if isinstance(value, str):
        shown = value if len(value) <= _ECHO_LIMIT else value[:_ECHO_LIMIT] + "..."
        return f" (got {json.dumps(shown, ensure_ascii=False)})"
    return ""


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that validates the table at ``loc`` (for listing its valid keys)."""
    current: Any = root
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            current = field.annotation
            continue
        origin, args = get_origin(current), get_args(current)
        if origin is list and isinstance(part, int):
            current = args[0]
        elif origin is dict and isinstance(part, str):
            current = args[1]
        else:
            return None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None
