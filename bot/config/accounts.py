"""One exchange account: a ccxt exchange id, credentials by variable name, ccxt settings.

The exchange id is checked against ccxt itself (without network access): it must exist, be
able to fetch positions, and have a testnet when ``sandbox`` is on.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, SecretStr, field_validator, model_validator

from positionbot.bot.config.errors import ConfigError, ConfigProblem, key_problem, suggest
from positionbot.bot.config.fields import (
    ASSET_CODE,
    STRICT,
    Credentials,
    EnvName,
    environment,
    read_secret,
)
from positionbot.tracker.exchange.ccxt.stream_support import STREAM_EXCHANGES, supports_stream

_ACCOUNT_NAME = re.compile(r"[a-z0-9_-]{1,20}")
# ccxt credential name -> the key in our file that names its environment variable
_CREDENTIAL_KEYS = {"apiKey": "api_key_env", "secret": "secret_env", "password": "password_env"}
_CCXT_SECRET_KEYS = frozenset(
    {"apiKey", "secret", "password", "uid", "login", "privateKey", "walletAddress", "token",
     "twofa", "accountId"}
)


@dataclass(frozen=True, slots=True)
class _ExchangeTraits:
    fetches_positions: bool
    required_credentials: frozenset[str]
    has_sandbox: bool


@functools.lru_cache(maxsize=256)
def _exchange_traits(exchange_id: str) -> _ExchangeTraits:
    import ccxt  # deferred: importing ccxt costs half a second that --help should not pay

    exchange = getattr(ccxt, exchange_id)()
    required = frozenset(name for name, needed in exchange.requiredCredentials.items() if needed)
    return _ExchangeTraits(
        fetches_positions=bool(exchange.has.get("fetchPositions")),
        required_credentials=required,
        has_sandbox=bool(exchange.urls.get("test")),
    )


def _ccxt_exchange_ids() -> list[str]:
    import ccxt

    return list(ccxt.exchanges)


def _plain_numbers(value: Any) -> Any:
    """ccxt options are plain JSON-like values; the parser's Decimals become floats again."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(item) for item in value]
    return value


# ccxt still lists testnet URLs for these but refuses futures sandbox mode at the first request.
_NO_FUTURES_SANDBOX = frozenset({"binanceusdm", "binancecoinm"})


class AccountConfig(BaseModel):
    model_config = STRICT

    name: str
    exchange: str
    api_key_env: EnvName | None = None
    secret_env: EnvName | None = None
    password_env: EnvName | None = None
    sandbox: bool = False
    trading: bool = True  # false: monitor-only, trading commands refused (read-only keys work)
    settle_coins: list[str] = Field(default_factory=list)
    stream: bool | None = None  # follow the user-data stream; default: where supported
    ccxt_config: dict[str, Any] = Field(default_factory=dict)
    _source: str = PrivateAttr("config")
    _key: str = PrivateAttr("accounts[?]")

    @field_validator("name")
    @classmethod
    def _short_lowercase_name(cls, value: str) -> str:
        if not _ACCOUNT_NAME.fullmatch(value):
            raise key_problem(
                f"'{value}' is not a valid account name — use 1 to 20 characters from a-z, 0-9, "
                "_ and - (it appears in Telegram button data, which is size-limited)"
            )
        return value

    @field_validator("exchange")
    @classmethod
    def _ccxt_exchange(cls, value: str) -> str:
        known = _ccxt_exchange_ids()
        if value not in known:
            raise key_problem(
                f"unknown ccxt exchange '{value}'{suggest(value, known)} (use an id listed "
                "in ccxt.exchanges, such as binanceusdm, bybit or okx)"
            )
        if not _exchange_traits(value).fetches_positions:
            raise key_problem(
                f"ccxt's '{value}' cannot fetch positions (has['fetchPositions'] is false), so "
                "positionbot cannot track it — use a derivatives exchange id such as "
                "binanceusdm, bybit or okx"
            )
        return value

    @field_validator("settle_coins")
    @classmethod
    def _coin_codes(cls, value: list[str]) -> list[str]:
        for index, coin in enumerate(value):
            if not ASSET_CODE.fullmatch(coin):
                raise key_problem('use settle coin codes, like ["USDT", "USDC"]', index)
        return list(dict.fromkeys(coin.upper() for coin in value))

    @field_validator("ccxt_config")
    @classmethod
    def _no_credentials(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key in _CCXT_SECRET_KEYS:
                field = _CREDENTIAL_KEYS.get(key, "api_key_env, secret_env or password_env")
                raise key_problem(
                    "credentials must not be written in the config file — put them in an "
                    f"environment variable and name it with {field}", key,
                )
        if value.get("verbose"):
            raise key_problem(
                "verbose = true makes ccxt print every request and answer, API key included, "
                "to stdout — leave it out (use --log-level DEBUG for positionbot's own detail)",
                "verbose",
            )
        plain: dict[str, Any] = _plain_numbers(value)
        return plain

    @model_validator(mode="after")
    def _exchange_needs(self) -> AccountConfig:
        traits = _exchange_traits(self.exchange)
        unsupported = sorted(traits.required_credentials - _CREDENTIAL_KEYS.keys())
        if unsupported:
            raise key_problem(
                f"{self.exchange} authenticates with {', '.join(unsupported)}, which positionbot "
                "cannot supply — it supports exchanges that use an API key, secret and "
                "passphrase", "exchange",
            )
        for credential in sorted(traits.required_credentials):
            field = _CREDENTIAL_KEYS[credential]
            if getattr(self, field) is None:
                raise key_problem(
                    f"{self.exchange} needs its {credential} credential — add "
                    f'{field} = "NAME_OF_THE_VARIABLE" and export that variable', field,
                )
        if self.stream and not supports_stream(self.exchange):
            raise key_problem(
                f"positionbot cannot follow the user-data stream of {self.exchange} yet (it "
                f"can for {', '.join(sorted(STREAM_EXCHANGES))}) — set stream = false or leave "
                "it out; the account is polled", "stream",
            )
        if self.sandbox and self.exchange in _NO_FUTURES_SANDBOX:
            raise key_problem(
                f"Binance's futures testnet is no longer served through ccxt's sandbox mode "
                f"(ccxt refuses {self.exchange} with sandbox = true at its first request) — set "
                "sandbox = false; to try positionbot without money, run `positionbot demo`",
                "sandbox",
            )
        if self.sandbox and not traits.has_sandbox:
            raise key_problem(
                f"ccxt has no testnet URL for {self.exchange} — set sandbox = false, or point "
                "ccxt_config.urls at the test servers yourself", "sandbox",
            )
        return self

    @property
    def streams(self) -> bool:
        """Whether the account's user-data stream is followed (polling verifies it either way)."""
        return self.stream if self.stream is not None else supports_stream(self.exchange)

    def credentials(self, env: Mapping[str, str] | None = None) -> Credentials:
        """The secrets named by the *_env keys; an error names every unset variable."""
        values = environment(env)
        problems: list[ConfigProblem] = []

        def read(field: str) -> SecretStr | None:
            variable: str | None = getattr(self, field)
            if variable is None:
                return None
            return read_secret(values, variable, f"{self._key}.{field}", problems)

        credentials = Credentials(read("api_key_env"), read("secret_env"), read("password_env"))
        if problems:
            raise ConfigError(self._source, problems)
        return credentials
