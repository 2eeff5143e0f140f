"""A valid file loads with the documented defaults and exact decimals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from positionbot.bot.config import AppConfig, NotifyMode, load_config
from tests.support.config import ACCOUNT, ENV, WriteConfig


def test_minimal_file_takes_every_default(write_config: WriteConfig) -> None:
    config = load_config(write_config(ACCOUNT), ENV)

    assert config.logging.level == "INFO"
    assert config.logging.format == "text"
    tracker = config.tracker
    assert (tracker.interval_seconds, tracker.verify_delay_seconds) == (15, 2.0)
    assert (tracker.pending_timeout_minutes, tracker.alert_after_failures) == (60, 3)
    assert (tracker.cycle_timeout_seconds, tracker.watchdog_seconds) == (60, 120)
    assert tracker.dust.default_notional == Decimal("1")
    assert tracker.dust.assets == {} and tracker.dust.symbols == {}
    telegram = config.telegram
    assert telegram.token_env == "POSITIONBOT_TELEGRAM_TOKEN"
    assert telegram.base_url is None
    assert telegram.allowed_chats == telegram.allowed_users == telegram.notify_chats == []
    assert telegram.digest_threshold == 5
    assert telegram.quiet_below_notional == Decimal("0")
    assert telegram.mode_for(1, "opened") is NotifyMode.ON
    [account] = config.accounts
    assert (account.name, account.exchange, account.sandbox) == ("main", "binanceusdm", False)
    assert account.password_env is None
    assert account.settle_coins == [] and account.ccxt_config == {}


def test_relative_storage_path_resolves_against_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "bot.toml").write_text('[storage]\npath = "data/p.db"\n' + ACCOUNT)
    monkeypatch.chdir(tmp_path)

    config = load_config("etc/bot.toml", ENV)

    assert config.storage.path == tmp_path / "etc" / "data" / "p.db"
    assert config.source_path == Path("etc/bot.toml")


def test_default_storage_path_sits_next_to_the_config(write_config: WriteConfig) -> None:
    path = write_config(ACCOUNT)
    assert load_config(path, ENV).storage.path == path.parent / "positionbot.db"


def test_absolute_storage_path_is_kept(write_config: WriteConfig, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "x.db"
    config = load_config(write_config(f'[storage]\npath = "{target}"\n' + ACCOUNT), ENV)
    assert config.storage.path == target


@pytest.mark.parametrize(
    ("written", "expected"),
    [('"0.1"', Decimal("0.1")), ("0.1", Decimal("0.1")), ("5", Decimal("5")),
     ("1e-3", Decimal("0.001")), ('"0.30000000000000001"', Decimal("0.30000000000000001")),
     # a TOML float keeps every written digit (a binary float would have rounded it to 0.3)
     ("0.30000000000000001", Decimal("0.30000000000000001"))],
)
def test_decimal_settings_are_exact_whatever_the_toml_form(
    write_config: WriteConfig, written: str, expected: Decimal,
) -> None:
    text = f"[tracker.dust]\ndefault_notional = {written}\n" + ACCOUNT
    value = load_config(write_config(text), ENV).tracker.dust.default_notional
    assert isinstance(value, Decimal)
    assert value == expected


def test_seconds_accept_integers_and_fractions(write_config: WriteConfig) -> None:
    text = "[tracker]\ninterval_seconds = 2\nverify_delay_seconds = 0.5\n" + ACCOUNT
    tracker = load_config(write_config(text), ENV).tracker
    assert tracker.interval_seconds == 2.0 and tracker.verify_delay_seconds == 0.5


def test_ccxt_config_reaches_ccxt_as_plain_json_values(write_config: WriteConfig) -> None:
    text = ACCOUNT + (
        "[accounts.ccxt_config]\ntimeout = 5000\nrecvWindowRatio = 0.5\n"
        'options = { defaultType = "swap", list = [1.5, "a"] }\n'
    )
    account = load_config(write_config(text), ENV).accounts[0]
    assert account.ccxt_config == {
        "timeout": 5000, "recvWindowRatio": 0.5,
        "options": {"defaultType": "swap", "list": [1.5, "a"]},
    }
    assert type(account.ccxt_config["recvWindowRatio"]) is float


def test_settle_coins_are_upper_cased_once(write_config: WriteConfig) -> None:
    text = ACCOUNT.replace('exchange = "binanceusdm"', 'exchange = "bybit"') + (
        'settle_coins = ["usdt", "USDC", "USDT"]\n'
    )
    assert load_config(write_config(text), ENV).accounts[0].settle_coins == ["USDT", "USDC"]


def test_config_is_immutable(write_config: WriteConfig) -> None:
    config = load_config(write_config(ACCOUNT), ENV)
    with pytest.raises(ValueError, match="frozen"):
        config.tracker.interval_seconds = 1  # type: ignore[misc]


def test_models_can_be_built_in_code_without_a_file() -> None:
    config = AppConfig.model_validate(
        {"accounts": [{"name": "a", "exchange": "bybit", "api_key_env": "K", "secret_env": "S"}]}
    )
    assert config.accounts[0].credentials({"K": "kkkk", "S": "ssss"}).as_ccxt() == {
        "apiKey": "kkkk", "secret": "ssss",
    }
