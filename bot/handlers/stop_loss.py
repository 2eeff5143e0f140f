"""/sl: set, change or clear a stop loss by price or percent, for an open or pending trade.

Percent semantics: the number is a distance from the mark on the losing side, whatever its
sign — ``/sl BTC -2%`` (or ``2%``) puts a long's stop 2% below the mark and a short's 2% above.
``+2%`` is refused, because a stop on the winning side would fire at once. A pending trade has
no mark yet, so its percent is taken from the entry's limit price.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from positionbot.bot.callbacks import Action, Callback
from positionbot.bot.handlers.common import (
    STALE,
    button_pattern,
    buttons_of,
    edit_in_place,
    on_button,
    pressed_message,
    reply_html,
)
from positionbot.bot.handlers.confirmations import ClaimStatus, StopTap
from positionbot.bot.handlers.context import App, BotContext
from positionbot.bot.handlers.services import Services
from positionbot.bot.handlers.stop_parse import (
    StopInputError,
    StopRequest,
    looks_like_value,
    parse_stop_value,
)
from positionbot.bot.render.format import esc, fmt_price, fmt_size, sentence, side_label
from positionbot.bot.render.keyboards import (
    MAX_CHOICE_ROWS,
    choose_trade_keyboard,
    stop_menu_keyboard,
)
from positionbot.bot.render.listing import stop_state
from positionbot.bot.symbols import base_of, matching_trades
from positionbot.tracker.core.models import Market, NoticeKind, Trade, TradeStatus
from positionbot.tracker.engine.commands import Refusal, StopSpec
from positionbot.tracker.engine.ports import ExchangeError

log = logging.getLogger(__name__)

USAGE = ("Usage: <code>/sl BTC 58000</code> · <code>/sl BTC -2%</code> · "
         "<code>/sl BTC off</code> · <code>/sl</code> to pick a trade")
MENU_PERCENTS = (Decimal(1), Decimal(2), Decimal(3), Decimal(5), Decimal(10))
# A typed stop closer to the reference than this, or farther, is asked about before it is
# placed: one tick from the mark fires on noise, and "/sl BTC .5" at 60,000 is surely a typo.
SANITY_NEAR = Decimal("0.0025")
SANITY_FAR = Decimal("0.25")
NOT_YOURS_STOP = "This button was offered to someone else; send /sl for your own."
def stop_price_for(
    services: Services, trade: Trade, request: StopRequest, market: Market | None
) -> Decimal | None:
    """The absolute stop price the request means for this trade (None clears it); the
    tracker's commands validate and round it, the same code that places it."""
    if request.off:
        return None
    try:
        return services.commands.stop_price(trade, StopSpec(request.price, request.percent), market)
    except Refusal as err:
        raise StopInputError(esc(sentence(str(err)))) from None


async def apply_stop(services: Services, trade: Trade, price: Decimal | None,
                     chat_id: int | None = None) -> str:
    """Ask the tracker to set or clear the stop; the reply says what the exchange accepted,
    in the market's number format, and stands in for the push in ``chat_id`` (one answer)."""
    head = f"<b>{esc(trade.symbol)}</b> {side_label(trade.side.value)}"
    # Said before the command runs: the notifier may drain its push while the command is still
    # answering, and the reply must stand in for it either way; taken back if it did not happen.
    expected = NoticeKind.STOP_LOSS_CLEARED if price is None else NoticeKind.STOP_LOSS_PLACED
    notifier = services.notifier if chat_id is not None else None
    if notifier is not None and chat_id is not None:
        notifier.answered(chat_id, trade.id, expected)
    try:
        result = await asyncio.wait_for(
            services.commands.set_stop_loss(trade.id, None if price is None else StopSpec(price)),
            services.cycle_timeout)
    except (Refusal, ExchangeError, TimeoutError) as err:
        if notifier is not None and chat_id is not None:
            notifier.unanswered(chat_id, trade.id, expected)
        if isinstance(err, Refusal):
            return f"⚠️ {head}: {esc(err)}"
        if isinstance(err, ExchangeError):
            return f"⚠️ {head}: the exchange failed: {esc(err)}"
        return f"⚠️ {head}: the exchange did not answer in time; check /positions shortly."
    market = (await services.markets(trade.account)).get(trade.symbol)
    done = result.trade
    said = (NoticeKind.STOP_LOSS_PLACED if result.placed else NoticeKind.STOP_LOSS_CLEARED
            if price is None and done.stop_loss_price is None else None)
    if said is not expected and notifier is not None and chat_id is not None:
        notifier.unanswered(chat_id, trade.id, expected)
    if result.placed:
        order = f"\nOrder <code>{esc(result.order_id)}</code>" if result.order_id else ""
        return (f"🛡 {head}: stop loss placed at {fmt_price(done.stop_loss_price, market)} for "
                f"{fmt_size(done.stop_loss_size or done.size, market)}{order}")
    if price is None:
        return f"🧹 {head}: {esc(result.message)}"
    if done.status is TradeStatus.PENDING:
        return (f"⏳ {head}: stop loss {fmt_price(done.stop_loss_price, market)} stored; "
                "placed when the entry fills")
    return f"⚠️ {head}: {esc(result.message)}"


@dataclass(frozen=True, slots=True)
class Asker:
    """Who a stop button is offered to: only this chat, and this person, may press it."""

    chat_id: int
    user_id: int | None


def _offer(services: Services, asker: Asker, trade: Trade, price: Decimal | None) -> str:
    return services.stop_taps.put(StopTap(trade.id, price), asker.chat_id, asker.user_id)


async def stop_menu(services: Services, trade: Trade, asker: Asker
                    ) -> tuple[str, InlineKeyboardMarkup | None]:
    """The trade, its stop, and one-tap levels 1-10% away from the mark (no keyboard at all
    when there is nothing to tap: Telegram refuses an empty one)."""
    market = (await services.markets(trade.account)).get(trade.symbol)
    reference, what = services.commands.stop_reference(trade)
    short = esc(base_of(trade.symbol))
    lines = [f"🛑 <b>Stop loss</b> · <b>{esc(trade.symbol)}</b> {side_label(trade.side.value)} "
             f"{fmt_size(trade.size, market) if trade.is_open else 'pending'} · "
             f"{esc(trade.account)}",
             f"{what.capitalize()} {fmt_price(reference, market)} · {stop_state(trade, market)}"]
    choices: list[tuple[str, str]] = []
    for pct in MENU_PERCENTS if reference is not None else ():
        try:
            price = stop_price_for(services, trade, StopRequest(percent=pct), market)
        except StopInputError:
            continue
        if price is not None:
            choices.append((f"-{pct}% · {fmt_price(price, market)}",
                            _offer(services, asker, trade, price)))
    lines.append(f"Tap a level, or type <code>/sl {short} 58000</code> or "
                 f"<code>/sl {short} -2%</code>.")
    remove = (_offer(services, asker, trade, None) if trade.stop_loss_price is not None
              else None)
    keyboard = stop_menu_keyboard(choices, remove)
    return "\n".join(lines), keyboard if keyboard.inline_keyboard else None


def _outside_band(services: Services, trade: Trade, price: Decimal) -> str | None:
    """Why a typed stop price deserves a second look, or None when it is ordinary."""
    reference, what = services.commands.stop_reference(trade)
    if reference is None or reference <= 0:
        return None
    distance = abs(reference - price) / reference
    if distance < SANITY_NEAR:
        return f"only {distance * 100:.2f}% from the {what}: it may fire on the next tick"
    if distance > SANITY_FAR:
        return f"{distance * 100:.0f}% away from the {what}"
    return None


async def _settle(
    services: Services, candidates: Sequence[Trade], request: StopRequest, asker: Asker,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Apply to the one candidate, or offer a button per candidate with its own price."""
    priced: list[tuple[Trade, Decimal | None]] = []
    first_error: StopInputError | None = None
    for trade in candidates:
        market = (await services.markets(trade.account)).get(trade.symbol)
        try:
            priced.append((trade, stop_price_for(services, trade, request, market)))
        except StopInputError as err:
            first_error = first_error or err
    if not priced:
        assert first_error is not None
        return f"⚠️ {first_error}", None
    if len(candidates) == 1:
        trade, price = priced[0]
        doubt = None if price is None else _outside_band(services, trade, price)
        if doubt is None:
            return await apply_stop(services, trade, price, asker.chat_id), None
        assert price is not None
        market = (await services.markets(trade.account)).get(trade.symbol)
        shown = fmt_price(price, market)
        return (f"⚠️ A stop at <b>{esc(shown)}</b> on <b>{esc(trade.symbol)}</b> is "
                f"{esc(doubt)}. Nothing is placed unless you tap below.",
                choose_trade_keyboard([(trade, (f"place at {shown}",
                                                _offer(services, asker, trade, price)))]))
    keyboard = choose_trade_keyboard(
        [(t, ("off" if p is None else format(p, "f"), _offer(services, asker, t, p)))
         for t, p in priced]
    )
    what = "clear the stop on" if request.off else "set this stop on"
    return f"Which trade should I {what}?{_more(len(priced))}", keyboard


def _more(count: int) -> str:
    """The note under a cut list: how many are not shown and how to reach them."""
    if count <= MAX_CHOICE_ROWS:
        return ""
    return (f"\nShowing {MAX_CHOICE_ROWS} of {count}: name the symbol to narrow it down, "
            "like <code>/sl BTC</code>.")


def _picker(trades: Sequence[Trade], offset: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """Every trade of the chat, a page of ``MAX_CHOICE_ROWS`` at a time."""
    if not trades:
        return "No open or pending trades.", None
    if offset >= len(trades):
        offset = 0
    page = trades[offset:offset + MAX_CHOICE_ROWS]
    end = offset + len(page)
    shown = f"\nTrades {offset + 1}–{end} of {len(trades)}." if len(trades) > len(page) else ""
    return (f"Pick a trade to set its stop loss:{shown}",
            choose_trade_keyboard([(t, None) for t in page],
                                  next_page=end if end < len(trades) else None))


async def sl_reply(services: Services, args: Sequence[str], asker: Asker
                   ) -> tuple[str, InlineKeyboardMarkup | None]:
    """The whole /sl conversation as a pure-ish function of its arguments."""
    trades = services.trades_for(asker.chat_id)
    if not args:
        return _picker(trades, 0)
    if len(args) > 2:
        return USAGE, None
    query: str | None = args[0]
    value: str | None = args[1] if len(args) == 2 else None
    if len(args) == 1 and looks_like_value(args[0]):
        query, value = None, args[0]
    try:
        request = parse_stop_value(value) if value is not None else None
    except StopInputError as err:
        return f"⚠️ {err}\n{USAGE}", None
    candidates = matching_trades(query, trades) if query is not None else list(trades)
    if not candidates:
        if query is None:
            return "No open or pending trades.", None
        return await services.no_match(query, asker.chat_id, "open position or pending trade"), None
    if request is None:
        if len(candidates) == 1:
            return await stop_menu(services, candidates[0], asker)
        return f"Which one?{_more(len(candidates))}", choose_trade_keyboard(
            [(t, None) for t in candidates])
    return await _settle(services, candidates, request, asker)


async def _sl(update: Update, context: BotContext) -> None:
    if update.effective_message is None:
        return
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return
    asker = Asker(chat.id, user.id if user else None)
    text, keyboard = await sl_reply(context.services, context.args or [], asker)
    await reply_html(update.effective_message, text, keyboard)


_MENU_ACTIONS = frozenset({Action.STOP_MENU, Action.STOP_SET, Action.STOP_PAGE})


async def _show(query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup | None) -> None:
    """Replace a stop picker (a message of stop choices only) with what came of it; anything
    else keeps its text and gets the outcome as a reply."""
    message = pressed_message(query)
    buttons = buttons_of(message)
    if buttons and all(b is not None and b.action in _MENU_ACTIONS for b in buttons):
        await edit_in_place(query, text, keyboard)
    elif message is not None:
        await reply_html(message, text, keyboard)


async def _button(context: BotContext, query: CallbackQuery, pressed: Callback) -> None:
    """🛑 opens a trade's stop menu for whoever pressed it; a level in it (or "Remove") does
    what its token was offered for, and only for that person in that chat."""
    services = context.services
    message = pressed_message(query)
    user_id = query.from_user.id if query.from_user else None
    if message is None:  # too old for Telegram to show us: nothing to tie the press to
        await query.answer(STALE, show_alert=True)
        return
    if pressed.action is Action.STOP_PAGE:
        await query.answer()
        await edit_in_place(query, *_picker(services.trades_for(message.chat.id),
                                            int(pressed.arg)))
        return
    if pressed.action is Action.STOP_MENU:
        trade = services.find_trade(message.chat.id, pressed.trade_id)
        if trade is None:
            await query.answer(f"Trade #{pressed.arg} is no longer open or pending.")
            return
        await query.answer()
        await _show(query, *await stop_menu(services, trade, Asker(message.chat.id, user_id)))
        return
    claim = services.stop_taps.claim(pressed.arg, message.chat.id, user_id)
    if claim.status is ClaimStatus.NOT_YOURS:
        await query.answer(NOT_YOURS_STOP, show_alert=True)
        return
    if claim.item is None:
        log.info("stale or forged stop button %r", pressed.arg)
        await query.answer(STALE, show_alert=True)
        return
    tap = claim.item
    trade = services.find_trade(message.chat.id, tap.trade_id)
    if trade is None:
        await query.answer(f"Trade #{tap.trade_id} is no longer open or pending.")
        return
    price = tap.price
    if price is not None:
        market = (await services.markets(trade.account)).get(trade.symbol)
        try:  # the mark may have moved since the menu was drawn: check the level again
            price = stop_price_for(services, trade, StopRequest(price=price), market)
        except StopInputError as err:
            await query.answer()
            await _show(query, f"⚠️ {err}", None)
            return
    await query.answer("Setting the stop loss…" if price is not None else "Removing the stop…")
    await _show(query, await apply_stop(services, trade, price, message.chat.id), None)


def register(application: App) -> None:
    application.add_handlers([
        CommandHandler("sl", _sl),
        CallbackQueryHandler(on_button(_button), pattern=button_pattern(*_MENU_ACTIONS)),
    ])
