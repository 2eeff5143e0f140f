"""The effective configuration written back as TOML, with every secret masked.

The output is valid TOML that loads to the same configuration, so ``check-config`` output can
be diffed, kept, or used as a starting point. Secrets never appear: the file holds only the
names of their environment variables, and each is annotated ``***set***`` or ``***missing***``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from positionbot.bot.config.errors import dotted

if TYPE_CHECKING:
    from positionbot.bot.config import AppConfig

SECRET_ENV_KEYS = frozenset({"token_env", "api_key_env", "secret_env", "password_env"})
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


def render_masked(config: AppConfig, env: Mapping[str, str]) -> str:
    data = config.model_dump(mode="json", exclude={"source_path"})
    lines = [
        f"# positionbot effective configuration, loaded from {config.source_path}",
        "# secrets are never shown: ***set*** / ***missing*** tells whether each variable is set",
    ]
    _emit_table(lines, (), data, env)
    return "\n".join(lines) + "\n"


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _emit_table(
    lines: list[str], header: tuple[str, ...], table: Mapping[str, Any], env: Mapping[str, str],
) -> None:
    for key, value in table.items():
        if isinstance(value, dict) or _is_table_array(value):
            continue
        if value is None:
            lines.append(f"# {_key(key)}: not set")
        elif key in SECRET_ENV_KEYS and isinstance(value, str):
            state = "***set***" if env.get(value) else "***missing***"
            lines.append(f"{_key(key)} = {_value(value)}  # {state}")
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        path = (*header, key)
        if isinstance(value, dict):
            lines.extend(("", f"[{dotted(path)}]"))
            _emit_table(lines, path, value, env)
        elif _is_table_array(value):
            for item in value:
                lines.extend(("", f"[[{dotted(path)}]]"))
                _emit_table(lines, path, item, env)


def _key(key: str) -> str:
    return dotted((key,))


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # also TOML for inf and nan
    if isinstance(value, str):
        return _string(_URL_PASSWORD.sub(r"\1***@", value))
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    return _string(str(value))


def _string(text: str) -> str:
    # JSON string escapes are TOML basic-string escapes, except that TOML also escapes DEL.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")
