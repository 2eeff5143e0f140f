"""Configuration: one TOML file validated by pydantic; secrets only from environment variables.

Every table forbids unknown keys, so a typo is an error instead of a silently ignored setting.
The file is parsed with ``parse_float=Decimal``: a TOML float such as ``0.1`` reaches the
Decimal settings exactly as written (strings and integers work too), never through a binary
float. Plain float settings (seconds, minutes) accept any of these forms.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from positionbot.bot.config.accounts import AccountConfig
from positionbot.bot.config.dump import render_masked
from positionbot.bot.config.errors import (
    ConfigError,
    ConfigProblem,
    dotted,
    key_problem,
    problems_from_validation,
    suggest,
)
from positionbot.bot.config.fields import (
    ASSET_CODE,
    ENV_NAME,
    STRICT,
    Credentials,
    NonNegativeDecimal,
    environment,
    read_secret,
)
from positionbot.bot.config.telegram import ChatPrefs, NotifyMode, TelegramConfig
from positionbot.tracker.core.models import NoticeKind

__all__ = [
    "AccountConfig", "AppConfig", "ChatPrefs", "ConfigError", "ConfigProblem", "Credentials",
    "DustConfig", "LoggingConfig", "MetricsConfig", "NotifyMode", "StorageConfig", "TelegramConfig",
    "TrackerConfig", "load_config",
]


class StorageConfig(BaseModel):
    model_config = STRICT

    path: Path = Path("positionbot.db")  # load_config resolves it against the file's directory

    @field_validator("path")
    @classmethod
    def _not_blank(cls, value: Path) -> Path:
        if str(value) in ("", "."):
            raise key_problem('must be a file path, like "positionbot.db"')
        return value.expanduser()


class LoggingConfig(BaseModel):
    model_config = STRICT

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9108`` for IPv6) as a bind address."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f'must be "host:port", like "127.0.0.1:9108", not {listen!r}')
    return host.strip("[]"), int(port)


class MetricsConfig(BaseModel):
    """The /metrics and /healthz endpoint; off unless ``listen`` is set."""

    model_config = STRICT

    listen: str | None = None
    outbox_max_age_seconds: float = Field(default=900.0, gt=0, allow_inf_nan=False)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_listen(value)
            except ValueError as error:
                raise key_problem(str(error)) from None
        return value


class DustConfig(BaseModel):
    """Positions worth less than this notional (quote currency) are ignored as dust."""

    model_config = STRICT

    default_notional: NonNegativeDecimal = Decimal("1")
    assets: dict[str, NonNegativeDecimal] = Field(default_factory=dict)  # by base asset
    symbols: dict[str, NonNegativeDecimal] = Field(default_factory=dict)  # by unified symbol

    @field_validator("assets")
    @classmethod
    def _upper_assets(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for asset in value:
            if not ASSET_CODE.fullmatch(asset):
                raise key_problem('use the base asset\'s code, like "BTC"', asset)
        return {asset.upper(): threshold for asset, threshold in value.items()}

    @field_validator("symbols")
    @classmethod
    def _unified_symbols(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for symbol in value:
            if "/" not in symbol:
                raise key_problem(
                    'use the ccxt unified symbol, like "BTC/USDT:USDT" (not the exchange\'s '
                    "own id such as BTCUSDT)", symbol,
                )
        return value

    def threshold(self, symbol: str, base: str) -> Decimal:
        """Per-symbol override, else per-asset override, else the default."""
        if symbol in self.symbols:
            return self.symbols[symbol]
        return self.assets.get(base.upper(), self.default_notional)


class TrackerConfig(BaseModel):
    model_config = STRICT

    interval_seconds: float = Field(default=15.0, ge=1, allow_inf_nan=False)
    verify_delay_seconds: float = Field(default=2.0, ge=0, allow_inf_nan=False)
    pending_timeout_minutes: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    alert_after_failures: int = Field(default=3, ge=1)
    cycle_timeout_seconds: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    dust: DustConfig = DustConfig()
    watchdog_seconds: float = Field(default=120.0, gt=0, allow_inf_nan=False)
    funding_poll_minutes: float = Field(default=15.0, ge=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent_timing(self) -> TrackerConfig:
        if self.verify_delay_seconds >= self.cycle_timeout_seconds:
            raise key_problem(
                f"must be shorter than cycle_timeout_seconds ({self.cycle_timeout_seconds:g}), "
                "or no cycle could ever confirm a close", "verify_delay_seconds",
            )
        slowest_gap = self.interval_seconds + self.cycle_timeout_seconds
        if self.watchdog_seconds <= slowest_gap:
            raise key_problem(
                f"must be longer than interval_seconds + cycle_timeout_seconds ({slowest_gap:g}), "
                "or a healthy but slow cycle would trip the watchdog — raise it above that",
                "watchdog_seconds",
            )
        return self



class AppConfig(BaseModel):
    model_config = STRICT

    storage: StorageConfig = StorageConfig()
    logging: LoggingConfig = LoggingConfig()
    tracker: TrackerConfig = TrackerConfig()
    telegram: TelegramConfig = TelegramConfig()
    metrics: MetricsConfig = MetricsConfig()
    accounts: list[AccountConfig] = Field(min_length=1)
    source_path: Path = Path("config.toml")  # the file this came from; set by load_config

    @model_validator(mode="after")
    def _unique_account_names(self) -> AppConfig:
        first_index: dict[str, int] = {}
        for index, account in enumerate(self.accounts):
            if account.name in first_index:
                raise key_problem(
                    f"duplicate account name '{account.name}' (also accounts"
                    f"[{first_index[account.name]}]) — give each account its own name",
                    "accounts", index, "name",
                )
            first_index[account.name] = index
        return self

    @model_validator(mode="after")
    def _chat_accounts_exist(self) -> AppConfig:
        names = [account.name for account in self.accounts]
        for chat, prefs in self.telegram.chats.items():
            for index, name in enumerate(prefs.accounts or ()):
                if name not in names:
                    raise key_problem(
                        f"unknown account '{name}'{suggest(name, names)} (accounts: "
                        f"{', '.join(names)})", "telegram", "chats", chat, "accounts", index)
        return self

    @model_validator(mode="after")
    def _locate_sections(self) -> AppConfig:
        """Secret errors raised later name the file and the account's place in it."""
        source = str(self.source_path)
        self.telegram._source = source
        for index, account in enumerate(self.accounts):
            account._source, account._key = source, f"accounts[{index}]"
        return self

    def masked_dump(self, env: Mapping[str, str] | None = None) -> str:
        """The effective configuration as TOML; secrets appear only as set/missing."""
        return render_masked(self, environment(env))

    def warnings(self) -> list[ConfigProblem]:
        """Settings that are valid but probably not what the trader wants."""
        found: list[ConfigProblem] = []
        telegram = self.telegram
        if not telegram.allowed_chats and not telegram.allowed_users:
            found.append(ConfigProblem("telegram.allowed_chats", (
                "allowed_chats and allowed_users are both empty, so nobody can use the bot's "
                "commands — add your chat id"
            )))
        if not telegram.notify_chats:
            found.append(ConfigProblem(
                "telegram.notify_chats", "empty, so no chat receives pushes — add your chat id"
            ))
        for chat in telegram.chats:
            if int(chat) not in telegram.notify_chats:
                found.append(ConfigProblem(dotted(("telegram", "chats", chat)), (
                    "this chat is not in telegram.notify_chats, so its notification settings "
                    "have no effect"
                )))
        for key in ("allowed_chats", "allowed_users", "notify_chats"):
            if PLACEHOLDER_ID in getattr(telegram, key):
                found.append(ConfigProblem(f"telegram.{key}", (
                    f"{PLACEHOLDER_ID} is the example's placeholder, not a real id — put your chat "
                    "or user id there (README: Going live, step 2 shows how to find it)"
                )))
        found.extend(_muted_stop_losses(telegram))
        return found


PLACEHOLDER_ID = 123456789
_STOP_LOSS_KINDS = tuple(kind.value for kind in NoticeKind if kind.value.startswith("stop_loss"))
_MUST_RING = frozenset({NoticeKind.STOP_LOSS_FAILED.value, NoticeKind.STOP_LOSS_REMOVED.value,
                        NoticeKind.STOP_LOSS_HIT.value})


def _muted_stop_losses(telegram: TelegramConfig) -> list[ConfigProblem]:
    """Stop-loss pushes turned off, or the ones that need the trader at once made silent."""
    found: list[ConfigProblem] = []
    tables: list[tuple[tuple[str, ...], dict[str, NotifyMode]]] = [
        (("telegram", "notifications"), telegram.notifications)]
    tables += [(("telegram", "chats", chat, "notifications"), prefs.notifications)
               for chat, prefs in telegram.chats.items()]
    for path, modes in tables:
        for kind in _STOP_LOSS_KINDS:
            mode = modes.get(kind)
            if mode is NotifyMode.OFF or (mode is NotifyMode.SILENT and kind in _MUST_RING):
                found.append(ConfigProblem(dotted((*path, kind)), (
                    f"{mode.value} mutes the {kind.replace('_', ' ')} push — you would not hear "
                    "about a position left without protection; remove the line to get it"
                )))
    return found


def load_config(
    path: str | Path, env: Mapping[str, str] | None = None, *, require_token: bool = False,
) -> AppConfig:
    """Read and validate the file, and check that every exchange credential it names is set
    (and the Telegram token with ``require_token``); every problem found is reported at once.

    Without ``require_token`` the token is checked where it is needed
    (``TelegramConfig.token``), so a one-off ``sync`` runs without it.
    """
    source_path = Path(path).expanduser()
    source = str(source_path)
    data = _read_toml(source_path, source)
    if "source_path" in data:
        raise ConfigError(source, [ConfigProblem(
            "source_path", "unknown key 'source_path' — remove it (positionbot sets it itself)"
        )])
    try:
        config = AppConfig.model_validate({**data, "source_path": source_path})
    except ValidationError as error:
        invalid = problems_from_validation(error, AppConfig, frozenset({"source_path"}))
        raise ConfigError(source, invalid + _unset_variables(data, env, require_token)) from None
    storage = config.storage.path
    if not storage.is_absolute():
        resolved = (source_path.parent / storage).absolute()
        config = config.model_copy(update={"storage": StorageConfig(path=resolved)})
    problems: list[ConfigProblem] = []
    for account in config.accounts:
        try:
            account.credentials(env)
        except ConfigError as error:
            problems.extend(error.problems)
    if require_token:
        try:
            config.telegram.token(env)
        except ConfigError as error:
            problems.extend(error.problems)
    if problems:
        raise ConfigError(source, problems)
    return config


def _unset_variables(data: Mapping[str, Any], env: Mapping[str, str] | None,
                     require_token: bool) -> list[ConfigProblem]:
    """Secrets a file that failed validation names but the environment lacks, so one run of
    check-config lists them together with the invalid keys."""
    values, problems = environment(env), list[ConfigProblem]()
    tables: list[tuple[str, Any]] = []
    if require_token:
        telegram = data.get("telegram", {})
        token_env = telegram.get("token_env", "POSITIONBOT_TELEGRAM_TOKEN") if isinstance(
            telegram, dict) else None
        tables.append(("telegram.token_env", token_env))
    accounts = data.get("accounts", [])
    for index, account in enumerate(accounts if isinstance(accounts, list) else []):
        if isinstance(account, dict):
            tables += [(f"accounts[{index}].{key}", account.get(key))
                       for key in ("api_key_env", "secret_env", "password_env")]
    for key, variable in tables:
        if isinstance(variable, str) and ENV_NAME.fullmatch(variable):
            read_secret(values, variable, key, problems)
    return problems


def _read_toml(source_path: Path, source: str) -> dict[str, Any]:
    try:
        raw = source_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, [ConfigProblem("", (
            "file not found — copy config.example.toml to this path and edit it, or pass "
            "the right file with -c"
        ))]) from None
    except OSError as error:
        raise ConfigError(
            source, [ConfigProblem("", f"cannot read the file: {error.strerror or error}")]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            source, [ConfigProblem("", "not UTF-8 text — save the file as UTF-8")]
        ) from None
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, [ConfigProblem("", (
            f"invalid TOML: {error} — fix the syntax there (strings need double quotes, "
            "tables are written [name], one key = value per line)"
        ))]) from None
