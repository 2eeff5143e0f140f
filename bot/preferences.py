"""What each chat wants pushed, and how: the choices made with /settings over the file's.

The configuration file gives the defaults (``[telegram.notifications]``, per-chat tables);
a choice made from the chat is stored in the database and wins over them until it is reset.
The bot-wide trading pause (/pause, /resume) is kept here too, under chat id 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from positionbot.bot.config import NotifyMode, TelegramConfig
from positionbot.storage.store import Store
from positionbot.tracker.core.models import NoticeKind

log = logging.getLogger(__name__)

QUIET_KEY = "quiet_below_notional"
PAUSE_CHAT, PAUSE_KEY = 0, "trading_paused"
KINDS = tuple(kind.value for kind in NoticeKind)


class ChatPreferences:
    """``mode_for`` and ``quiet_below`` as the notifier asks them, with the chat's overrides."""

    def __init__(self, telegram: TelegramConfig, store: Store | None = None, *,
                 on_pause: Callable[[bool], None] | None = None) -> None:
        self._telegram = telegram
        self._store = store
        self._on_pause = on_pause
        self._modes: dict[int, dict[str, NotifyMode]] = {}
        self._quiet: dict[int, Decimal] = {}
        self.trading_paused = False

    async def load(self) -> None:
        """Read the stored choices (at start); a value this version cannot read is skipped."""
        if self._store is None:
            return
        self._modes.clear()
        self._quiet.clear()
        paused = False
        for chat, key, value in await self._store.chat_settings():
            try:
                if chat == PAUSE_CHAT and key == PAUSE_KEY:
                    paused = value == "1"
                elif key == QUIET_KEY:
                    self._quiet[chat] = Decimal(value)
                elif key in KINDS:
                    self._modes.setdefault(chat, {})[key] = NotifyMode(value)
                else:
                    raise ValueError(key)
            except (ValueError, InvalidOperation):
                log.warning("ignoring the stored setting %s=%r of chat %d", key, value, chat)
        self._set_paused(paused)

    def mode_for(self, chat_id: int, kind: str) -> NotifyMode:
        chosen = self._modes.get(chat_id, {}).get(kind)
        return chosen if chosen is not None else self._telegram.mode_for(chat_id, kind)

    def quiet_below(self, chat_id: int) -> Decimal:
        chosen = self._quiet.get(chat_id)
        return chosen if chosen is not None else self._telegram.quiet_below(chat_id)

    def is_overridden(self, chat_id: int, key: str) -> bool:
        return key in self._modes.get(chat_id, {}) or (key == QUIET_KEY and chat_id in self._quiet)

    async def set_mode(self, chat_id: int, kind: str, mode: NotifyMode | None) -> None:
        """Choose the kind's mode for this chat; ``None`` returns it to the file's."""
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        await self._save(chat_id, kind, None if mode is None else mode.value)
        if mode is None:
            self._modes.get(chat_id, {}).pop(kind, None)
        else:
            self._modes.setdefault(chat_id, {})[kind] = mode

    async def set_quiet_below(self, chat_id: int, notional: Decimal | None) -> None:
        if notional is not None and notional < 0:
            raise ValueError("the quiet threshold cannot be negative")
        await self._save(chat_id, QUIET_KEY, None if notional is None else str(notional))
        if notional is None:
            self._quiet.pop(chat_id, None)
        else:
            self._quiet[chat_id] = notional

    async def set_paused(self, paused: bool) -> None:
        await self._save(PAUSE_CHAT, PAUSE_KEY, "1" if paused else None)
        self._set_paused(paused)

    def _set_paused(self, paused: bool) -> None:
        self.trading_paused = paused
        if self._on_pause is not None:
            self._on_pause(paused)

    async def _save(self, chat_id: int, key: str, value: str | None) -> None:
        if self._store is not None:
            await self._store.set_chat_setting(chat_id, key, value)
