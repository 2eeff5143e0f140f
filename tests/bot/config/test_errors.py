"""Every way a config file can be wrong gives a message naming the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from positionbot.bot.config import ConfigError, load_config
from tests.support.config import ACCOUNT, ENV, WriteConfig

OKX = """
[[accounts]]
name = "okx"
exchange = "okx"
api_key_env = "BINANCE_API_KEY"
secret_env = "BINANCE_SECRET"
"""


def _error(write_config: WriteConfig, text: str, env: dict[str, str] = ENV) -> ConfigError:
    path = write_config(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env)
    assert caught.value.source == str(path)
    for line in str(caught.value).splitlines():
        assert line.startswith(f"{path}: "), line
    return caught.value


# (file text, dotted key, fragments the message must contain: the problem and the fix)
CASES = [
    pytest.param("acounts = []\n" + ACCOUNT, "acounts",
                 ["unknown key 'acounts'", "did you mean 'accounts'?"], id="top-level-typo"),
    pytest.param(ACCOUNT.replace("exchange =", "exchang ="), "accounts[0].exchang",
                 ["did you mean 'exchange'?", "valid keys here: name, exchange, api_key_env"],
                 id="account-key-typo"),
    pytest.param("[tracker]\nintervall_seconds = 5\n" + ACCOUNT, "tracker.intervall_seconds",
                 ["did you mean 'interval_seconds'?"], id="tracker-key-typo"),
    pytest.param("[trackr]\n" + ACCOUNT, "trackr", ["did you mean 'tracker'?"], id="table-typo"),
    pytest.param(ACCOUNT.replace("binanceusdm", "binanse"), "accounts[0].exchange",
                 ["unknown ccxt exchange 'binanse'", "did you mean 'binance'?",
                  "ccxt.exchanges"], id="unknown-exchange"),
    pytest.param(ACCOUNT.replace("binanceusdm", "BYBIT"), "accounts[0].exchange",
                 ["did you mean 'bybit'?"], id="exchange-case"),
    pytest.param(ACCOUNT.replace("binanceusdm", "bitbank"), "accounts[0].exchange",
                 ["cannot fetch positions", "fetchPositions", "binanceusdm, bybit or okx"],
                 id="spot-only-exchange"),
    pytest.param(OKX, "accounts[0].password_env",
                 ["okx needs its password credential", 'password_env = "NAME_OF_THE_VARIABLE"'],
                 id="okx-needs-passphrase"),
    pytest.param(ACCOUNT.replace('secret_env = "BINANCE_SECRET"\n', ""), "accounts[0].secret_env",
                 ["binanceusdm needs its secret credential"], id="secret-env-missing"),
    pytest.param(ACCOUNT.replace("binanceusdm", "kraken") + "sandbox = true\n",
                 "accounts[0].sandbox", ["no testnet URL for kraken", "sandbox = false"],
                 id="no-testnet"),
    pytest.param(ACCOUNT.replace('"main"', '"Main Account"'), "accounts[0].name",
                 ["'Main Account' is not a valid account name", "a-z, 0-9, _ and -"],
                 id="bad-account-name"),
    pytest.param(ACCOUNT + ACCOUNT, "accounts[1].name",
                 ["duplicate account name 'main' (also accounts[0])", "its own name"],
                 id="duplicate-account"),
    pytest.param("[logging]\nlevel = 'INFO'\n", "accounts",
                 ["no exchange account is configured", "[[accounts]]"], id="no-accounts"),
    pytest.param("accounts = []\n", "accounts", ["no exchange account is configured"],
                 id="empty-accounts"),
    pytest.param(ACCOUNT + 'settle_coins = ["US DT"]\n', "accounts[0].settle_coins[0]",
                 ['like ["USDT", "USDC"]'], id="bad-settle-coin"),
    pytest.param(ACCOUNT + "sandbox = 'yes please'\n", "accounts[0].sandbox",
                 ["valid boolean", "true or false"], id="bool"),
    pytest.param("[logging]\nlevel = 'VERBOSE'\n" + ACCOUNT, "logging.level",
                 ["'DEBUG', 'INFO', 'WARNING' or 'ERROR'", '(got "VERBOSE")'], id="log-level"),
    pytest.param("[logging]\nformat = 'xml'\n" + ACCOUNT, "logging.format",
                 ["'text' or 'json'"], id="log-format"),
    pytest.param("[tracker]\ninterval_seconds = 0\n" + ACCOUNT, "tracker.interval_seconds",
                 ["greater than or equal to 1 (got 0)"], id="interval-too-small"),
    pytest.param("[tracker]\ninterval_seconds = 'often'\n" + ACCOUNT, "tracker.interval_seconds",
                 ["valid number", "write a number"], id="interval-not-number"),
    pytest.param("[tracker]\nalert_after_failures = 2.5\n" + ACCOUNT,
                 "tracker.alert_after_failures", ["fractional part", "whole number"],
                 id="int-with-fraction"),
    pytest.param("[tracker]\npending_timeout_minutes = 0\n" + ACCOUNT,
                 "tracker.pending_timeout_minutes", ["greater than 0"], id="timeout-zero"),
    pytest.param("[tracker]\nwatchdog_seconds = 30\n" + ACCOUNT, "tracker.watchdog_seconds",
                 ["longer than interval_seconds + cycle_timeout_seconds (75)", "raise it"],
                 id="watchdog-too-short"),
    pytest.param("[tracker]\nverify_delay_seconds = 90\n" + ACCOUNT,
                 "tracker.verify_delay_seconds", ["shorter than cycle_timeout_seconds (60)"],
                 id="verify-delay-too-long"),
    pytest.param("[tracker.dust]\ndefault_notional = -1\n" + ACCOUNT,
                 "tracker.dust.default_notional", ["greater than or equal to 0"],
                 id="negative-dust"),
    pytest.param("[tracker.dust]\ndefault_notional = 'lots'\n" + ACCOUNT,
                 "tracker.dust.default_notional", ["valid decimal", "write a number"],
                 id="dust-not-number"),
    pytest.param("[tracker.dust]\ndefault_notional = nan\n" + ACCOUNT,
                 "tracker.dust.default_notional", ["finite number"], id="dust-nan"),
    pytest.param('[tracker.dust.symbols]\nBTCUSDT = 5\n' + ACCOUNT, "tracker.dust.symbols.BTCUSDT",
                 ['unified symbol, like "BTC/USDT:USDT"'], id="dust-exchange-symbol"),
    pytest.param('[tracker.dust.assets]\n"BTC/USDT" = 5\n' + ACCOUNT,
                 'tracker.dust.assets."BTC/USDT"', ['like "BTC"'], id="dust-asset-quoted-key"),
    pytest.param('[tracker.dust.symbols]\n"ETH/USDT:USDT" = -2\n' + ACCOUNT,
                 'tracker.dust.symbols."ETH/USDT:USDT"', ["greater than or equal to 0"],
                 id="dust-symbol-negative"),
    pytest.param("[telegram.notifications]\nopend = 'off'\n" + ACCOUNT,
                 "telegram.notifications.opend",
                 ["unknown notification kind 'opend'", "did you mean 'opened'?", "stop_loss_hit"],
                 id="notification-kind-typo"),
    pytest.param("[telegram.notifications]\nopened = 'loud'\n" + ACCOUNT,
                 "telegram.notifications.opened", ["'on', 'silent' or 'off'"],
                 id="notification-mode"),
    pytest.param("[telegram.chats.mychat]\nquiet_below_notional = 5\n" + ACCOUNT,
                 "telegram.chats.mychat", ["numeric chat id"], id="chat-key-not-numeric"),
    pytest.param("[telegram.chats.42]\nnotifications = { closd = 'off' }\n" + ACCOUNT,
                 "telegram.chats.42.notifications.closd", ["did you mean 'closed'?"],
                 id="chat-notification-typo"),
    pytest.param("[telegram.chats.42]\nsilent = true\n" + ACCOUNT, "telegram.chats.42.silent",
                 ["valid keys here: notifications, quiet_below_notional"], id="chat-key-typo"),
    pytest.param("[telegram]\nbase_url = 'api.local:8081'\n" + ACCOUNT, "telegram.base_url",
                 ["http(s) URL"], id="base-url"),
    pytest.param("[telegram]\ndigest_threshold = 1\n" + ACCOUNT, "telegram.digest_threshold",
                 ["greater than or equal to 2"], id="digest-threshold"),
    pytest.param("[telegram]\nallowed_chats = 12345\n" + ACCOUNT, "telegram.allowed_chats",
                 ["valid list", "like [1, 2]"], id="chats-not-a-list"),
    pytest.param("[telegram]\nallowed_chats = ['me']\n" + ACCOUNT, "telegram.allowed_chats[0]",
                 ["valid integer", "whole number"], id="chat-id-not-number"),
    pytest.param('storage = "x.db"\n' + ACCOUNT, "storage", ["must be a table", "[storage]"],
                 id="section-not-table"),
    pytest.param('[storage]\npath = ""\n' + ACCOUNT, "storage.path", ["must be a file path"],
                 id="blank-storage"),
    pytest.param('source_path = "/etc/x"\n' + ACCOUNT, "source_path", ["remove it"],
                 id="source-path-is-not-settable"),
]


@pytest.mark.parametrize(("text", "key", "fragments"), CASES)
def test_message_names_key_and_fix(
    write_config: WriteConfig, text: str, key: str, fragments: list[str],
) -> None:
    error = _error(write_config, text)
    lines = str(error).splitlines()
    matching = [line for line in lines if line.startswith(f"{error.source}: {key}: ")]
    assert matching, str(error)
    for fragment in fragments:
        assert fragment in matching[0], matching[0]


@pytest.mark.parametrize(
    ("text", "secret", "replacement", "key"),
    [
        (ACCOUNT + 'api_key = "AKIAsuperSECRET123"\n', "AKIAsuperSECRET123", "api_key_env",
         "accounts[0].api_key"),
        (ACCOUNT + 'secret = "SHHHHsecret456"\n', "SHHHHsecret456", "secret_env",
         "accounts[0].secret"),
        (ACCOUNT + 'password = "pass-phrase-789"\n', "pass-phrase-789", "password_env",
         "accounts[0].password"),
        ('[telegram]\ntoken = "123:AAAbbbCCC"\n' + ACCOUNT, "123:AAAbbbCCC", "token_env",
         "telegram.token"),
        (ACCOUNT + '[accounts.ccxt_config]\napiKey = "CCXTinlineKEY"\n', "CCXTinlineKEY",
         "api_key_env", "accounts[0].ccxt_config.apiKey"),
        (ACCOUNT.replace('"BINANCE_API_KEY"', '"vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6u"'),
         "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6u", "NAME of an environment variable",
         "accounts[0].api_key_env"),
    ],
    ids=["api_key", "secret", "password", "token", "ccxt_config", "key-in-env-name"],
)
def test_literal_secret_is_rejected_without_echoing_it(
    write_config: WriteConfig, text: str, secret: str, replacement: str, key: str,
) -> None:
    error = _error(write_config, text)
    assert f": {key}: " in str(error)
    assert replacement in str(error)
    assert secret not in str(error)


def test_every_problem_in_a_file_is_reported_at_once(write_config: WriteConfig) -> None:
    text = (
        "[logging]\nlevel = 'LOUD'\n[tracker]\ninterval_seconds = 0\n"
        + ACCOUNT.replace("binanceusdm", "binanse")
    )
    error = _error(write_config, text)
    keys = [problem.key for problem in error.problems]
    assert keys == ["logging.level", "tracker.interval_seconds", "accounts[0].exchange"]
    assert len(str(error).splitlines()) == 3


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    assert str(caught.value) == (
        f"{path}: file not found — copy config.example.toml to this path and edit it, "
        "or pass the right file with -c"
    )


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"^{tmp_path}: cannot read the file: "):
        load_config(tmp_path, ENV)


def test_toml_syntax_error_gives_the_line(write_config: WriteConfig) -> None:
    error = _error(write_config, ACCOUNT + "sandbox = yes\n")
    assert "invalid TOML" in str(error)
    assert "line 7" in str(error)
    assert "strings need double quotes" in str(error)


def test_file_that_is_not_utf8(write_config: WriteConfig, tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes("# café\n".encode("latin-1") + ACCOUNT.encode())
    with pytest.raises(ConfigError, match="not UTF-8 text — save the file as UTF-8"):
        load_config(path, ENV)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [({"BINANCE_API_KEY": "key-VALUE-abc123"}, "environment variable BINANCE_SECRET is not set"),
     ({"BINANCE_API_KEY": "key-VALUE-abc123", "BINANCE_SECRET": ""},
      "environment variable BINANCE_SECRET is empty")],
    ids=["unset", "empty"],
)
def test_unset_credential_variable_is_named(
    write_config: WriteConfig, env: dict[str, str], fragment: str,
) -> None:
    error = _error(write_config, ACCOUNT, env)
    assert [problem.key for problem in error.problems] == ["accounts[0].secret_env"]
    assert fragment in str(error)
    assert "export BINANCE_SECRET=..." in str(error)


def test_every_unset_variable_of_every_account_is_reported(write_config: WriteConfig) -> None:
    text = ACCOUNT + ACCOUNT.replace('"main"', '"second"')
    error = _error(write_config, text, {})
    assert [problem.key for problem in error.problems] == [
        "accounts[0].api_key_env", "accounts[0].secret_env",
        "accounts[1].api_key_env", "accounts[1].secret_env",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[accounts]]\nname = "main"\n',
         "accounts[0].exchange: required key is missing — add exchange = ... to this table"),
        ('storage = "x.db"\n' + ACCOUNT,
         'storage: must be a table (got "x.db") — write [storage] on its own line, then its keys'),
        ('accounts = ["main"]\n',
         'accounts[0]: must be a table (got "main") — write [[accounts]] on its own line, '
         "then its keys"),
        ("accounts = []\n",
         "accounts: no exchange account is configured — add an [[accounts]] table with name "
         "and exchange (see config.example.toml)"),
        (ACCOUNT.replace("binanceusdm", "nosuchthing"),
         "accounts[0].exchange: unknown ccxt exchange 'nosuchthing' (use an id listed in "
         "ccxt.exchanges, such as binanceusdm, bybit or okx)"),
    ],
    ids=["missing-key", "value-for-table", "value-for-table-array", "empty-accounts", "no-guess"],
)
def test_whole_message(write_config: WriteConfig, text: str, expected: str) -> None:
    error = _error(write_config, text)
    assert f"{error.source}: {expected}" in str(error).splitlines()
