"""/settings: per chat, each push kind on / silent / off and the quiet threshold, from buttons.

Choices are stored in the database and win over the configuration file (``bot.preferences``);
"Reset" returns the chat to the file's settings. Buttons carry ``cfg:`` data of their own.
"""

from __future__ import annotations

from decimal import Decimal

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from positionbot.bot.config import NotifyMode
from positionbot.bot.handlers.common import answer_stale, edit_in_place, reply_html
from positionbot.bot.handlers.context import App, BotContext
from positionbot.bot.preferences import KINDS, QUIET_KEY, ChatPreferences
from positionbot.bot.render.format import esc, fmt_number

PREFIX = "cfg:"
QUIET_STEPS = (Decimal(0), Decimal(50), Decimal(100), Decimal(500), Decimal(1000))
_NEXT = {NotifyMode.ON: NotifyMode.SILENT, NotifyMode.SILENT: NotifyMode.OFF,
         NotifyMode.OFF: NotifyMode.ON}
_ICON = {NotifyMode.ON: "🔔", NotifyMode.SILENT: "🔕", NotifyMode.OFF: "✖"}


def _preferences(context: BotContext) -> ChatPreferences:
    notifier = context.bot_data.notifier
    if notifier is None:
        raise RuntimeError("the notifier is not wired")
    return notifier.preferences


def render_settings(prefs: ChatPreferences, chat_id: int) -> tuple[str, InlineKeyboardMarkup]:
    """The menu: one button per kind (a tap moves it on → silent → off), the quiet threshold."""
    lines = ["⚙️ <b>Notifications in this chat</b>",
             "Tap a kind to switch it: 🔔 on → 🔕 silent → ✖ off. * = chosen here (wins over the "
             "configuration file)."]
    buttons: list[InlineKeyboardButton] = []
    for kind in KINDS:
        mode = prefs.mode_for(chat_id, kind)
        mark = "*" if prefs.is_overridden(chat_id, kind) else ""
        buttons.append(InlineKeyboardButton(f"{_ICON[mode]} {kind.replace('_', ' ')}{mark}",
                                            callback_data=f"{PREFIX}k:{kind}"))
    quiet = prefs.quiet_below(chat_id)
    mark = "*" if prefs.is_overridden(chat_id, QUIET_KEY) else ""
    lines.append(f"Changes worth less than <b>{esc(fmt_number(quiet))}</b>{mark} arrive silently "
                 "(0 = never).")
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(("• " if step == quiet else "") + f"quiet < {step}",
                                      callback_data=f"{PREFIX}q:{step}") for step in QUIET_STEPS])
    rows.append([InlineKeyboardButton("↩ Reset to the configuration", callback_data=f"{PREFIX}reset")])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def _settings(update: Update, context: BotContext) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    text, keyboard = render_settings(_preferences(context), chat.id)
    await reply_html(message, text, keyboard)


async def _press(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.message is None or not isinstance(query.data, str):
        return
    chat_id = query.message.chat.id
    prefs = _preferences(context)
    answer = await _apply(prefs, chat_id, query.data.removeprefix(PREFIX))
    if answer is None:
        await answer_stale(query)
        return
    await _show(query, prefs, chat_id)
    await query.answer(answer)


async def _apply(prefs: ChatPreferences, chat_id: int, action: str) -> str | None:
    """Carry out one tap; what to tell the user, or None for data this menu never sends."""
    verb, _, value = action.partition(":")
    if verb == "k" and value in KINDS:
        mode = _NEXT[prefs.mode_for(chat_id, value)]
        await prefs.set_mode(chat_id, value, mode)
        return f"{value.replace('_', ' ')}: {mode.value}"
    if verb == "q" and value in {str(step) for step in QUIET_STEPS}:
        await prefs.set_quiet_below(chat_id, Decimal(value))
        return f"quiet below {value}"
    if verb == "reset" and not value:
        for kind in KINDS:
            await prefs.set_mode(chat_id, kind, None)
        await prefs.set_quiet_below(chat_id, None)
        return "back to the configuration file"
    return None


async def _show(query: CallbackQuery, prefs: ChatPreferences, chat_id: int) -> None:
    text, keyboard = render_settings(prefs, chat_id)
    await edit_in_place(query, text, keyboard)


def register(application: App) -> None:
    application.add_handlers([
        CommandHandler("settings", _settings),
        CallbackQueryHandler(_press, pattern=f"^{PREFIX}"),
    ])
