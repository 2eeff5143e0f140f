"""The notifier over a real SQLite outbox and real PTB against the fake Bot API."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from positionbot.bot.config import TelegramConfig
from positionbot.bot.delivery_plan import CRITICAL_KINDS, GroupBudget, message_units
from positionbot.bot.notifier import DeliveryPolicy, Notifier
from positionbot.fakes.botapi_server import FakeBotApi
from positionbot.storage.store import Store, fixed_recipients
from positionbot.tracker.core.notices import Notice, PositionNotice
from positionbot.tracker.core.records import WriteBatch
from tests.support.clock import HandClock
from tests.support.notices import SAMPLES
from tests.support.telegram import FAST_DELIVERY, telegram_config

# PTB itself warns when it builds a RetryAfter; the 429s here are deliberate.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

A, B, GROUP = 111, 222, -100333


@dataclass
class Outbox:
    path: Path
    store: Store
    clock: HandClock
    seq: int = 0

    async def push(self, *chats: int, kind: str = "opened", notional: str = "1000",
                   count: int = 1) -> list[str]:
        """Queue ``count`` numbered pushes for the chats; returns their tags, in order."""
        tags: list[str] = []
        notices: list[Notice] = []
        for _ in range(count):
            self.seq += 1
            tag = f"N{self.seq:03d}"
            sample = next(n for n in SAMPLES if n.kind == kind)
            assert isinstance(sample, PositionNotice)
            notices.append(replace(sample, dedupe_key=f"test/{self.seq}",
                                   symbol=f"{tag}/USDT:USDT", notional=Decimal(notional)))
            tags.append(tag)
        self.store.recipients = fixed_recipients(chats)
        await self.store.commit(WriteBatch("main", notices=notices))
        return tags

    def rows(self) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path) as db:
            return list(db.execute(
                "SELECT id, chat_id, status, message_id, attempts, next_attempt_at, error "
                "FROM notifications ORDER BY id"))


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    clock = HandClock()
    store = await Store.open(tmp_path / "outbox.db", clock=clock)
    yield Outbox(tmp_path / "outbox.db", store, clock)
    await store.close()


def notifier_for(bot: Bot, outbox: Outbox, telegram: TelegramConfig | None = None,
                 policy: DeliveryPolicy = FAST_DELIVERY) -> Notifier:
    return Notifier(bot, outbox.store, telegram or telegram_config(), clock=outbox.clock,
                    policy=policy, monotonic=lambda: outbox.clock.now.timestamp())


def tags_seen(api: FakeBotApi, chat: int) -> list[str]:
    return [m.text.split("<b>")[2].split("/")[0] for m in api.messages(chat)]


async def test_delivers_in_order_per_chat_and_marks_rows_with_message_ids(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    tags = await outbox.push(A, B, count=3)
    stats = await notifier_for(ptb_bot, outbox).drain()
    assert (stats.sent, stats.messages) == (6, 6)
    assert tags_seen(api, A) == tags and tags_seen(api, B) == tags
    rows = outbox.rows()
    assert all(status == "sent" for _, _, status, *_ in rows)
    ids_a = [r[3] for r in rows if r[1] == A]
    assert ids_a == [m.message_id for m in api.messages(A)]
    assert (await notifier_for(ptb_bot, outbox).drain()).messages == 0
    assert await outbox.store.outbox_backlog() == 0


@pytest.mark.parametrize("mode", ["refuse", "502", "drop"])
async def test_telegram_down_then_back_delivers_everything_in_order_once(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox, mode: str,
) -> None:
    notifier = notifier_for(ptb_bot, outbox, policy=DeliveryPolicy(
        chat_interval=0, backoff_base=10, backoff_cap=40, send_timeout=5))
    tags = await outbox.push(A, count=2)
    await api.start_outage(mode)
    for _ in range(4):  # each failed attempt books a longer wait, capped at 40 s
        stats = await notifier.drain()
        assert (stats.sent, stats.retried) == (0, 1)
        outbox.clock.advance(1)
        assert (await notifier.drain()).retried == 0  # not due yet: no hammering
        outbox.clock.advance(40)
    tags += await outbox.push(A, count=2)  # new pushes queue behind the waiting ones
    first = outbox.rows()[0]
    assert first[4] == 4 and "NetworkError" in first[6]
    await api.end_outage()
    outbox.clock.advance(40)
    stats = await notifier.drain()
    assert stats.sent == 4
    assert tags_seen(api, A) == tags
    assert (await notifier.drain()).messages == 0
    assert await outbox.store.outbox_backlog() == 0


async def test_network_backoff_doubles_and_is_capped(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    notifier = notifier_for(ptb_bot, outbox, policy=DeliveryPolicy(
        chat_interval=0, backoff_base=1, backoff_cap=4, send_timeout=5))
    await outbox.push(A)
    api.fail_next("sendMessage", 502, "Bad Gateway", times=5)
    waits = []
    for _ in range(5):
        await notifier.drain()
        due = datetime.fromisoformat(outbox.rows()[0][5])
        waits.append((due - outbox.clock.now).total_seconds())
        outbox.clock.now = due
    assert waits == [1, 2, 4, 4, 4]


async def test_retry_after_is_honoured(api: FakeBotApi, ptb_bot: Bot, outbox: Outbox) -> None:
    notifier = notifier_for(ptb_bot, outbox)
    tags = await outbox.push(A, count=2)
    await outbox.push(B)
    api.flood("sendMessage", retry_after=30)
    await notifier.drain()
    sends = len(api.calls_of("sendMessage"))
    outbox.clock.advance(29)
    assert (await notifier.drain()).messages == 0
    assert len(api.calls_of("sendMessage")) == sends  # nothing tried inside the window
    outbox.clock.advance(2)
    await notifier.drain()
    assert tags_seen(api, A) == tags
    assert await outbox.store.outbox_backlog() == 0


@pytest.mark.parametrize("fault", ["block", "forget"])
async def test_a_dead_chat_fails_for_good_and_others_still_get_pushes(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox, fault: str,
) -> None:
    api.block_chat(A) if fault == "block" else api.forget_chat(A)
    tags = await outbox.push(A, B, count=3)
    notifier = notifier_for(ptb_bot, outbox)
    stats = await notifier.drain()
    assert stats.failed == 3 and stats.sent == 3
    assert tags_seen(api, B) == tags
    assert len([c for c in api.calls_of("sendMessage") if c["chat_id"] == str(A)]) == 1
    assert {r[2] for r in outbox.rows() if r[1] == A} == {"failed"}
    outbox.clock.advance(3600)
    await notifier.drain()
    assert len([c for c in api.calls_of("sendMessage") if c["chat_id"] == str(A)]) == 1


async def test_a_refused_message_fails_alone_and_the_chat_carries_on(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    tags = await outbox.push(A, count=3)
    api.fail_next("sendMessage", 400, "Bad Request: message is too long", after=1)
    stats = await notifier_for(ptb_bot, outbox).drain()
    assert (stats.sent, stats.failed, stats.retried) == (2, 1, 0)
    assert tags_seen(api, A) == [tags[0], tags[2]]
    assert [r[2] for r in outbox.rows()] == ["sent", "failed", "sent"]


async def test_modes_off_silent_and_quiet_below_notional(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    telegram = telegram_config(
        notifications={"increased": "off"}, quiet_below_notional="100",
        chats={str(A): {"notifications": {"opened": "silent"}}},
    )
    await outbox.push(A, B, kind="increased")
    await outbox.push(A, B, kind="opened", notional="5000")
    await outbox.push(B, kind="decreased", notional="50")
    await outbox.push(B, kind="decreased", notional="500")
    stats = await notifier_for(ptb_bot, outbox, telegram).drain()
    assert stats.skipped == 2 and stats.sent == 4
    assert [m.disable_notification for m in api.messages(A)] == [True]
    assert [m.disable_notification for m in api.messages(B)] == [False, True, False]
    assert all("Increased" not in m.text for m in api.messages(A) + api.messages(B))
    assert await outbox.store.outbox_backlog() == 0


async def test_many_pushes_for_one_chat_become_one_digest(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    tags = await outbox.push(A, count=7)
    await outbox.push(B, count=2)
    stats = await notifier_for(ptb_bot, outbox).drain()
    assert stats.sent == 9 and stats.messages == 3
    [digest] = api.messages(A)
    assert digest.text.startswith("🧾 <b>7 updates</b>")
    assert [t for t in tags if t in digest.text] == tags
    assert {r[3] for r in outbox.rows() if r[1] == A} == {digest.message_id}


async def test_a_huge_digest_is_split_and_each_part_marks_its_rows(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    await outbox.push(A, kind="closed", count=150)
    notifier = notifier_for(ptb_bot, outbox)
    await notifier.drain()  # 100 rows (a chat's share of one drain), then the other 50
    assert await outbox.store.outbox_backlog() == 50
    await notifier.drain()
    messages = api.messages(A)
    assert len(messages) > 1 and all(len(m.text) <= 4096 for m in messages)
    by_message = {m.message_id: m.text for m in messages}
    for tag_number, row in enumerate(outbox.rows(), start=1):
        assert f"N{tag_number:03d}/" in by_message[row[3]]


async def test_restart_mid_delivery_does_not_duplicate(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    tags = await outbox.push(A, count=4)
    api.fail_next("sendMessage", 502, "Bad Gateway", after=2)
    await notifier_for(ptb_bot, outbox).drain()
    assert tags_seen(api, A) == tags[:2]
    await outbox.store.close()  # the process dies; a new one opens the same file
    outbox.store = await Store.open(outbox.path, clock=outbox.clock)
    outbox.clock.advance(60)
    async with Bot(api.token, base_url=api.base_url) as fresh_bot:
        await notifier_for(fresh_bot, outbox).drain()
    assert tags_seen(api, A) == tags


async def test_rejected_markup_falls_back_to_plain_text(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    [tag] = await outbox.push(A, kind="closed")
    api.fail_next("sendMessage", 400, "Bad Request: can't parse entities: Unsupported start tag")
    await notifier_for(ptb_bot, outbox).drain()
    [message] = api.messages(A)
    assert message.parse_mode is None and "<b>" not in message.text
    assert f"{tag}/USDT:USDT" in message.text and "P&L" in message.text


async def test_private_chats_are_paced_groups_are_left_to_the_rate_limiter(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    await outbox.push(A, count=3)
    await outbox.push(GROUP, count=2)  # (3 would be a digest in a group)
    notifier = notifier_for(ptb_bot, outbox, policy=DeliveryPolicy(chat_interval=0.25))
    started = time.monotonic()
    await notifier.drain()
    assert time.monotonic() - started >= 0.5
    assert len(api.messages(A)) == 3 and len(api.messages(GROUP)) == 2


def test_critical_kinds_stand_alone_and_the_runs_between_them_fold() -> None:
    kinds = ["opened", "opened", "stop_loss_hit", "closed", "watchdog", "opened"]
    assert message_units(kinds, digest=True) == [range(0, 2), range(2, 3), range(3, 4),
                                                 range(4, 5), range(5, 6)]
    assert message_units(kinds[:2], digest=True) == [range(0, 2)]
    assert message_units(kinds, digest=False) == [range(i, i + 1) for i in range(6)]
    assert {"stop_loss_hit", "stop_loss_failed", "stop_loss_removed"} <= CRITICAL_KINDS


def test_the_group_budget_is_the_limiters_bucket() -> None:
    now = [0.0]
    budget = GroupBudget(lambda: now[0], burst=9, period=60)
    assert budget.room(GROUP) == 9
    for _ in range(9):
        budget.spend(GROUP)
    assert budget.room(GROUP) == 0
    assert budget.next_room_at(GROUP) == pytest.approx(60 / 9)
    now[0] = 60 / 9
    assert budget.room(GROUP) == 1
    now[0] = 60.0
    budget.prune()
    assert budget.room(GROUP) == 9


async def test_a_group_digests_from_three_pushes_a_private_chat_from_its_threshold(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    tags = await outbox.push(A, GROUP, count=3)
    await notifier_for(ptb_bot, outbox).drain()
    assert tags_seen(api, A) == tags  # private: threshold 5, so three messages
    [digest] = api.messages(GROUP)
    assert digest.text.startswith("🧾 <b>3 updates</b>") and all(t in digest.text for t in tags)


async def test_a_stop_loss_hit_keeps_its_own_message_in_its_place(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    before = await outbox.push(A, GROUP, count=5)
    [hit] = await outbox.push(A, GROUP, kind="stop_loss_hit")
    after = await outbox.push(A, GROUP, count=2)
    await notifier_for(ptb_bot, outbox).drain()
    for chat in (A, GROUP):
        first, alone, last = api.messages(chat)
        assert first.text.startswith("🧾 <b>5 updates</b>") and all(t in first.text
                                                                     for t in before)
        assert alone.text.startswith("🛑 <b>Stop loss hit</b>") and hit in alone.text
        assert "Exit" in alone.text and alone.reply_markup  # the full push, with its buttons
        assert last.text.startswith("🧾 <b>2 updates</b>") and all(t in last.text for t in after)
    assert await outbox.store.outbox_backlog() == 0


async def test_a_burst_to_a_group_folds_into_digests_and_never_outruns_its_rate(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    """Two pushes a second into a group: no message ever waits in the rate limiter (the
    notifier sends only what fits) and every push goes out within one refill of the bucket."""
    notifier = notifier_for(ptb_bot, outbox)
    sent_at: list[float] = []
    queued: dict[str, float] = {}
    for _ in range(120):
        for tag in await outbox.push(GROUP, count=2):
            queued[tag] = outbox.clock.now.timestamp()
        before = len(api.messages(GROUP))
        await notifier.drain()
        sent_at += [outbox.clock.now.timestamp()] * (len(api.messages(GROUP)) - before)
        outbox.clock.advance(1)
    for _ in range(10):  # the tail
        before = len(api.messages(GROUP))
        await notifier.drain()
        sent_at += [outbox.clock.now.timestamp()] * (len(api.messages(GROUP)) - before)
        outbox.clock.advance(60 / 9)
    assert await outbox.store.outbox_backlog() == 0
    texts = [m.text for m in api.messages(GROUP)]
    delays = [next(at for text, at in zip(texts, sent_at, strict=True) if tag in text) - since
              for tag, since in queued.items()]
    assert max(delays) <= 60 / 9 + 1  # one refill of the bucket, plus the drain's second
    assert len(texts) < 40 and any(t.startswith("🧾") for t in texts)
    for i, t in enumerate(sent_at):  # the limiter's bucket: 9 at once, then 9 a minute
        assert sum(1 for u in sent_at[i:] if u < t + 60) <= 18
    rows = {r[0]: r[3] for r in outbox.rows()}
    assert len(set(rows.values())) == len(texts)


async def test_a_chats_backlog_is_read_whole_so_it_digests_beside_other_chats(
    api: FakeBotApi, ptb_bot: Bot, outbox: Outbox,
) -> None:
    """Rows fanned out to two chats interleave by id; a drain that can read 6 rows takes
    one chat's 6 (a digest), not 3 of each (three messages each)."""
    tags = await outbox.push(A, B, count=6)
    notifier = notifier_for(ptb_bot, outbox, policy=replace(FAST_DELIVERY, batch_limit=6))
    assert (await notifier.drain()).messages == 1
    assert (await notifier.drain()).messages == 1
    for chat in (A, B):
        [digest] = api.messages(chat)
        assert digest.text.startswith("🧾 <b>6 updates</b>") and all(t in digest.text for t in tags)
