"""Helpers for configuration tests: write a TOML file into tmp_path, with a valid environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

ENV = {
    "POSITIONBOT_TELEGRAM_TOKEN": "123456:tok-EN-value-never-shown",
    "BINANCE_API_KEY": "key-VALUE-abc123",
    "BINANCE_SECRET": "secret-VALUE-xyz789",
}

ACCOUNT = """
[[accounts]]
name = "main"
exchange = "binanceusdm"
api_key_env = "BINANCE_API_KEY"
secret_env = "BINANCE_SECRET"
"""

WriteConfig = Callable[[str], Path]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    def write(text: str) -> Path:
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


OKX = """
[[accounts]]
name = "okx"
exchange = "okx"
api_key_env = "OKX_KEY"
secret_env = "OKX_SECRET"
password_env = "OKX_PASS"
"""
OKX_ENV = {"OKX_KEY": "okx-key-1111", "OKX_SECRET": "okx-secret-2222", "OKX_PASS": "okx-pass-3333"}
