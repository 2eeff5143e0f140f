"""config.example.toml loads as shipped and documents every key the models accept."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from positionbot.bot.config import AppConfig, NotifyMode, load_config
from positionbot.tracker.core.models import NoticeKind

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


def _named_variables() -> dict[str, str]:
    text = EXAMPLE.read_text(encoding="utf-8")
    names = re.findall(r'^\w+_env = "([A-Z0-9_]+)"', text, flags=re.MULTILINE)
    return {name: f"value-of-{name.lower()}" for name in names}


def test_example_loads_with_the_variables_it_names() -> None:
    env = _named_variables()
    config = load_config(EXAMPLE, env)
    assert [(a.name, a.exchange) for a in config.accounts] == [
        ("binance-demo", "binanceusdm"), ("bybit", "bybit"), ("okx", "okx"),
    ]
    binance, bybit, okx = config.accounts
    assert binance.sandbox is False
    assert "demo-fapi" in binance.ccxt_config["urls"]["api"]["fapiPrivate"]
    assert bybit.settle_coins == ["USDT", "USDC"]
    assert bybit.ccxt_config == {"options": {"defaultType": "swap"}}
    assert okx.credentials(env).password is not None
    assert config.telegram.token(env).get_secret_value() == "value-of-positionbot_telegram_token"
    # real defaults: every push rings; the only warnings are the placeholder ids to replace
    assert all(config.telegram.mode_for(123456789, kind) is NotifyMode.ON for kind in NoticeKind)
    assert [w.key for w in config.warnings()] == ["telegram.allowed_chats", "telegram.notify_chats"]


def test_example_names_five_secret_variables_and_no_secret() -> None:
    assert set(_named_variables()) == {
        "POSITIONBOT_TELEGRAM_TOKEN", "BINANCE_DEMO_API_KEY", "BINANCE_DEMO_SECRET",
        "BYBIT_API_KEY", "BYBIT_SECRET", "OKX_API_KEY", "OKX_SECRET", "OKX_PASSPHRASE",
    }


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    found: list[str] = []
    for name, field in model.model_fields.items():
        if name == "source_path":
            continue
        found.append(prefix + name)
        annotation: Any = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))[-1]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            found.extend(_keys(inner, f"{prefix}{name}."))
    return found


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = [
        key for key in _keys(AppConfig)
        if not re.search(rf"(^|[\s\[.#]){re.escape(key.rsplit('.', 1)[-1])}\b", text, re.M)
    ]
    assert missing == []
    for kind in NoticeKind:
        assert kind.value in text


def test_example_sets_every_default_it_states() -> None:
    """Values written in the example's tables are the models' defaults (or clearly examples)."""
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    defaults = AppConfig.model_fields
    for section in ("storage", "logging", "tracker"):
        model = defaults[section].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        default = model().model_dump()
        for key, value in raw[section].items():
            if isinstance(value, dict):
                continue
            assert str(default[key]) == str(value) or float(default[key]) == float(value), key
