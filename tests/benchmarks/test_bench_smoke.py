"""The benchmark script runs end to end on a tiny book and prints every row of its tables.

Structure only: timings are the benchmark's business, not a test's.
"""

from __future__ import annotations

import io

from benchmarks.bench_report import ROWS
from benchmarks.cycle_bench import main

TINY = ["--sizes", "50", "--steady-cycles", "5", "--memory-cycles", "12", "--changed-cycles", "3",
        "--burst-rows", "8", "--fanout-chats", "3"]


def _table(lines: list[str], title: str) -> dict[str, list[str]]:
    """The Markdown table under ``## title``, as first cell -> the other cells."""
    start = lines.index(f"## {title}") + 1
    rows: dict[str, list[str]] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_a_tiny_run_prints_every_row_and_a_verdict_per_target() -> None:
    out = io.StringIO()
    assert main(TINY, out=out) == 0
    lines = out.getvalue().splitlines()

    assert any(line.startswith("cores: ") for line in lines)
    cycle = _table(lines, "Cycle")
    assert cycle["metric"] == ["50 positions"]
    assert [label for label, _ in ROWS] == [k for k in cycle if k not in ("metric", "---")]
    assert all(len(cells) == 1 and cells[0] for cells in cycle.values())
    # Facts of the scenarios, not timings: the bench really drove the tracker through them.
    assert cycle["all new, first sync: requests / changes"][0].endswith(" / 50")
    assert cycle["all new after an empty sync: requests / priced from fills"][0].endswith(" of 50")
    assert cycle["steady: changes (must be 0)"] == ["0"]
    assert cycle["1% changed: changes applied / made per cycle"] == ["1 / 1"]
    assert cycle["memory cycles (readings after 10 and after N)"] == ["10 / 12"]

    notifier = _table(lines, "Notifier")
    runs = {name: cells for name, cells in notifier.items() if name not in ("notifier run", "---")}
    assert len(runs) == 5
    assert all(cells[-1] == "yes" for cells in runs.values())  # every outbox row drained
    assert any("groups" in name for name in runs)

    targets = lines[lines.index("## SPEC §7 targets") + 1:lines.index("## Notes") - 1]
    assert targets[0].startswith("n/a") and "10,000" in targets[0]
    assert any(t.startswith(("PASS", "MISS")) and "memory growth" in t for t in targets)
    assert sum(t.startswith(("PASS", "MISS")) and "pushes over" in t for t in targets) == 2
    assert sum(t.startswith(("PASS", "MISS")) and "into one group" in t for t in targets) == 1
