"""Telegram settings: the token by variable name, who may use the bot, who gets which push."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, PrivateAttr, SecretStr, field_validator

from positionbot.bot.config.errors import ConfigError, ConfigProblem, key_problem, suggest
from positionbot.bot.config.fields import STRICT, EnvName, NonNegativeDecimal, environment, read_secret
from positionbot.tracker.core.models import NoticeKind

_NOTICE_KINDS = tuple(kind.value for kind in NoticeKind)
_DAILY_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


class NotifyMode(StrEnum):
    ON = "on"
    SILENT = "silent"  # delivered without sound
    OFF = "off"


def _notice_kinds(value: dict[str, NotifyMode]) -> dict[str, NotifyMode]:
    for kind in value:
        if kind not in _NOTICE_KINDS:
            raise key_problem(
                f"unknown notification kind '{kind}'{suggest(kind, _NOTICE_KINDS)} "
                f"(kinds: {', '.join(_NOTICE_KINDS)})", kind,
            )
    return value


NoticeModes = Annotated[dict[str, NotifyMode], AfterValidator(_notice_kinds)]


class ChatPrefs(BaseModel):
    """Overrides for one chat; unset values fall back to the [telegram] defaults."""

    model_config = STRICT

    notifications: NoticeModes = Field(default_factory=dict)
    quiet_below_notional: NonNegativeDecimal | None = None
    # The accounts this chat sees, trades and gets pushes about; unset: every account.
    accounts: list[str] | None = Field(default=None, min_length=1)


class TelegramConfig(BaseModel):
    model_config = STRICT

    token_env: EnvName = "POSITIONBOT_TELEGRAM_TOKEN"
    base_url: str | None = None
    allowed_chats: list[int] = Field(default_factory=list)
    allowed_users: list[int] = Field(default_factory=list)
    notify_chats: list[int] = Field(default_factory=list)
    digest_threshold: int = Field(default=5, ge=2)
    quiet_below_notional: NonNegativeDecimal = Decimal("0")
    notifications: NoticeModes = Field(default_factory=dict)  # default mode per push kind
    chats: dict[str, ChatPrefs] = Field(default_factory=dict)  # key: chat id as a string
    timezone: str = "UTC"  # the trader's: /pnl periods and the daily report follow it
    daily_report: str | None = None  # "21:00": a daily P&L push at that local time; off if unset
    _source: str = PrivateAttr("config")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise key_problem(
                f"unknown time zone {value!r}: use an IANA name like \"Europe/Berlin\" or \"UTC\""
            ) from None
        return value

    @field_validator("daily_report")
    @classmethod
    def _clock_time(cls, value: str | None) -> str | None:
        if value is not None and not _DAILY_TIME.fullmatch(value):
            raise key_problem('must be a 24-hour local time like "21:00" (or leave it out: off)')
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def daily_report_time(self) -> time | None:
        """When the daily report is pushed, in the trader's time zone; None when off."""
        if self.daily_report is None:
            return None
        hour, minute = self.daily_report.split(":")
        return time(int(hour), int(minute), tzinfo=self.zone)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise key_problem(
                'must be an http(s) URL of a Bot API server, like "http://127.0.0.1:8081/bot"'
            )
        return value

    @field_validator("chats")
    @classmethod
    def _numeric_chat_ids(cls, value: dict[str, ChatPrefs]) -> dict[str, ChatPrefs]:
        normalised: dict[str, ChatPrefs] = {}
        for chat, prefs in value.items():
            try:
                normalised[str(int(chat))] = prefs
            except ValueError:
                raise key_problem(
                    "the table name must be a numeric chat id, like [telegram.chats.123456789] "
                    'or [telegram.chats."-1001234567890"] for a group', chat,
                ) from None
        return normalised

    def token(self, env: Mapping[str, str] | None = None) -> SecretStr:
        """The bot token from the variable named by ``token_env``."""
        problems: list[ConfigProblem] = []
        token = read_secret(environment(env), self.token_env, "telegram.token_env", problems)
        if token is None:
            raise ConfigError(self._source, problems)
        return token

    def migrate_chat(self, old_chat: int, new_chat: int) -> None:
        """A group upgraded to a supergroup gets a new id: whatever the old id was allowed or
        set up for now holds for the new one too, for the rest of this run."""
        for chats in (self.allowed_chats, self.notify_chats):
            if old_chat in chats and new_chat not in chats:
                chats[chats.index(old_chat)] = new_chat
        prefs = self.chats.get(str(old_chat))
        if prefs is not None:
            self.chats.setdefault(str(new_chat), prefs)

    def accounts_for(self, chat_id: int | None) -> frozenset[str] | None:
        """The accounts this chat is limited to, or None for every account."""
        prefs = self.chats.get(str(chat_id)) if chat_id is not None else None
        if prefs is None or prefs.accounts is None:
            return None
        return frozenset(prefs.accounts)

    def mode_for(self, chat_id: int, kind: str) -> NotifyMode:
        """This chat's override, else the default for the kind, else on."""
        prefs = self.chats.get(str(chat_id))
        if prefs is not None and kind in prefs.notifications:
            return prefs.notifications[kind]
        return self.notifications.get(kind, NotifyMode.ON)

    def quiet_below(self, chat_id: int) -> Decimal:
        """Changes below this notional are delivered silently to this chat."""
        prefs = self.chats.get(str(chat_id))
        if prefs is not None and prefs.quiet_below_notional is not None:
            return prefs.quiet_below_notional
        return self.quiet_below_notional
