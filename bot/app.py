"""Wiring: the PTB application with its handlers, notifier and jobs; and the ``run`` command.

``build_application`` only assembles; ``start``/``stop`` bring the bot up and down in the
order that loses nothing: the outbox is flushed once more after the last cycle finished.
Tracking never waits for Telegram: cycles, stop management and the outbox start at once, and
Telegram (getMe, the command list, polling) connects in the background, retrying for as long
as it takes, while the outbox delivers whenever Telegram answers.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram import Bot, BotCommandScopeChat
from telegram.error import InvalidToken, TelegramError
from telegram.ext import AIORateLimiter, ApplicationBuilder

from positionbot.bot.config import AppConfig, TelegramConfig
from positionbot.bot.daily_report import report_job
from positionbot.bot.delivery_plan import GROUP_BURST, GROUP_PERIOD_S
from positionbot.bot.handlers import bot_commands, register_handlers
from positionbot.bot.handlers.context import CONTEXT_TYPES, App
from positionbot.bot.handlers.services import Services
from positionbot.bot.lifecycle import SystemdNotifier, stopped_notice, wait_for_signal
from positionbot.bot.markets_cache import MarketsCache
from positionbot.bot.metrics import BotMetrics, MetricsServer
from positionbot.bot.notifier import DeliveryPolicy, Notifier
from positionbot.bot.preferences import ChatPreferences
from positionbot.bot.scheduler import Scheduler, Timing
from positionbot.bot.wiring import Runtime, StartupError, build_streams, open_runtime
from positionbot.storage.store import Store
from positionbot.tracker.core.records import WriteBatch
from positionbot.tracker.engine.runner import SimplePositionTracker

log = logging.getLogger(__name__)

POLL_TIMEOUT_S = 30
FLUSH_TIMEOUT_S = 10.0
CONCURRENT_UPDATES = 8  # a slow /sync must not hold up a refresh or another command
RECONNECT_CAP_S = 30.0  # Telegram unreachable: retry at 1, 2, 4 … then every 30 s, never give up
_telegram_links: dict[int, asyncio.Task[None]] = {}  # application id -> its connecting task


def file_url_for(base_url: str) -> str:
    """The file endpoint of a Bot API server from its method endpoint (``.../bot``)."""
    root = base_url.rstrip("/")
    return (root[: -len("/bot")] if root.endswith("/bot") else root) + "/file/bot"


def telegram_rate_limiter() -> AIORateLimiter:
    """With a margin: no bursts, one message every 1/25 s overall (Telegram allows 30 a
    second); per group a bucket of 9 refilled at 9 a minute, so a few pushes go out at once
    and no minute holds more than 18 (Telegram allows 20; the default bucket of 20 would let
    40 through in a minute). The notifier keeps the same bucket per group and sends no more
    than fits, digesting the rest (``delivery_plan``). Retries are the notifier's job (it
    honours ``retry_after`` and keeps the row), so the limiter makes none."""
    return AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 25,
                          group_max_rate=GROUP_BURST, group_time_period=GROUP_PERIOD_S,
                          max_retries=0)


def build_application(
    config: AppConfig, tracker: SimplePositionTracker, store: Store, *,
    base_url: str | None = None, token: str | None = None, poll_timeout: float = POLL_TIMEOUT_S,
    timing: Timing | None = None, delivery: DeliveryPolicy | None = None,
) -> App:
    """The bot, ready for ``start``. ``base_url`` (else ``telegram.base_url``) selects a
    self-hosted Bot API server; ``token`` overrides the one read from the environment."""
    # With max_retries=0 the limiter logs every 429 as an error with a traceback before
    # re-raising it; the notifier handles and logs 429s itself. APScheduler logs three INFO
    # lines per job run (several jobs a second); its warnings (skipped runs) still show.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    telegram = config.telegram
    secret = token if token is not None else telegram.token().get_secret_value()
    builder = (
        ApplicationBuilder().token(secret).context_types(CONTEXT_TYPES)
        .rate_limiter(telegram_rate_limiter())
        .connect_timeout(10).read_timeout(15).write_timeout(15).pool_timeout(5)
        .get_updates_read_timeout(poll_timeout + 10)
        .concurrent_updates(CONCURRENT_UPDATES)
    )
    url = base_url or telegram.base_url
    if url:
        builder = builder.base_url(url).base_file_url(file_url_for(url))
    application: App = builder.build()
    markets = MarketsCache(tracker.markets)
    services = Services(tracker, store, telegram, markets,
                        cycle_timeout=config.tracker.cycle_timeout_seconds)
    register_handlers(application, services)
    tracker.monitor_only = frozenset(a.name for a in config.accounts if not a.trading)

    def pause(paused: bool) -> None:
        tracker.trading_paused = paused

    preferences = ChatPreferences(telegram, store, on_pause=pause)
    notifier = Notifier(application.bot, store, telegram, markets=markets, policy=delivery,
                        preferences=preferences)
    services.notifier = notifier
    if timing is None:
        timing = Timing(config.tracker.interval_seconds, config.tracker.cycle_timeout_seconds,
                        config.tracker.watchdog_seconds)
    assert application.job_queue is not None, "python-telegram-bot[job-queue] is required"
    scheduler = Scheduler(application.job_queue, tracker, store, notifier, timing)
    if telegram.daily_report_time is not None:
        scheduler.daily_report = (telegram.daily_report_time,
                                  report_job(tracker, store, telegram.zone, services.clock))
    application.bot_data.scheduler = scheduler
    application.bot_data.notifier = notifier
    application.bot_data.poll_timeout = poll_timeout
    return application


def scheduler_of(application: App) -> Scheduler:
    scheduler = application.bot_data.scheduler
    assert scheduler is not None, "build_application sets the scheduler"
    return scheduler


def notifier_of(application: App) -> Notifier:
    notifier = application.bot_data.notifier
    assert notifier is not None, "build_application sets the notifier"
    return notifier


async def start(application: App) -> None:
    """Start tracking (cycles, stops, outbox) now; connect Telegram in the background."""
    assert application.job_queue is not None
    await notifier_of(application).preferences.load()  # /settings choices and /pause
    await application.job_queue.start()
    scheduler_of(application).start()
    link = asyncio.create_task(connect_telegram(application), name="telegram-connect")
    link.add_done_callback(_report_link_failure)
    _telegram_links[id(application)] = link


def _report_link_failure(link: asyncio.Task[None]) -> None:
    """A connection attempt that died of something unexpected must not die silently."""
    if not link.cancelled() and (err := link.exception()) is not None:
        log.error("Telegram connection gave up (%r): no commands or pushes until a restart; "
                  "tracking and stops carry on", err)


async def connect_telegram(application: App) -> None:
    """Initialize (retrying with capped back-off while Telegram is unreachable), register the
    commands, poll. A rejected token is logged and ends the attempts; tracking carries on."""
    attempt = 0
    while True:
        attempt += 1
        try:
            await application.initialize()
            break
        except InvalidToken as err:
            log.error("Telegram rejected the bot token (%s): no commands or pushes until it is "
                      "fixed and the bot restarted; tracking and stops carry on", type(err).__name__)
            return
        except TelegramError as err:
            delay = min(2.0 ** (attempt - 1), RECONNECT_CAP_S)
            log.warning("Telegram unreachable (%s); tracking carries on, retrying in %.0fs",
                        err, delay)
            await asyncio.sleep(delay)
    log.info("Telegram connected after %d attempt(s)", attempt)
    notifier_of(application).wake()
    await register_command_menu(application.bot, application.bot_data.services.telegram)
    assert application.updater is not None
    await application.updater.start_polling(  # Telegram may drop again while we get here
        poll_interval=0, timeout=timedelta(seconds=application.bot_data.poll_timeout),
        allowed_updates=["message", "callback_query"], bootstrap_retries=-1,
    )
    await application.start()


async def register_command_menu(bot: Bot, telegram: TelegramConfig) -> None:
    """The command menu in the allowed chats and the allowed users' private chats only: a
    stranger's client shows none. A failure costs that chat its menu, nothing else."""
    try:
        await bot.delete_my_commands()  # a menu an older version registered for everyone
    except TelegramError as err:
        log.warning("could not remove the public command list: %s", err)
    for chat in dict.fromkeys([*telegram.allowed_chats, *telegram.allowed_users]):
        try:
            await bot.set_my_commands(bot_commands(), scope=BotCommandScopeChat(chat))
        except TelegramError as err:
            log.warning("could not register the command list for chat %d: %s", chat, err)


async def stop(application: App) -> None:
    """Stop polling and jobs (a running cycle finishes), flush the outbox once, shut down."""
    await scheduler_of(application).stop()
    await scheduler_of(application).stop_streams()
    link = _telegram_links.pop(id(application), None)
    if link is not None and not link.done():
        link.cancel()
        await asyncio.gather(link, return_exceptions=True)
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()  # waits for running jobs
    elif application.job_queue is not None and application.job_queue.scheduler.running:
        await application.job_queue.stop(wait=True)
    try:
        await asyncio.wait_for(notifier_of(application).drain(), FLUSH_TIMEOUT_S)
    except Exception as err:  # whatever is left stays in the outbox for the next start
        log.warning("final outbox flush incomplete: %r", err)
    await application.shutdown()
    await application.bot.shutdown()  # (when Telegram never answered: its HTTP clients)


async def serve(config: AppConfig) -> int:
    """Run until SIGINT/SIGTERM; the exit code for the CLI. Under systemd (``Type=notify``)
    READY follows a successful start and every completed cycle pings the watchdog."""
    token = config.telegram.token().get_secret_value()  # a missing token fails before anything
    systemd = SystemdNotifier()
    try:
        async with open_runtime(config, streams=build_streams(config)) as runtime:
            application = build_application(config, runtime.tracker, runtime.store, token=token)
            runtime.tracker.observers.append(lambda _: systemd.watchdog())
            server = metrics_server(config, runtime, application)
            try:
                if server is not None:
                    await server.start()
                await start(application)
            except (TelegramError, OSError) as err:
                log.error("cannot start: %s", err)
                if server is not None:
                    await server.stop()
                return 1
            systemd.ready()
            reason = await wait_for_signal()
            log.info("shutting down: %s", reason)
            systemd.stopping(reason)
            await _queue_stopped(runtime, reason)
            await stop(application)
            if server is not None:
                await server.stop()
            return 0
    except StartupError as err:
        log.error("%s", err)
        return 2
    finally:
        systemd.close()


def metrics_server(config: AppConfig, runtime: Runtime, application: App) -> MetricsServer | None:
    """The /metrics and /healthz endpoint when ``[metrics] listen`` is set."""
    if config.metrics.listen is None:
        return None
    metrics = BotMetrics(runtime.tracker, runtime.store, watchdog_after=config.tracker.watchdog_seconds,
                         notifier=notifier_of(application),
                         outbox_max_age=config.metrics.outbox_max_age_seconds)
    return MetricsServer(metrics, config.metrics.listen)


async def _queue_stopped(runtime: Runtime, reason: str) -> None:
    """The "stopped" push goes into the outbox; ``stop`` flushes it (bounded) before exit."""
    tracker = runtime.tracker
    open_trades = sum(t.is_open for a in tracker.accounts for t in tracker.book.active_trades(a))
    notice = stopped_notice(tracker.accounts, reason, open_trades, tracker.now())
    try:
        await runtime.store.commit(WriteBatch(notice.account, notices=[notice]))
    except Exception:  # the bot still stops cleanly; only the push is lost
        log.exception("could not queue the stopped push")


def run(config: AppConfig) -> int:
    """``positionbot run``: the bot in the foreground until SIGINT/SIGTERM."""
    return asyncio.run(serve(config))
