"""``positionbot backup``: SQLite's online backup of a database the bot has open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from positionbot.bot.cli import main
from positionbot.storage.store import Store
from positionbot.tracker.core.models import SyncState
from positionbot.tracker.core.records import WriteBatch

CONFIG = """
[storage]
path = "state.db"

[[accounts]]
name = "main"
exchange = "binanceusdm"
api_key_env = "PB_BACKUP_KEY"
secret_env = "PB_BACKUP_SECRET"
"""


async def test_backup_of_an_open_database_keeps_the_newest_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PB_BACKUP_KEY", "k")
    monkeypatch.setenv("PB_BACKUP_SECRET", "s")
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    backups = tmp_path / "backups"
    backups.mkdir()
    store = await Store.open(tmp_path / "state.db")
    try:
        written = []
        for n in range(3):
            await store.commit(WriteBatch(f"a{n}", sync_state=SyncState(f"a{n}")))
            assert main(["backup", "-c", str(config), "--keep", "2", str(backups)]) == 0
            written.append(Path(capsys.readouterr().out.strip()))
            if n < 2:  # timestamped to the second: the next copy gets its own name
                (backups / written[-1].name).rename(backups / f"positionbot-2000010{n}T000000Z.db")
                written[-1] = backups / f"positionbot-2000010{n}T000000Z.db"
    finally:
        await store.close()
    kept = sorted(p.name for p in backups.iterdir())
    assert kept == sorted([written[2].name, "positionbot-20000101T000000Z.db"])
    with sqlite3.connect(written[2]) as copy:
        assert copy.execute("SELECT COUNT(*) FROM sync_state").fetchone()[0] == 3
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_backup_of_a_missing_database_fails_without_creating_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PB_BACKUP_KEY", "k")
    monkeypatch.setenv("PB_BACKUP_SECRET", "s")
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    assert main(["backup", "-c", str(config), str(tmp_path / "copy.db")]) == 1
    assert not (tmp_path / "state.db").exists() and not (tmp_path / "copy.db").exists()
