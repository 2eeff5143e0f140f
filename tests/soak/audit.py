"""What the soak checks after each restart: the database against the exchange and the chat.

* **db == exchange**: the open trades are exactly the venue's positions (symbol, side, size);
  every recorded stop order rests on the venue for the trade's full size, and no stop the bot
  placed rests there unrecorded.
* **every change pushed**: each ``position_events`` row (except the ``opened`` half of a flip,
  which the flip's own push reports) has its outbox row sent, and the message id the outbox
  recorded is a message the Bot API actually holds.
* **duplicates**: a message the Bot API holds that no outbox row recorded was accepted by
  Telegram while the bot died before recording it; the row was sent again after the restart.
  Each such message is matched to the next recorded message with the same content.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from positionbot.fakes.botapi_rules import SentMessage
from positionbot.tracker.core.models import Order, Position

OPEN = "position_opened"


@dataclass(frozen=True)
class OpenTrade:
    id: int
    symbol: str
    side: str
    size: Decimal
    stop_order_id: str | None
    stop_size: Decimal | None


@dataclass(frozen=True)
class OutboxRecord:
    dedupe_key: str
    chat_id: int
    kind: str
    status: str
    message_id: int | None
    fields: dict[str, object]  # the notice's stored JSON


@dataclass(frozen=True)
class Ledger:
    """The database as the soak reads it, from its own read-only connection."""

    open_trades: list[OpenTrade]
    events: list[tuple[int, int, str]]  # (trade_id, seq, kind)
    outbox: list[OutboxRecord]


def read_ledger(database: Path) -> Ledger:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
        trades = [OpenTrade(row[0], row[1], row[2], Decimal(row[3]), row[4],
                            Decimal(row[5]) if row[5] is not None else None)
                  for row in db.execute(
                      "SELECT id, symbol, side, current_position_size, stop_loss_order_id, "
                      "stop_loss_size FROM trades WHERE status = ? ORDER BY id", (OPEN,))]
        events = [(int(r[0]), int(r[1]), str(r[2])) for r in db.execute(
            "SELECT trade_id, seq, kind FROM position_events ORDER BY id")]
        outbox = [OutboxRecord(r[0], int(r[1]), r[2], r[3], r[4], json.loads(r[5]))
                  for r in db.execute(
                      "SELECT dedupe_key, chat_id, kind, status, message_id, fields "
                      "FROM notifications ORDER BY id")]
    return Ledger(trades, events, outbox)


@dataclass(frozen=True)
class Duplicate:
    message_id: int  # the message Telegram accepted but the outbox never recorded
    again: int  # the recorded message that carried the same push after the restart
    exact: bool  # same text to the character (else same headline: numbers rendered apart)


@dataclass
class Audit:
    problems: list[str] = field(default_factory=list)
    pushes_expected: int = 0
    pushes_delivered: int = 0
    duplicates: list[Duplicate] = field(default_factory=list)
    unexplained: list[int] = field(default_factory=list)  # unrecorded messages with no twin

    @property
    def ok(self) -> bool:
        return not self.problems


def audit(ledger: Ledger, positions: Sequence[Position], stops: Sequence[Order],
          messages: Sequence[SentMessage], push_chat: int) -> Audit:
    result = Audit()
    _positions_match(ledger, positions, result)
    _stops_match(ledger, stops, result)
    _pushes_delivered(ledger, messages, push_chat, result)
    _duplicates(ledger, messages, push_chat, result)
    return result


def _positions_match(ledger: Ledger, positions: Sequence[Position], out: Audit) -> None:
    on_venue = {(p.symbol, p.side.value): p.size for p in positions}
    recorded: dict[tuple[str, str], Decimal] = {}
    for t in ledger.open_trades:
        key = (t.symbol, t.side)
        if key in recorded:
            out.problems.append(f"two open trades for {key}")
        recorded[key] = t.size
    for key in sorted(set(on_venue) | set(recorded)):
        if on_venue.get(key) != recorded.get(key):
            out.problems.append(f"{key}: exchange {on_venue.get(key)} != database "
                                f"{recorded.get(key)}")


def _stops_match(ledger: Ledger, stops: Sequence[Order], out: Audit) -> None:
    resting = {o.id: o for o in stops}
    recorded = set()
    for t in ledger.open_trades:
        if t.stop_order_id is None:
            continue
        recorded.add(t.stop_order_id)
        order = resting.get(t.stop_order_id)
        if order is None:
            out.problems.append(f"trade #{t.id}: stop {t.stop_order_id} is not on the exchange")
        elif order.amount != t.size:
            out.problems.append(f"trade #{t.id}: stop {order.id} covers {order.amount}, "
                                f"position {t.size}")
    for order in stops:
        if order.id not in recorded:
            out.problems.append(f"stop {order.id} ({order.client_order_id}) rests on the "
                                f"exchange but no open trade records it")


def _pushes_delivered(ledger: Ledger, messages: Sequence[SentMessage], push_chat: int,
                      out: Audit) -> None:
    delivered = {m.message_id for m in messages}
    rows = {r.dedupe_key: r for r in ledger.outbox if r.chat_id == push_chat}
    flip_opened = {r.fields["new_trade_id"] for r in rows.values() if r.kind == "flipped"}
    lost = []
    for trade_id, seq, kind in ledger.events:
        if kind == "opened" and seq == 1 and trade_id in flip_opened:
            continue
        out.pushes_expected += 1
        row = rows.get(f"main/trade/{trade_id}/{seq}")
        if row is None or row.status != "sent" or row.message_id not in delivered:
            lost.append(f"#{trade_id}/{seq} {kind} ({row.status if row else 'no outbox row'})")
        else:
            out.pushes_delivered += 1
    if lost:
        out.problems.append(f"{len(lost)} change(s) not pushed: {', '.join(lost[:5])}")
    waiting = [r for r in ledger.outbox if r.status != "sent"]
    if waiting:
        out.problems.append(f"{len(waiting)} outbox row(s) not sent: "
                            f"{', '.join(f'{r.kind}:{r.status}' for r in waiting[:5])}")


def _duplicates(ledger: Ledger, messages: Sequence[SentMessage], push_chat: int,
                out: Audit) -> None:
    recorded = {r.message_id for r in ledger.outbox
                if r.chat_id == push_chat and r.message_id is not None}
    by_id = sorted(messages, key=lambda m: m.message_id)
    for message in by_id:
        if message.message_id in recorded:
            continue
        later = [m for m in by_id if m.message_id > message.message_id
                 and m.message_id in recorded]
        twin = next((m for m in later if m.text == message.text), None)
        exact = twin is not None
        if twin is None:
            headline = message.text.split("\n", 1)[0]
            twin = next((m for m in later if m.text.split("\n", 1)[0] == headline), None)
        if twin is None:
            out.unexplained.append(message.message_id)
        else:
            out.duplicates.append(Duplicate(message.message_id, twin.message_id, exact))
