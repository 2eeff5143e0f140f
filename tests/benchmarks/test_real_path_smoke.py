"""The real-path benchmark runs end to end on a tiny book: server, bot and peer stand-in in
processes of their own, every row of its table filled, against each exchange's fake.

Structure and scenario facts only: timings are the benchmark's business, not a test's.
"""

from __future__ import annotations

import io

import pytest

from benchmarks.real_path import ROWS, label_for, main

TINY = ["--sizes", "20", "--steady-cycles", "2", "--changed-cycles", "1", "--memory-cycles", "12",
        "--peer-budget", "30"]


def test_a_tiny_real_path_run_fills_every_row() -> None:
    out = io.StringIO()
    assert main(TINY, out=out) == 0
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## Real path"))
    rows = {cells[0]: cells[1:] for line in lines[start + 1:] if line.startswith("|")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    assert [label for label, _ in ROWS] == [k for k in rows if k not in ("", "---")]
    assert all(len(cells) == 1 and cells[0] not in ("", "-") for k, cells in rows.items()
               if k not in ("", "---"))
    # The bot really ran the scenarios over HTTP: 2 requests when steady (positions and the
    # stops), the peer 1; the one change made per 1% cycle was applied; 20 stops placed.
    assert rows["steady: requests per cycle, positionbot / peer"] == ["2 / 1"]
    assert rows["1% changed: changes applied per cycle, positionbot (made on the exchange)"] \
        == ["1 (1)"]
    assert int(rows["stop loss on every position: requests"][0]) >= 20
    assert any(line.startswith(("PASS", "MISS")) and "peer stand-in" in line for line in lines)


@pytest.mark.parametrize(("exchange", "steady_requests"), [
    # Bybit: positions and stop orders, each asked for linear and inverse (one page each at 20).
    ("bybit", "4 / 1"),
    # OKX: every position in one request, the algo stops in one page.
    ("okx", "2 / 1"),
])
def test_a_tiny_real_path_run_on_a_paging_exchange_fills_every_row(
        exchange: str, steady_requests: str) -> None:
    out = io.StringIO()
    assert main([*TINY, "--exchange", exchange], out=out) == 0
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## Real path"))
    assert f"ccxt 4.5 {exchange} over local HTTP" in lines[start]
    rows = {cells[0]: cells[1:] for line in lines[start + 1:] if line.startswith("|")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    assert [label_for(label, exchange) for label, _ in ROWS] == [
        k for k in rows if k not in ("", "---")]
    assert all(len(cells) == 1 and cells[0] not in ("", "-") for k, cells in rows.items()
               if k not in ("", "---"))
    assert rows["steady: requests per cycle, positionbot / peer"] == [steady_requests]
    assert rows["1% changed: changes applied per cycle, positionbot (made on the exchange)"] \
        == ["1 (1)"]
    assert int(rows["stop loss on every position: requests"][0]) >= 20
