"""Field types and helpers shared by the configuration models.

Secrets are read from the environment only here, and each one read is registered for log
redaction, so no caller can obtain a secret that the logs would still show.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, SecretStr

from positionbot.bot.config.errors import ConfigProblem, key_problem
from positionbot.bot.logging_setup import add_secret

STRICT = ConfigDict(extra="forbid", frozen=True)
ASSET_CODE = re.compile(r"[A-Za-z0-9]+")
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


def _env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        raise key_problem(
            "must be the NAME of an environment variable (capitals, digits and _), "
            'like "BINANCE_API_KEY" — not the secret itself'
        )
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
NonNegativeDecimal = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


def environment(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def read_secret(
    env: Mapping[str, str], variable: str, key: str, problems: list[ConfigProblem],
) -> SecretStr | None:
    """The variable's value, or None after recording a problem that names it."""
    value = env.get(variable, "")
    if not value:
        state = "is empty" if variable in env else "is not set"
        problems.append(ConfigProblem(key, (
            f"environment variable {variable} {state} — export {variable}=... before starting "
            "positionbot, or change the name to the variable that holds the secret"
        )))
        return None
    add_secret(value)
    return SecretStr(value)


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: SecretStr | None = None
    secret: SecretStr | None = None
    password: SecretStr | None = None

    def as_ccxt(self) -> dict[str, str]:
        """The keys to merge into the ccxt constructor's config."""
        pairs = {"apiKey": self.api_key, "secret": self.secret, "password": self.password}
        return {name: value.get_secret_value() for name, value in pairs.items() if value}
