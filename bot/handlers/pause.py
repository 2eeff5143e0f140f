"""/pause and /resume: stop and allow the bot's trading commands (/long, /short, /close,
/cancel, /sl) for everyone, kept across restarts. Stops already set are still managed."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from positionbot.bot.handlers.common import reply_html
from positionbot.bot.handlers.context import App, BotContext

PAUSED = ("⏸ <b>Trading commands paused.</b> /long, /short, /close, /cancel and /sl now answer "
          "without sending anything. Stop losses already set are still kept in step with the "
          "positions. /resume allows trading again.")
RESUMED = "▶️ <b>Trading commands allowed again.</b> /pause stops them."


async def _set(update: Update, context: BotContext, paused: bool) -> None:
    message = update.effective_message
    notifier = context.bot_data.notifier
    if message is None or notifier is None:
        return
    services = context.services
    if not paused and len(services.accounts_for(message.chat.id)) < len(services.tracker.accounts):
        # Pausing only ever makes things safer; resuming concerns accounts this chat cannot see.
        await reply_html(message, "⚠️ Trading is paused for every account; only a chat that "
                                  "sees them all can /resume it.")
        return
    await notifier.preferences.set_paused(paused)
    await reply_html(message, PAUSED if paused else RESUMED)


async def _pause(update: Update, context: BotContext) -> None:
    await _set(update, context, True)


async def _resume(update: Update, context: BotContext) -> None:
    await _set(update, context, False)


def register(application: App) -> None:
    application.add_handlers([CommandHandler("pause", _pause), CommandHandler("resume", _resume)])
