"""PTB's typed context for every handler: ``context.services`` and ``context.desk``, set once by
the wiring, instead of closures over them or string keys in ``bot_data``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import CallbackQuery, Update
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from positionbot.bot.callbacks import Callback
from positionbot.bot.handlers.services import Services
from positionbot.bot.handlers.trading_desk import TradingDesk
from positionbot.bot.notifier import Notifier
from positionbot.bot.scheduler import Scheduler


class BotData:
    """``context.bot_data``: PTB creates it empty, ``build_application`` fills it."""

    __slots__ = ("_desk", "_services", "notifier", "poll_timeout", "scheduler")

    def __init__(self) -> None:
        self._services: Services | None = None
        self._desk: TradingDesk | None = None
        self.scheduler: Scheduler | None = None
        self.notifier: Notifier | None = None
        self.poll_timeout: float = 30.0

    def wire(self, services: Services, desk: TradingDesk) -> None:
        self._services = services
        self._desk = desk

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the bot's services are not wired yet")
        return self._services

    @property
    def desk(self) -> TradingDesk:
        if self._desk is None:
            raise RuntimeError("the bot's services are not wired yet")
        return self._desk


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The context every handler and job gets."""

    @property
    def services(self) -> Services:
        return self.bot_data.services

    @property
    def desk(self) -> TradingDesk:
        return self.bot_data.desk


CONTEXT_TYPES = ContextTypes(context=BotContext, bot_data=BotData)
App = Application[Any, BotContext, Any, Any, BotData, Any]
Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]
ButtonHandler = Callable[[BotContext, CallbackQuery, Callback], Coroutine[Any, Any, None]]
