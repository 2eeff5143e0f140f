from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from positionbot.storage import Store
from positionbot.storage.store import fixed_recipients
from tests.storage.factories import T0, db_path


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(db_path(tmp_path), clock=lambda: T0, recipients=fixed_recipients((1,)))
    yield opened
    await opened.close()
