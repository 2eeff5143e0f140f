"""ccxt structures -> the domain's exact types.

ccxt's unified numbers are floats, so every figure is taken from the exchange's own string in
``info`` where the exchange is known (the Binance family), and otherwise as ``Decimal(str(x))``
of the unified field, which gives back the decimal the exchange sent for any figure a float
can round-trip. A structure with a missing or garbage figure raises ``TransientExchangeError``:
a bad payload must change nothing, and the next cycle tries again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ccxt.base.decimal_to_precision import DECIMAL_PLACES, SIGNIFICANT_DIGITS

from positionbot.tracker.core.models import (
    ZERO,
    Fill,
    Market,
    Order,
    OrderSide,
    OrderStatus,
    Position,
    PositionMode,
    Side,
)
from positionbot.tracker.engine.ports import TransientExchangeError

Raw = Mapping[str, Any]

_BINANCE_POSITION_SIDES = {"LONG": Side.LONG, "SHORT": Side.SHORT}
_ORDER_STATUSES = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.CLOSED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
    "canceling": OrderStatus.OPEN,
}
# Where a fired stop names the order it became: Binance's Algo service, OKX's algo orders.
_TRIGGERED_ORDER_KEYS = ("actualOrderId", "ordId")


class Malformed(TransientExchangeError):
    """An exchange structure with a missing or unreadable field."""


def is_binance(exchange_id: str) -> bool:
    """The Binance family, whose raw ``info`` field names this module knows."""
    return exchange_id.startswith("binance")


def to_decimal(value: object, what: str) -> Decimal:
    """An exact, finite Decimal from a string, int, Decimal or (via ``str``) a float."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise Malformed(f"{what}: expected a number, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # str(1.0) would give Decimal("1.0")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise Malformed(f"{what}: expected a number, got {value!r}") from exc
    if not number.is_finite():
        raise Malformed(f"{what}: expected a finite number, got {value!r}")
    return number


def optional_decimal(value: object, what: str, *, zero_is_none: bool = False) -> Decimal | None:
    """Like ``to_decimal`` but None/"" give None (and so does 0 when ``zero_is_none``)."""
    if value is None or value == "":
        return None
    number = to_decimal(value, what)
    return None if zero_is_none and number == ZERO else number


def _pick(raw: Raw, info_keys: str | tuple[str, ...], unified_key: str, binance: bool) -> object:
    """The first raw Binance string there is among ``info_keys``, else the unified field."""
    info = raw.get("info")
    if binance and isinstance(info, Mapping):
        for key in (info_keys,) if isinstance(info_keys, str) else info_keys:
            if info.get(key) not in (None, ""):
                return info[key]
    return raw.get(unified_key)


def _text(raw: Raw, key: str, what: str) -> str:
    value = raw.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise Malformed(f"{what}: missing {key!r} in {_brief(raw)}")
    return value


def _brief(raw: Raw) -> str:
    text = repr({k: v for k, v in raw.items() if k != "info"})
    return text if len(text) <= 200 else text[:200] + "...}"


def _timestamp(value: object, what: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"{what}: missing timestamp")
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _step(precision: object, mode: int, what: str) -> Decimal:
    """A market's step from ccxt's precision in any of its precision modes."""
    if mode in (DECIMAL_PLACES, SIGNIFICANT_DIGITS):
        # Significant digits have no fixed step; their digit count is read as decimal places.
        return Decimal(1).scaleb(-int(to_decimal(precision, what)))
    return to_decimal(precision, what)


def normalize_market(raw: Raw, precision_mode: int) -> Market:
    """A contract market; its precision is converted to a step in any ccxt precision mode."""
    symbol = _text(raw, "symbol", "market")
    what = f"market {symbol}"
    precision = raw.get("precision")
    limits = raw.get("limits")
    if not isinstance(precision, Mapping) or not isinstance(limits, Mapping):
        raise Malformed(f"{what}: missing precision or limits")
    amount_limits = limits.get("amount") or {}
    cost_limits = limits.get("cost") or {}
    return Market(
        symbol=symbol,
        base=_text(raw, "base", what),
        quote=_text(raw, "quote", what),
        settle=_text(raw, "settle", what),
        contract_size=to_decimal(raw.get("contractSize") or 1, f"{what} contract size"),
        amount_step=_step(precision.get("amount"), precision_mode, f"{what} amount precision"),
        price_tick=_step(precision.get("price"), precision_mode, f"{what} price precision"),
        min_amount=optional_decimal(amount_limits.get("min"), f"{what} min amount") or ZERO,
        min_notional=optional_decimal(cost_limits.get("min"), f"{what} min notional") or ZERO,
    )


def position_hedged(raw: Raw, binance: bool) -> bool | None:
    """Whether an entry reveals hedge mode; None when it says nothing about the mode."""
    info = raw.get("info")
    if binance and isinstance(info, Mapping) and isinstance(info.get("positionSide"), str):
        return bool(info["positionSide"] != "BOTH")
    hedged = raw.get("hedged")
    return hedged if isinstance(hedged, bool) else None


def snapshot_mode(raws: Iterable[Raw], binance: bool) -> PositionMode | None:
    """The account's position mode as the entries show it, or None when none of them tells."""
    for raw in raws:
        hedged = position_hedged(raw, binance)
        if hedged is not None:
            return PositionMode.HEDGE if hedged else PositionMode.ONE_WAY
    return None


def _position_side(raw: Raw, signed_size: Decimal | None, what: str, binance: bool) -> Side:
    info = raw.get("info")
    if binance and isinstance(info, Mapping):
        side = _BINANCE_POSITION_SIDES.get(str(info.get("positionSide")))
        if side is not None:
            return side
        if signed_size is not None and signed_size != ZERO:
            return Side.LONG if signed_size > ZERO else Side.SHORT
    unified = raw.get("side")
    if unified in ("long", "short"):
        return Side(unified)
    raise Malformed(f"{what}: missing side")


def _binance_leverage(raw: Raw) -> Decimal | None:
    """Binance's v3 position risk drops ``leverage``; its position margin is notional / leverage."""
    info = raw.get("info")
    if not isinstance(info, Mapping):
        return None
    margin = optional_decimal(info.get("positionInitialMargin"), "position initial margin",
                              zero_is_none=True)
    notional = optional_decimal(info.get("notional"), "position notional", zero_is_none=True)
    if margin is None or notional is None:
        return None
    return (abs(notional) / margin).quantize(Decimal(1))


def unreadable_position_rows(answer: object) -> list[str]:
    """Binance position rows holding a size but no usable entry price.

    ccxt's ``fetch_positions`` drops such a row without a word, which would read as a close
    (missing is not flat): the gateway refuses the whole answer instead, as a glitch."""
    if not isinstance(answer, list):
        return []
    bad = []
    for row in answer:
        if not isinstance(row, Mapping) or _is_zero_text(row.get("positionAmt", "0")):
            continue
        try:
            entry = Decimal(str(row.get("entryPrice")))
        except ArithmeticError:
            entry = ZERO
        if not entry.is_finite() or entry <= ZERO:
            bad.append(str(row.get("symbol")))
    return bad


def _is_zero_text(text: object) -> bool:
    try:
        return Decimal(str(text)) == ZERO
    except ArithmeticError:
        return False


def normalize_position(raw: Raw, market: Market | None, exchange_id: str) -> Position | None:
    """One ccxt position in exact decimals, or None when its size is zero."""
    binance = is_binance(exchange_id)
    symbol = _text(raw, "symbol", "position")
    what = f"malformed position payload: {symbol}"
    signed: Decimal | None = None
    if binance and isinstance(raw.get("info"), Mapping) and "positionAmt" in raw["info"]:
        signed = to_decimal(raw["info"]["positionAmt"], f"{what} size")
        size = abs(signed)
    else:
        size = abs(to_decimal(raw.get("contracts"), f"{what} size"))
    if size == ZERO:
        return None
    leverage = optional_decimal(_pick(raw, "leverage", "leverage", binance), f"{what} leverage",
                                zero_is_none=True)
    if leverage is None and binance:
        leverage = _binance_leverage(raw)
    if market is not None:
        contract_size = market.contract_size
    else:
        contract_size = to_decimal(raw.get("contractSize") or 1, f"{what} contract size")
    entry = to_decimal(_pick(raw, "entryPrice", "entryPrice", binance), f"{what} entry")
    if entry <= ZERO:  # an open position always has an entry: this row is unreadable
        raise Malformed(f"{what}: size {size} with entry price {entry}")
    margin_mode = raw.get("marginMode")
    return Position(
        symbol=symbol,
        side=_position_side(raw, signed, what, binance),
        size=size,
        entry_price=entry,
        mark_price=optional_decimal(_pick(raw, "markPrice", "markPrice", binance),
                                    f"{what} mark", zero_is_none=True),
        unrealized_pnl=optional_decimal(_pick(raw, "unRealizedProfit", "unrealizedPnl", binance),
                                        f"{what} unrealized P&L"),
        contract_size=contract_size,
        leverage=leverage,
        margin_mode=margin_mode if isinstance(margin_mode, str) else None,
        liquidation_price=optional_decimal(
            _pick(raw, "liquidationPrice", "liquidationPrice", binance),
            f"{what} liquidation price", zero_is_none=True),
    )


def _order_status(raw: Raw, is_stop: bool, what: str) -> OrderStatus:
    status = _ORDER_STATUSES.get(str(raw.get("status")))
    if status is None:
        raise Malformed(f"{what}: unknown status {raw.get('status')!r}")
    if is_stop and status is OrderStatus.CLOSED:
        return OrderStatus.TRIGGERED
    return status


def _triggered_order_id(raw: Raw, status: OrderStatus, order_id: str) -> str | None:
    """The order a fired stop became; exchanges that keep the id (Bybit) reuse the stop's own."""
    if status is not OrderStatus.TRIGGERED:
        return None
    info = raw.get("info")
    if isinstance(info, Mapping):
        for key in _TRIGGERED_ORDER_KEYS:
            value = info.get(key)
            if value not in (None, "", 0, "0"):
                return str(value)
    return order_id


def normalize_order(raw: Raw, exchange_id: str, *, is_stop: bool) -> Order:
    """One ccxt order; ``is_stop`` says whether it came from the conditional-order service."""
    binance = is_binance(exchange_id)
    order_id = _text(raw, "id", "order")
    what = f"malformed order payload: {order_id}"
    side = raw.get("side")
    if side not in ("buy", "sell"):
        raise Malformed(f"{what}: side {side!r}")
    status = _order_status(raw, is_stop, what)
    amount = to_decimal(_pick(raw, ("origQty", "quantity"), "amount", binance), f"{what} amount")
    info = raw.get("info")
    position_side = None
    if isinstance(info, Mapping):
        position_side = _BINANCE_POSITION_SIDES.get(str(info.get("positionSide")))
    trigger = _pick(raw, ("triggerPrice", "stopPrice"), "triggerPrice", binance)
    if trigger is None:
        trigger = raw.get("stopPrice")
    client_id = raw.get("clientOrderId")
    timestamp = raw.get("timestamp")
    return Order(
        id=order_id,
        symbol=_text(raw, "symbol", what),
        side=OrderSide(side),
        type=str(_pick(raw, ("orderType", "type"), "type", binance) or "unknown").lower(),
        status=status,
        amount=amount,
        filled=optional_decimal(_pick(raw, "executedQty", "filled", binance),
                                f"{what} filled") or ZERO,
        price=optional_decimal(_pick(raw, "price", "price", binance), f"{what} price",
                               zero_is_none=True),
        trigger_price=optional_decimal(trigger, f"{what} trigger", zero_is_none=True),
        reduce_only=raw.get("reduceOnly") is True,
        is_stop=is_stop,
        position_side=position_side,
        client_order_id=client_id if isinstance(client_id, str) and client_id else None,
        triggered_order_id=_triggered_order_id(raw, status, order_id),
        timestamp=_timestamp(timestamp, what) if timestamp is not None else None,
    )


def _fill_fee(raw: Raw, settle: str, what: str, binance: bool) -> Decimal:
    """Fees paid in the settle currency; a fee in another asset (e.g. BNB) cannot be priced
    exactly here and is left out."""
    info = raw.get("info")
    if binance and isinstance(info, Mapping) and "commission" in info:
        if info.get("commissionAsset") not in (None, settle):
            return ZERO
        return to_decimal(info["commission"], f"{what} fee")
    fees = raw.get("fees") or ([raw["fee"]] if raw.get("fee") else [])
    total = ZERO
    for fee in fees:
        if isinstance(fee, Mapping) and fee.get("currency") in (None, settle):
            total += optional_decimal(fee.get("cost"), f"{what} fee") or ZERO
    return total


def normalize_fill(raw: Raw, settle: str, exchange_id: str) -> Fill:
    """One ccxt trade of the account; the fee is counted in ``settle``, positive when paid."""
    binance = is_binance(exchange_id)
    fill_id = _text(raw, "id", "fill")
    what = f"malformed fill payload: {fill_id}"
    side = raw.get("side")
    if side not in ("buy", "sell"):
        raise Malformed(f"{what}: side {side!r}")
    info = raw.get("info")
    position_side = None
    if isinstance(info, Mapping):
        position_side = _BINANCE_POSITION_SIDES.get(str(info.get("positionSide")))
    return Fill(
        id=fill_id,
        order_id=_text(raw, "order", what),
        symbol=_text(raw, "symbol", what),
        side=OrderSide(side),
        amount=to_decimal(_pick(raw, "qty", "amount", binance), f"{what} amount"),
        price=to_decimal(_pick(raw, "price", "price", binance), f"{what} price"),
        fee=_fill_fee(raw, settle, what, binance),
        timestamp=_timestamp(raw.get("timestamp"), what),
        position_side=position_side,
    )
