"""The stops benchmark runs end to end on a tiny book: its own fake in a process of its own,
the bot here, every row of both tables filled.

Structure and request counts only: timings are the benchmark's business, not a test's.
"""

from __future__ import annotations

import argparse

import pytest

from benchmarks.stops_bench import main_async
from positionbot.tracker.engine import stop_actions


async def test_a_tiny_stops_bench_run_fills_both_tables(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stop_actions, "STOP_CONCURRENCY", stop_actions.STOP_CONCURRENCY)
    args = argparse.Namespace(stops=20, positions=100, changed=1, concurrency=[1, 8],
                              latency_ms=[0.0], paced=False, ccxt_ms=0.01)

    await main_async(args)

    lines = capsys.readouterr().out.splitlines()
    placed = [line for line in lines if line.startswith("| 20 stops placed")]
    assert [line.split("|")[2].strip() for line in placed] == ["1", "8"]
    assert all(line.rstrip(" |").endswith(" reads, 20 writes)") for line in placed)
    changed = [line for line in lines if line.startswith("| 1% changed at 100")]
    assert len(changed) == 2 and all(line.count("|") == 9 for line in changed)
