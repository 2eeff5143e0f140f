"""Secrets come only from the environment variables the file names, and never leak."""

from __future__ import annotations

import pytest

from positionbot.bot.config import ConfigError, Credentials, load_config
from tests.support.config import ACCOUNT, ENV, OKX, OKX_ENV, WriteConfig


def test_credentials_are_read_from_the_named_variables(write_config: WriteConfig) -> None:
    config = load_config(write_config(OKX), OKX_ENV)
    credentials = config.accounts[0].credentials(OKX_ENV)
    assert credentials.as_ccxt() == {
        "apiKey": "okx-key-1111", "secret": "okx-secret-2222", "password": "okx-pass-3333",
    }
    shown = f"{credentials!r} {credentials}"
    assert "okx-key-1111" not in shown and "okx-secret-2222" not in shown
    assert "okx-pass-3333" not in shown


def test_credentials_without_a_password_leave_it_out(write_config: WriteConfig) -> None:
    credentials = load_config(write_config(ACCOUNT), ENV).accounts[0].credentials(ENV)
    assert credentials.password is None
    assert set(credentials.as_ccxt()) == {"apiKey", "secret"}
    assert Credentials().as_ccxt() == {}


def test_credentials_default_to_the_process_environment(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in OKX_ENV.items():
        monkeypatch.setenv(name, value)
    config = load_config(write_config(OKX))
    assert config.accounts[0].credentials().as_ccxt()["password"] == "okx-pass-3333"


def test_credentials_name_each_unset_variable_and_its_key(write_config: WriteConfig) -> None:
    path = write_config(ACCOUNT + OKX)
    config = load_config(path, {**ENV, **OKX_ENV})
    with pytest.raises(ConfigError) as caught:
        config.accounts[1].credentials({"OKX_KEY": "okx-key-1111"})
    assert [p.key for p in caught.value.problems] == [
        "accounts[1].secret_env", "accounts[1].password_env",
    ]
    message = str(caught.value)
    assert f"{path}: accounts[1].secret_env: environment variable OKX_SECRET is not set" in message
    assert "OKX_PASS is not set" in message
    assert "okx-key-1111" not in message


def test_token_comes_from_token_env(write_config: WriteConfig) -> None:
    text = '[telegram]\ntoken_env = "MY_BOT_TOKEN"\n' + ACCOUNT
    config = load_config(write_config(text), ENV)
    token = config.telegram.token({"MY_BOT_TOKEN": "42:bot-token-zzz"})
    assert token.get_secret_value() == "42:bot-token-zzz"
    assert "42:bot-token-zzz" not in repr(token)


def test_missing_token_names_the_variable(write_config: WriteConfig) -> None:
    path = write_config(ACCOUNT)
    config = load_config(path, ENV)
    with pytest.raises(ConfigError) as caught:
        config.telegram.token({})
    assert str(caught.value) == (
        f"{path}: telegram.token_env: environment variable POSITIONBOT_TELEGRAM_TOKEN is not "
        "set — export POSITIONBOT_TELEGRAM_TOKEN=... before starting positionbot, or change "
        "the name to the variable that holds the secret"
    )


def test_loading_does_not_need_the_telegram_token(write_config: WriteConfig) -> None:
    env = {k: v for k, v in ENV.items() if k != "POSITIONBOT_TELEGRAM_TOKEN"}
    assert load_config(write_config(ACCOUNT), env).accounts[0].name == "main"


def test_config_objects_hold_no_secret_values(write_config: WriteConfig) -> None:
    config = load_config(write_config(OKX), OKX_ENV)
    everything = f"{config!r} {config.model_dump()}"
    for secret in OKX_ENV.values():
        assert secret not in everything
