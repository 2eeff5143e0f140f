"""The soak's results: one record per kill, the final audit, and the table the long form prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tests.soak.audit import Audit

TRIGGERS = {
    "random": "random moment while trading",
    "push": "0-20 ms after Telegram accepted a push",
    "order": "0-20 ms after the exchange took an order",
    "fallback": "no push/order came: end of window",
}


@dataclass(frozen=True)
class KillRecord:
    index: int  # 0: the first start, before any kill
    mode: str  # the planned trigger
    fired_by: str  # what actually fired it (a tripwire that never fired: "fallback")
    actions_before: int  # trader actions while the bot ran
    actions_down: int  # trader actions while it was dead
    settle_s: float  # restart to audit passing
    problems: list[str]
    duplicates: int  # new duplicate pushes this kill caused


@dataclass(frozen=True)
class SoakResult:
    records: list[KillRecord]
    final: Audit
    actions: Counter[str]
    rejected: int
    exit_code: int  # of the final SIGTERM
    tracebacks: list[str]
    leftover_stops: int  # stops of an interrupted placement the restarted bot cancelled
    duration_s: float
    exchange_requests: int
    messages: int  # in the push chat, duplicates included

    @property
    def kills(self) -> list[KillRecord]:
        return [r for r in self.records if r.index > 0]

    @property
    def failed_kills(self) -> list[KillRecord]:
        return [r for r in self.records if r.problems]

    @property
    def passed(self) -> bool:
        return (not self.failed_kills and self.final.ok and self.exit_code == 0
                and not self.final.unexplained
                and len(self.final.duplicates) <= len(self.kills))

    def table(self) -> str:
        kills = self.kills
        lines = [
            f"positionbot crash soak: {len(kills)} SIGKILLs in {self.duration_s:.0f} s",
            "",
            f"{'kill trigger':<50} {'kills':>5} {'settled':>7} {'max settle':>10} {'dups':>5}",
        ]
        for fired_by, label in TRIGGERS.items():
            group = [r for r in kills if r.fired_by == fired_by]
            if group:
                lines.append(_row(f"{fired_by}: {label}", group))
        lines.append(_row("all", kills))
        final = self.final
        dups = len(final.duplicates)
        exact = sum(d.exact for d in final.duplicates)
        lines += [
            "",
            f"manual changes: {_counts(self.actions)} (refused by the venue: {self.rejected})",
            f"position events: {final.pushes_expected} to push, {final.pushes_delivered} "
            f"delivered, {final.pushes_expected - final.pushes_delivered} lost",
            f"messages in the push chat: {self.messages}; exchange requests: "
            f"{self.exchange_requests}",
            f"duplicate pushes: {dups} ({exact} identical, {dups - exact} same headline) = "
            f"{dups / max(len(kills), 1):.3f} per kill, "
            f"{dups / max(self.messages - dups, 1):.4f} per push delivered; "
            f"unexplained unrecorded messages: {len(final.unexplained)}",
            f"stops left by a kill mid-placement, cancelled after the restart: "
            f"{self.leftover_stops}",
            f"database == exchange after every settle: "
            f"{'yes' if not self.failed_kills else 'NO'}; final audit: "
            f"{'ok' if final.ok else '; '.join(final.problems)}",
            f"final SIGTERM exit code: {self.exit_code}; tracebacks in the bot's logs: "
            f"{len(self.tracebacks)}",
        ]
        lines += [f"  {t}" for t in self.tracebacks[:10]]
        for record in self.failed_kills[:10]:
            lines.append(f"  kill {record.index} ({record.fired_by}): "
                         f"{'; '.join(record.problems[:3])}")
        return "\n".join(lines)


def _row(label: str, group: list[KillRecord]) -> str:
    settled = sum(not r.problems for r in group)
    worst = max((r.settle_s for r in group), default=0.0)
    dups = sum(r.duplicates for r in group)
    return f"{label:<50} {len(group):>5} {settled:>7} {worst:>9.1f}s {dups:>5}"


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counter.most_common())
