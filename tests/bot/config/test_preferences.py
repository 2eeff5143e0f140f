"""Dust thresholds and per-chat notification preferences resolve in the documented order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from positionbot.bot.config import DustConfig, NotifyMode, TelegramConfig, load_config
from positionbot.tracker.core.models import NoticeKind
from tests.support.config import ACCOUNT, ENV, WriteConfig

DUST = """
[tracker.dust]
default_notional = "2.5"
[tracker.dust.assets]
btc = 10
ETH = "0.5"
[tracker.dust.symbols]
"BTC/USDT:USDT" = 25
"ETH/USDC:USDC" = 0
"""


@pytest.mark.parametrize(
    ("symbol", "base", "expected"),
    [
        ("BTC/USDT:USDT", "BTC", Decimal(25)),  # symbol beats asset
        ("BTC/USDC:USDC", "BTC", Decimal(10)),  # asset (written lower-case) beats default
        ("BTC/USDC:USDC", "btc", Decimal(10)),
        ("ETH/USDT:USDT", "ETH", Decimal("0.5")),
        ("ETH/USDC:USDC", "ETH", Decimal(0)),  # a zero override is an override
        ("SOL/USDT:USDT", "SOL", Decimal("2.5")),  # default
    ],
)
def test_dust_threshold_precedence(
    write_config: WriteConfig, symbol: str, base: str, expected: Decimal,
) -> None:
    dust = load_config(write_config(DUST + ACCOUNT), ENV).tracker.dust
    assert dust.threshold(symbol, base) == expected


def test_dust_default_is_one() -> None:
    assert DustConfig().threshold("X/USDT:USDT", "X") == Decimal(1)


PREFS = """
[telegram]
notify_chats = [1, -100200]
quiet_below_notional = "100"
[telegram.notifications]
increased = "silent"
startup = "off"
[telegram.chats.1]
notifications = { increased = "on", closed = "silent" }
quiet_below_notional = 0
[telegram.chats."-100200"]
notifications = { opened = "off" }
"""


@pytest.mark.parametrize(
    ("chat", "kind", "expected"),
    [
        (1, "increased", NotifyMode.ON),  # chat override beats the default
        (1, "closed", NotifyMode.SILENT),
        (1, "startup", NotifyMode.OFF),  # default for the kind
        (1, "opened", NotifyMode.ON),  # nothing set anywhere
        (-100200, "opened", NotifyMode.OFF),
        (-100200, "increased", NotifyMode.SILENT),
        (-100200, NoticeKind.STARTUP, NotifyMode.OFF),  # the enum works as the key
        (999, "closed", NotifyMode.ON),  # a chat with no overrides
    ],
)
def test_notify_mode_precedence(
    write_config: WriteConfig, chat: int, kind: str, expected: NotifyMode,
) -> None:
    telegram = load_config(write_config(PREFS + ACCOUNT), ENV).telegram
    assert telegram.mode_for(chat, kind) is expected


def test_quiet_below_per_chat_then_default(write_config: WriteConfig) -> None:
    telegram = load_config(write_config(PREFS + ACCOUNT), ENV).telegram
    assert telegram.quiet_below(1) == Decimal(0)
    assert telegram.quiet_below(-100200) == Decimal(100)
    assert telegram.quiet_below(5) == Decimal(100)


def test_chat_keys_are_normalised_chat_ids() -> None:
    telegram = TelegramConfig.model_validate(
        {"chats": {"+42": {"notifications": {"closed": "off"}}}}
    )
    assert list(telegram.chats) == ["42"]
    assert telegram.mode_for(42, "closed") is NotifyMode.OFF


def test_every_notice_kind_can_be_configured() -> None:
    modes = {kind.value: "silent" for kind in NoticeKind}
    telegram = TelegramConfig.model_validate({"notifications": modes})
    assert all(telegram.mode_for(1, kind) is NotifyMode.SILENT for kind in NoticeKind)


def test_warnings_for_a_bot_nobody_can_use(write_config: WriteConfig) -> None:
    text = "[telegram.chats.7]\nquiet_below_notional = 1\n" + ACCOUNT
    warnings = load_config(write_config(text), ENV).warnings()
    assert [w.key for w in warnings] == [
        "telegram.allowed_chats", "telegram.notify_chats", "telegram.chats.7",
    ]
    assert "nobody can use the bot's commands" in warnings[0].message


def test_no_warnings_for_a_complete_setup(write_config: WriteConfig) -> None:
    text = "[telegram]\nallowed_chats = [7]\nnotify_chats = [7]\n" + ACCOUNT
    assert load_config(write_config(text), ENV).warnings() == []
