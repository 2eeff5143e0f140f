"""The /pnl chart: cumulative net realized P&L over the period above the daily P&L bars.

Drawn with matplotlib's object API on the Agg canvas (no pyplot global state, so it is safe in
a worker thread: callers run it through ``asyncio.to_thread``). The PNG is opaque white with
large type, so it reads the same on a phone in a dark or a light chat theme.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from positionbot.bot.render.format import fmt_money

WIDTH_PX, HEIGHT_PX = 1200, 750
_DPI = 120
_UP, _DOWN, _LINE, _INK, _GRID = "#1f9d55", "#d64545", "#2563eb", "#1f2933", "#d5dbe1"


@dataclass(frozen=True, slots=True)
class ChartData:
    """What the chart draws, oldest day first; the last cumulative value is the period's net."""

    title: str
    currency: str
    days: tuple[date, ...]
    daily: tuple[Decimal, ...]
    cumulative: tuple[Decimal, ...]

    @classmethod
    def of(cls, title: str, currency: str,
           series: Sequence[tuple[date, Decimal, Decimal]]) -> ChartData:
        return cls(title, currency, tuple(d for d, _, _ in series),
                   tuple(n for _, n, _ in series), tuple(c for _, _, c in series))


def render_chart(data: ChartData) -> bytes:
    """The chart as PNG bytes, ``WIDTH_PX`` × ``HEIGHT_PX``."""
    fig = Figure(figsize=(WIDTH_PX / _DPI, HEIGHT_PX / _DPI), dpi=_DPI, facecolor="white")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    x = list(range(len(data.days)))
    cumulative = [float(v) for v in data.cumulative]
    daily = [float(v) for v in data.daily]
    top.plot(x, cumulative, color=_LINE, linewidth=3, marker="o" if len(x) <= 31 else None,
             markersize=5)
    top.fill_between(x, cumulative, 0, color=_LINE, alpha=0.12)
    bottom.bar(x, daily, color=[_UP if v >= 0 else _DOWN for v in daily], width=0.8)
    for ax, label in ((top, "Cumulative net P&L"), (bottom, "Daily net P&L")):
        ax.set_facecolor("white")
        ax.axhline(0, color=_INK, linewidth=1)
        ax.grid(True, axis="y", color=_GRID, linewidth=1)
        ax.set_ylabel(f"{label}\n({data.currency})", fontsize=14, color=_INK)
        ax.tick_params(labelsize=13, colors=_INK)
        for spine in ax.spines.values():
            spine.set_color(_GRID)
    labels = [d.strftime("%d %b") for d in data.days]
    bottom.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    bottom.set_xticks([t for t in bottom.get_xticks() if 0 <= t < len(x)])
    bottom.set_xticklabels([labels[int(t)] for t in bottom.get_xticks()])
    bottom.set_xlabel("Day (your time zone)", fontsize=14, color=_INK)
    total = data.cumulative[-1] if data.cumulative else Decimal(0)
    fig.suptitle(f"{data.title} · net {fmt_money(total, data.currency)}", fontsize=17,
                 color=_INK, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=_DPI, facecolor="white")
    return out.getvalue()
