"""The crash soak's short form for CI: a handful of SIGKILLs of the whole bot process.

After every restart the database must equal the exchange (positions and stop orders) and every
change must have been pushed; a duplicate push may only come from a kill between Telegram
accepting a message and the outbox recording it, so there can be at most one per kill.
The long form (``python -m tests.soak.soak --kills 50``) runs the same code on demand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.soak.soak import SoakSettings, run_soak

pytestmark = pytest.mark.slow  # a real process (or a soak): seconds, not milliseconds

SHORT = SoakSettings(kills=5, seed=2024, chaos_s=(0.5, 2.0), tripwire_window_s=4.0,
                     settle_timeout_s=30.0)


async def test_a_handful_of_sigkills_lose_nothing_and_invent_nothing(tmp_path: Path) -> None:
    result = await run_soak(SHORT, tmp_path)

    summary = result.table()
    assert len(result.kills) == SHORT.kills, summary
    assert not result.failed_kills, summary  # db == exchange and no lost push, every time
    assert result.final.ok and result.final.pushes_expected > 0, summary
    assert result.final.pushes_delivered == result.final.pushes_expected, summary
    assert len(result.final.duplicates) <= len(result.kills), summary
    assert result.final.unexplained == [], summary
    assert result.exit_code == 0 and result.tracebacks == [], summary
    assert sum(result.actions.values()) >= SHORT.kills, summary  # the trader did trade
