"""check-config's dump shows the effective configuration and never a secret."""

from __future__ import annotations

import tomllib
from pathlib import Path

from positionbot.bot.config import load_config
from tests.support.config import ACCOUNT, ENV, OKX, OKX_ENV, WriteConfig

FULL = """
[storage]
path = "state/bot.db"
[logging]
level = "DEBUG"
format = "json"
[tracker]
interval_seconds = 5
[tracker.dust]
default_notional = "0.5"
[tracker.dust.symbols]
"BTC/USDT:USDT" = 20
[telegram]
base_url = "http://127.0.0.1:8081/bot"
allowed_chats = [1]
notify_chats = [1, -1002]
[telegram.notifications]
startup = "off"
[telegram.chats."-1002"]
notifications = { opened = "silent" }
""" + ACCOUNT + """
[accounts.ccxt_config]
timeout = 5000
httpsProxy = "http://trader:proxy-pa55word@proxy.example:8080"
options = { defaultType = "swap", adjust = 0.25, "odd key" = ["a\\"b", 1] }
""" + OKX


def test_dump_never_contains_a_secret(write_config: WriteConfig) -> None:
    env = {**ENV, **OKX_ENV}
    dump = load_config(write_config(FULL), env).masked_dump(env)
    for secret in env.values():
        assert secret not in dump
    assert "proxy-pa55word" not in dump
    assert '"http://trader:***@proxy.example:8080"' in dump


def test_dump_says_which_secret_variables_are_set(write_config: WriteConfig) -> None:
    env = {**ENV, **OKX_ENV}
    config = load_config(write_config(FULL), env)
    partial = {k: v for k, v in env.items() if k not in ("OKX_PASS", "POSITIONBOT_TELEGRAM_TOKEN")}
    lines = config.masked_dump(partial).splitlines()
    assert 'token_env = "POSITIONBOT_TELEGRAM_TOKEN"  # ***missing***' in lines
    assert 'api_key_env = "BINANCE_API_KEY"  # ***set***' in lines
    assert 'password_env = "OKX_PASS"  # ***missing***' in lines
    assert "# password_env: not set" in lines  # the binance account names none


def test_dump_is_toml_that_loads_back_to_the_same_config(
    write_config: WriteConfig, tmp_path: Path,
) -> None:
    env = {**ENV, **OKX_ENV}
    original = load_config(write_config(FULL), env)
    dumped = original.masked_dump(env).replace("trader:***@", "trader:proxy-pa55word@")
    copy_path = tmp_path / "copy" / "dumped.toml"
    copy_path.parent.mkdir()
    copy_path.write_text(dumped, encoding="utf-8")

    reloaded = load_config(copy_path, env)

    assert reloaded.model_dump(exclude={"source_path"}) == original.model_dump(
        exclude={"source_path"}
    )


def test_dump_shows_effective_values(write_config: WriteConfig) -> None:
    path = write_config(FULL.replace('path = "state/bot.db"', 'path = "bot.db"'))
    dump = load_config(path, {**ENV, **OKX_ENV}).masked_dump({})
    parsed = tomllib.loads(dump)
    assert parsed["storage"]["path"] == str(path.parent / "bot.db")
    assert parsed["tracker"]["verify_delay_seconds"] == 2.0  # a default, shown explicitly
    assert parsed["tracker"]["dust"]["symbols"] == {"BTC/USDT:USDT": "20"}
    assert parsed["telegram"]["chats"]["-1002"]["notifications"] == {"opened": "silent"}
    assert [a["name"] for a in parsed["accounts"]] == ["main", "okx"]
    assert dump.startswith(f"# positionbot effective configuration, loaded from {path}\n")
