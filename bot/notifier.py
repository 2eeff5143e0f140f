"""The notifier: drains the outbox into Telegram, in order per chat, exactly once where it can.

A row is marked sent the moment Telegram accepts its message, so a crash can at worst repeat
the one message in flight. Rate limits (429) pause delivery for ``retry_after``; network
trouble backs off exponentially (capped) and keeps the rows; a chat that is gone or has
blocked the bot fails its rows for good and is never retried. A group that became a supergroup
(``ChatMigrated``) is followed: its pushes and settings move to the new id. A group is never
sent more than its rate allows now: the rest waits and folds into a digest (``delivery_plan``).

Waits (pacing, back-off, flood control) run on a monotonic clock: a wall-clock step cannot
hold pushes back or release them early. Wall-clock time is only written into the records.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from positionbot.bot.config import NotifyMode, TelegramConfig
from positionbot.bot.delivery_plan import (
    GROUP_BURST,
    GROUP_CHAT_TYPES,
    GROUP_DIGEST_AT,
    GROUP_PERIOD_S,
    GroupBudget,
    message_units,
)
from positionbot.bot.markets_cache import MarketsCache
from positionbot.bot.preferences import KINDS, QUIET_KEY, ChatPreferences
from positionbot.bot.render.format import Chunk
from positionbot.bot.render.keyboards import info_keyboard
from positionbot.bot.render.notices import NoticeView, render_digest, render_notice
from positionbot.bot.send_errors import is_chat_gone, plain_text, retry_after_seconds
from positionbot.storage.store import Store
from positionbot.tracker.clock import utc_now
from positionbot.tracker.core.models import Market, NoticeKind
from positionbot.tracker.core.notices import Notice, NoticeDecodeError, TradeNotice, decode
from positionbot.tracker.core.records import OutboxRow

log = logging.getLogger(__name__)



@dataclass(slots=True)
class DrainStats:
    sent: int = 0  # rows delivered (a digest counts each row it carries)
    messages: int = 0
    skipped: int = 0  # rows of kinds the chat turned off
    failed: int = 0
    retried: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Pacing and retry limits; the defaults suit Telegram, tests shrink them."""

    chat_interval: float = 1.0  # seconds between messages to one private chat
    backoff_base: float = 2.0  # first retry delay after a network error, doubling per attempt
    backoff_cap: float = 300.0
    send_timeout: float = 30.0  # one send, including the rate limiter's queueing
    batch_limit: int = 200  # rows read per drain (+ chat_limit): bounds memory and a drain
    chat_limit: int = 100  # at most this many per chat (whole chats, oldest first)
    group_burst: int = GROUP_BURST  # the rate limiter's per-group bucket (bot.app), mirrored
    group_period: float = GROUP_PERIOD_S


def notice_recipients(telegram: TelegramConfig) -> Callable[[Notice], Sequence[int]]:
    """The outbox's fan-out: which chats a notice is queued for, decided by the bot layer and
    applied by the store in the transaction that records the change."""
    def recipients(notice: Notice) -> Sequence[int]:
        # Read each time: a migrated group follows. A chat limited to some accounts gets the
        # pushes about those; a bot-wide one (started, stopped) when it names any of them.
        concerns = set(getattr(notice, "accounts", ()) or (notice.account,))
        return tuple(chat for chat in telegram.notify_chats
                     if (scope := telegram.accounts_for(chat)) is None or concerns & scope)

    return recipients


ANSWERED_TTL_S = 120.0  # a /sl reply stands in for the stop push that follows within this


class _StopChat(Exception):
    """Delivery to this chat stops for this drain (the rows are already marked)."""


class Notifier:
    """Call ``drain()`` on a schedule; drains never overlap (the scheduler guarantees it)."""

    def __init__(
        self, bot: Bot, store: Store, telegram: TelegramConfig, *,
        markets: MarketsCache | None = None, clock: Callable[[], datetime] = utc_now,
        policy: DeliveryPolicy | None = None, monotonic: Callable[[], float] = time.monotonic,
        preferences: ChatPreferences | None = None,
    ) -> None:
        self._bot = bot
        self._store = store
        self._telegram = telegram
        self.preferences = preferences or ChatPreferences(telegram)  # /settings over the file
        self._markets = markets
        self._clock = clock
        self.policy = policy or DeliveryPolicy()
        self._monotonic = monotonic
        self._last_send: dict[int, float] = {}  # private chat -> monotonic time, pruned
        self._paused_until: float | None = None  # a 429 holds the whole bot back (monotonic)
        self._held: dict[int, float] = {}  # chat backing off -> monotonic time it is due again
        self._answered: dict[tuple[int, int, str], float] = {}  # (chat, trade, kind) -> deadline
        self._groups = GroupBudget(monotonic, self.policy.group_burst, self.policy.group_period)
        self._chat_types: dict[int, str] = {}  # from Telegram's answers: private, group, ...
        self.outcomes: Counter[tuple[str, str]] = Counter()  # (kind, sent|failed|skipped), for metrics

    async def drain(self) -> DrainStats:
        """Deliver every due row once; return what happened."""
        stats = DrainStats()
        now = self._monotonic()
        if self._paused_until is not None and now < self._paused_until:
            return stats
        self._held = {chat: due for chat, due in self._held.items() if due > now}
        rows = await self._store.pending_for_delivery(self._held, self.policy.batch_limit,
                                                      self.policy.chat_limit)
        by_chat: dict[int, list[OutboxRow]] = {}
        for row in rows:
            by_chat.setdefault(row.chat_id, []).append(row)
        markets = await self._markets_for({row.account for row in rows})
        await asyncio.gather(*(self._drain_chat(chat, chat_rows, markets, stats)
                               for chat, chat_rows in by_chat.items()))
        self._prune_pacing()
        return stats

    async def _drain_chat(
        self, chat_id: int, rows: list[OutboxRow], markets: Mapping[str, Mapping[str, Market]],
        stats: DrainStats,
    ) -> None:
        wanted: list[tuple[OutboxRow, bool]] = []
        for row in rows:
            if self._was_answered(chat_id, row.trade_id, row.kind):
                log.info("outbox row %d (%s) skipped: the /sl reply said it in chat %d",
                         row.id, row.kind, chat_id)
                await self._store.mark_sent(row.id, None, self._clock())
                stats.skipped += 1
                self.outcomes[row.kind, "answered"] += 1
                continue
            mode = self.preferences.mode_for(chat_id, row.kind)
            if mode is NotifyMode.OFF:
                log.info("outbox row %d (%s) skipped: off for chat %d", row.id, row.kind, chat_id)
                await self._store.mark_sent(row.id, None, self._clock())
                stats.skipped += 1
                self.outcomes[row.kind, "skipped"] += 1
                continue
            quiet = (row.notional is not None
                     and row.notional < self.preferences.quiet_below(chat_id))
            wanted.append((row, mode is NotifyMode.SILENT or quiet))
        views: list[NoticeView] = []
        readable: list[tuple[OutboxRow, bool]] = []
        for row, silent in wanted:
            try:
                notice = decode(row.kind, row.account, row.dedupe_key, row.fields)
            except NoticeDecodeError as err:  # (written by another version): must not block
                log.error("outbox row %d: %s", row.id, err)
                await self._fail([row], str(err), stats)
                continue
            symbol = notice.symbol if isinstance(notice, TradeNotice) else ""
            views.append(NoticeView(notice, markets.get(row.account, {}).get(symbol), row.id))
            readable.append((row, silent))
        wanted = readable
        await self._send_units(chat_id, wanted, views, stats)

    def is_group(self, chat_id: int) -> bool:
        """A group, supergroup or channel: as Telegram said when a message went there, else by
        the id's sign (negative for every non-private chat, which is also how the rate limiter
        tells them apart)."""
        return self._chat_types.get(chat_id, "group" if chat_id < 0 else "") in GROUP_CHAT_TYPES

    async def _send_units(
        self, chat_id: int, wanted: list[tuple[OutboxRow, bool]], views: list[NoticeView],
        stats: DrainStats,
    ) -> None:
        """Send the chat's rows in order: critical kinds alone, the rest digested from the
        chat's threshold. A group gets no more messages than fit its rate now; the rest stays
        queued (the chat is held until one more fits) and is planned again with what arrives."""
        group = self.is_group(chat_id)
        room = self._groups.room(chat_id) if group else None
        threshold = self._telegram.digest_threshold
        if group:
            threshold = min(threshold, GROUP_DIGEST_AT)
        digest = len(wanted) >= threshold or (room is not None and len(wanted) > room)
        queue = [row for row, _ in wanted]
        try:
            for unit in message_units([row.kind for row in queue], digest):
                if room is not None and room <= 0:
                    self._held[chat_id] = self._groups.next_room_at(chat_id)
                    return
                if len(unit) > 1:
                    room = await self._send_digest(chat_id, wanted[unit.start:unit.stop],
                                                   views[unit.start:unit.stop],
                                                   queue[unit.stop:], room, stats)
                    continue
                (row, silent), view = wanted[unit.start], views[unit.start]
                try:
                    rendered = render_notice(view)
                except Exception as err:  # a push that cannot be rendered must not block the chat
                    log.exception("cannot render outbox row %d", row.id)
                    await self._fail([row], f"render error: {err!r}", stats)
                    continue
                await self._deliver(chat_id, [row], queue[unit.stop:], rendered.text,
                                    rendered.keyboard, silent, stats)
                room = None if room is None else room - 1
        except _StopChat:
            return

    async def _send_digest(
        self, chat_id: int, wanted: list[tuple[OutboxRow, bool]], views: list[NoticeView],
        after: list[OutboxRow], room: int | None, stats: DrainStats,
    ) -> int | None:
        """One digest, in as few messages as fit; a group's room left (parts that do not fit
        stay queued)."""
        rows_by_id = {row.id: row for row, _ in wanted}
        silent = all(quiet for _, quiet in wanted)
        accounts = {row.account for row, _ in wanted}
        keyboard = info_keyboard(next(iter(accounts)) if len(accounts) == 1 else None)
        chunks: list[Chunk] = render_digest(views)
        for i, chunk in enumerate(chunks):
            if room is not None and room <= 0:
                self._held[chat_id] = self._groups.next_room_at(chat_id)
                raise _StopChat
            carried = [rows_by_id[owner] for owner in chunk.owners]
            later = [rows_by_id[owner] for c in chunks[i + 1:] for owner in c.owners]
            await self._deliver(chat_id, carried, [*later, *after], chunk.text,
                                keyboard if i == len(chunks) - 1 else None, silent, stats)
            room = None if room is None else room - 1
        return room

    async def _deliver(
        self, chat_id: int, carried: Sequence[OutboxRow], later: Sequence[OutboxRow], text: str,
        keyboard: InlineKeyboardMarkup | None, silent: bool, stats: DrainStats,
    ) -> None:
        """Send one message carrying ``carried`` and mark them; ``later`` are the chat's next rows.

        A transient failure books the first carried row for a retry and ends the chat's turn
        (``_StopChat``) so order holds; a chat that is gone fails ``carried`` and ``later``
        for good; a message Telegram refuses as such fails only its own rows.
        """
        await self._pace(chat_id)
        first = carried[0]
        if self.is_group(chat_id):
            self._groups.spend(chat_id)  # as the limiter does, whether or not it succeeds
        try:
            message = await self._send(chat_id, text, keyboard, silent)
        except RetryAfter as err:
            wait = retry_after_seconds(err)
            resume = self._monotonic() + wait
            self._paused_until = max(resume, self._paused_until or resume)
            log.warning("Telegram flood control: row %d waits %.0fs", first.id, wait)
            await self._store.mark_retry(first.id, str(err),
                                         self._clock() + timedelta(seconds=wait))
            stats.retried += 1
            raise _StopChat from err
        except ChatMigrated as err:
            await self._follow_migration(chat_id, err.new_chat_id)
            raise _StopChat from err
        except (BadRequest, Forbidden) as err:
            if is_chat_gone(err):
                log.error("chat %d cannot receive pushes (%s); %d row(s) failed for good",
                          chat_id, err.message, len(carried) + len(later))
                await self._fail([*carried, *later], err.message, stats)
                raise _StopChat from err
            log.error("Telegram refused row %d: %s", first.id, err.message)
            await self._fail(carried, err.message, stats)
            return
        except TelegramError as err:
            await self._retry_later(first, f"{type(err).__name__}: {err.message}", stats)
            raise _StopChat from err
        except TimeoutError as err:
            await self._retry_later(first, "send timed out", stats)
            raise _StopChat from err
        except Exception as err:  # unknown: keep the row and back off rather than spin or drop
            log.exception("unexpected failure delivering row %d", first.id)
            await self._retry_later(first, f"internal error: {err!r}", stats)
            raise _StopChat from err
        self._chat_types[chat_id] = str(message.chat.type)
        now = self._clock()
        for row in carried:
            await self._store.mark_sent(row.id, message.message_id, now)
            self.outcomes[row.kind, "sent"] += 1
        stats.sent += len(carried)
        stats.messages += 1

    async def _send(self, chat_id: int, text: str, keyboard: InlineKeyboardMarkup | None,
                    silent: bool) -> Message:
        """HTML first; if Telegram cannot parse our markup, the same words as plain text.

        The chat's pacing clock starts when the send returns: the rate limiter may have held
        the message, and stamping it before would let the next one follow too closely."""
        try:
            return await self._send_html_or_plain(chat_id, text, keyboard, silent)
        finally:
            if chat_id > 0:
                self._last_send[chat_id] = self._monotonic()

    async def _send_html_or_plain(self, chat_id: int, text: str,
                                  keyboard: InlineKeyboardMarkup | None, silent: bool) -> Message:
        try:
            return await asyncio.wait_for(self._bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                disable_notification=silent), self.policy.send_timeout)
        except BadRequest as err:
            if "can't parse entities" not in err.message.lower():
                raise
            log.error("Telegram rejected our markup (%s); sending plain text", err.message)
            return await asyncio.wait_for(self._bot.send_message(
                chat_id, plain_text(text), reply_markup=keyboard, disable_notification=silent),
                self.policy.send_timeout)

    async def _retry_later(self, row: OutboxRow, error: str, stats: DrainStats) -> None:
        policy = self.policy
        delay = min(policy.backoff_cap, policy.backoff_base * 2 ** min(row.attempts, 30))
        log.warning("push %d not delivered (%s); retry %d in %.1fs",
                    row.id, error, row.attempts + 1, delay)
        self._held[row.chat_id] = self._monotonic() + delay
        await self._store.mark_retry(row.id, error, self._clock() + timedelta(seconds=delay))
        stats.retried += 1

    def wake(self) -> None:
        """Telegram is reachable again: chats backing off from the outage are due at once."""
        self._held.clear()

    async def _carry_settings(self, old_chat: int, new_chat: int) -> None:
        """The chat's /settings choices (stored) hold for its new id too."""
        prefs = self.preferences
        for kind in KINDS:
            if prefs.is_overridden(old_chat, kind) and not prefs.is_overridden(new_chat, kind):
                await prefs.set_mode(new_chat, kind, prefs.mode_for(old_chat, kind))
        if prefs.is_overridden(old_chat, QUIET_KEY) and not prefs.is_overridden(new_chat,
                                                                                QUIET_KEY):
            await prefs.set_quiet_below(new_chat, prefs.quiet_below(old_chat))

    async def _follow_migration(self, old_chat: int, new_chat: int) -> None:
        """The group is a supergroup now: its settings and waiting pushes move to the new id
        (they go out with the next drain); the operator is told to update the config."""
        self._telegram.migrate_chat(old_chat, new_chat)
        await self._carry_settings(old_chat, new_chat)
        moved = await self._store.move_chat_pushes(old_chat, new_chat)
        log.error("chat %d was upgraded to supergroup %d: %d waiting push(es) moved there and its "
                  "settings follow it for this run. Replace %d with %d in the [telegram] config "
                  "(allowed_chats, notify_chats, chats).", old_chat, new_chat, moved, old_chat,
                  new_chat)

    async def _fail(self, rows: Sequence[OutboxRow], error: str, stats: DrainStats) -> None:
        now = self._clock()
        for row in rows:
            await self._store.mark_failed(row.id, error, now)
            self.outcomes[row.kind, "failed"] += 1
        stats.failed += len(rows)

    async def _pace(self, chat_id: int) -> None:
        """About one message per second per private chat (AIORateLimiter only paces groups)."""
        if chat_id <= 0:
            return
        wait = self._last_send.get(chat_id, 0.0) + self.policy.chat_interval - self._monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def _prune_pacing(self) -> None:
        now = self._monotonic()
        horizon = now - self.policy.chat_interval
        for chat in [c for c, at in self._last_send.items() if at < horizon]:
            del self._last_send[chat]
        for key in [k for k, until in self._answered.items() if until < now]:
            del self._answered[key]
        self._groups.prune()

    def answered(self, chat_id: int, trade_id: int, kind: NoticeKind) -> None:
        """The reply to this chat's /sl already said what the trade's next ``kind`` push says:
        the chat's copy of that push is skipped (other chats still get theirs)."""
        self._answered[(chat_id, trade_id, kind.value)] = self._monotonic() + ANSWERED_TTL_S

    def unanswered(self, chat_id: int, trade_id: int, kind: NoticeKind) -> None:
        """The /sl did not do what was announced: that push is this chat's to get after all."""
        self._answered.pop((chat_id, trade_id, kind.value), None)

    def _was_answered(self, chat_id: int, trade_id: int | None, kind: str) -> bool:
        if trade_id is None or not self._answered:
            return False
        until = self._answered.pop((chat_id, trade_id, kind), None)
        return until is not None and until >= self._monotonic()

    async def _markets_for(self, accounts: set[str]) -> dict[str, Mapping[str, Market]]:
        """Markets for number precision; without them numbers are shown normalised."""
        if self._markets is None:
            return {}
        return {account: await self._markets.get(account) for account in accounts}
