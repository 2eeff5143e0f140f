"""From an ``AppConfig`` to running parts: gateways, tracker settings, and an opened runtime.

Shared by ``run``, ``sync --once`` and the demo, so all three build the tracker the same way.
Anything that stops the runtime from opening (database in use, an exchange ccxt cannot serve)
becomes a ``StartupError`` whose message says what to do about it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from pydantic import SecretStr

from positionbot.bot.config import AppConfig
from positionbot.bot.notifier import notice_recipients
from positionbot.storage.lock import DatabaseInUseError
from positionbot.storage.schema import SchemaVersionError
from positionbot.storage.store import DatabaseRefusedError, Store
from positionbot.tracker.core.dust import DustPolicy
from positionbot.tracker.core.funding import FundingSettings
from positionbot.tracker.engine.ports import ExchangeGateway
from positionbot.tracker.engine.runner import SimplePositionTracker
from positionbot.tracker.engine.settings import TrackerSettings
from positionbot.tracker.engine.stream_follower import StreamFollower, StreamSettings
from positionbot.tracker.engine.stream_port import StreamSource

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The runtime cannot open; the message is meant for the person starting positionbot."""


@dataclass(frozen=True, slots=True)
class Runtime:
    """An opened store and a started tracker over the account gateways."""

    store: Store
    tracker: SimplePositionTracker
    gateways: Mapping[str, ExchangeGateway]


def tracker_settings(config: AppConfig) -> TrackerSettings:
    t = config.tracker
    dust = DustPolicy(t.dust.default_notional, dict(t.dust.assets), dict(t.dust.symbols))
    return TrackerSettings(
        verify_delay=t.verify_delay_seconds,
        pending_timeout=timedelta(minutes=t.pending_timeout_minutes),
        alert_after_failures=t.alert_after_failures,
        dust=dust,
        cycle_timeout=t.cycle_timeout_seconds,
        funding=FundingSettings(interval=timedelta(minutes=t.funding_poll_minutes)),
    )


def build_gateways(config: AppConfig) -> dict[str, ExchangeGateway]:
    """One ccxt gateway per account, kept for the life of the process (its rate limiter lives
    in it), with credentials read from the environment variables the file names."""
    from positionbot.tracker.exchange.ccxt.gateway import (
        CcxtGateway,  # deferred: ccxt takes a second to import
    )

    gateways: dict[str, ExchangeGateway] = {}
    for account in config.accounts:
        credentials = account.credentials()
        try:
            gateways[account.name] = CcxtGateway(
                account.name, account.exchange,
                api_key=_plain(credentials.api_key), secret=_plain(credentials.secret),
                password=_plain(credentials.password), sandbox=account.sandbox,
                ccxt_config=account.ccxt_config, settle_coins=account.settle_coins or None,
            )
        except ValueError as err:
            raise StartupError(f"{config.source_path}: {err}") from None
    return gateways


def build_streams(config: AppConfig) -> dict[str, StreamSource]:
    """A ccxt.pro user-data stream for every account that streams (``stream``, on by default
    where supported); the others are polled only."""
    from positionbot.tracker.exchange.ccxt.stream import (
        CcxtUserStream,  # deferred: ccxt.pro takes a second to import
    )

    streams: dict[str, StreamSource] = {}
    for account in config.accounts:
        if not account.streams:
            continue
        credentials = account.credentials()
        streams[account.name] = CcxtUserStream(
            account.name, account.exchange, api_key=_plain(credentials.api_key),
            secret=_plain(credentials.secret), password=_plain(credentials.password),
            sandbox=account.sandbox, ccxt_config=account.ccxt_config)
    return streams


def attach_followers(config: AppConfig, tracker: SimplePositionTracker, store: Store,
                     streams: Mapping[str, StreamSource],
                     settings: StreamSettings | None = None) -> None:
    """A follower per stream, started by the scheduler; a stream down longer than the REST
    path's alert delay (``alert_after_failures`` × ``interval``) pushes one alert."""
    t = config.tracker
    for name, source in streams.items():
        tracker.streams[name] = StreamFollower(
            tracker, source, store, settings or StreamSettings(),
            alert_after=t.alert_after_failures * t.interval_seconds)


def _plain(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


async def close_gateways(gateways: Mapping[str, ExchangeGateway]) -> None:
    """Close every gateway; one that fails to close does not keep the others open."""
    for name, gateway in gateways.items():
        try:
            await gateway.close()
        except Exception as err:
            log.warning("closing the gateway of %s failed: %r", name, err)


def start_fresh_record(config: AppConfig) -> int:
    """``run --fresh-db``: set a missing, empty or corrupt database aside and start a new one
    (a sound database is kept as it is); 0 when the record can be opened, 1 when not."""

    async def prepare() -> None:
        store = await Store.open(config.storage.path, fresh=True)
        await store.close()

    try:
        asyncio.run(prepare())
    except (DatabaseInUseError, DatabaseRefusedError, SchemaVersionError) as err:
        log.error("%s", err)
        return 1
    return 0


@asynccontextmanager
async def open_runtime(
    config: AppConfig, gateways: Mapping[str, ExchangeGateway] | None = None, *,
    announce: bool = True, streams: Mapping[str, StreamSource] | None = None,
    stream_settings: StreamSettings | None = None,
) -> AsyncIterator[Runtime]:
    """Open the store, build and start the tracker; on exit close the gateways and the store.

    ``gateways`` replaces the ccxt gateways the configuration describes (the demo passes its
    paper exchange and its stream, with a verifying poll on the demo's time scale); they are
    closed on exit all the same.
    """
    try:
        store = await Store.open(config.storage.path, recipients=notice_recipients(config.telegram))
    except (DatabaseInUseError, DatabaseRefusedError, SchemaVersionError) as err:
        raise StartupError(str(err)) from None
    try:
        built = dict(gateways) if gateways is not None else build_gateways(config)
    except BaseException:
        await store.close()
        raise
    followers: list[StreamFollower] = []
    try:
        tracker = SimplePositionTracker(store, built, tracker_settings(config))
        await tracker.start(announce=announce)
        attach_followers(config, tracker, store, streams or {}, stream_settings)
        followers = list(tracker.streams.values())
        yield Runtime(store, tracker, built)
    finally:
        for follower in followers:  # (the scheduler stops them first; this is idempotent)
            await follower.stop()
        await close_gateways(built)
        await store.close()
