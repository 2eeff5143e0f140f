"""Normalisation of ccxt structures, construction rules and retry policy, without a server."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

from positionbot.tracker.core.models import Market, OrderSide, OrderStatus, PositionMode, Side
from positionbot.tracker.engine.ports import TransientExchangeError
from positionbot.tracker.exchange.ccxt.gateway import CcxtGateway
from positionbot.tracker.exchange.ccxt.normalize import (
    normalize_fill,
    normalize_market,
    normalize_order,
    normalize_position,
    snapshot_mode,
    to_decimal,
)
from positionbot.tracker.exchange.ccxt.retry import RetryPolicy, describe
from positionbot.tracker.exchange.ccxt.scopes import listing_scopes

D = Decimal


def _binance_position(**info: str) -> dict[str, Any]:
    raw = {"symbol": "BTCUSDT", "positionSide": "BOTH", "positionAmt": "0.010",
           "entryPrice": "50000.1", "markPrice": "50100", "unRealizedProfit": "0.999",
           "liquidationPrice": "0", "notional": "501", "positionInitialMargin": "50.1"}
    raw.update(info)
    return {"symbol": "BTC/USDT:USDT", "contracts": 0.01, "entryPrice": 50000.1,
            "side": "long", "hedged": False, "marginMode": "cross", "info": raw}


def _market(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT",
                           "settle": "USDT", "contract": True, "contractSize": 1.0,
                           "precision": {"amount": 0.001, "price": 0.1},
                           "limits": {"amount": {"min": 0.001}, "cost": {"min": 100.0}}}
    raw.update(overrides)
    return raw


def test_floats_become_the_decimal_they_print_as() -> None:
    assert to_decimal(0.1, "x") == D("0.1")
    assert to_decimal(1.0, "x") == D(1) and str(to_decimal(1.0, "x")) == "1"
    assert to_decimal("67321.123456789012345678", "x") == D("67321.123456789012345678")


@pytest.mark.parametrize("bad", [None, True, "abc", "NaN", "Infinity", [1]])
def test_unreadable_numbers_are_malformed(bad: object) -> None:
    with pytest.raises(TransientExchangeError):
        to_decimal(bad, "x")


def test_binance_figures_come_from_the_raw_strings() -> None:
    raw = _binance_position(positionAmt="-0.123456789012345678",
                            entryPrice="50000.123456789012345678",
                            liquidationPrice="61000.5")

    position = normalize_position(raw, None, "binanceusdm")

    assert position is not None
    assert position.side is Side.SHORT  # from the sign of positionAmt in one-way mode
    assert position.size == D("0.123456789012345678")
    assert position.entry_price == D("50000.123456789012345678")
    assert position.unrealized_pnl == D("0.999")
    assert position.liquidation_price == D("61000.5")
    assert position.leverage == D(10)  # v3 has no leverage: notional / position margin


def test_other_exchanges_use_the_unified_fields() -> None:
    raw = {"symbol": "ETH/USDT:USDT", "contracts": 2.5, "side": "short", "entryPrice": 3001.5,
           "markPrice": 2999.25, "unrealizedPnl": 5.625, "leverage": 3.0, "hedged": True,
           "marginMode": "isolated", "liquidationPrice": None, "info": {}}
    market = Market("ETH/USDT:USDT", "ETH", "USDT", "USDT", contract_size=D("0.01"))

    position = normalize_position(raw, market, "bybit")

    assert position is not None
    assert (position.side, position.size, position.entry_price) == (Side.SHORT, D("2.5"),
                                                                    D("3001.5"))
    assert (position.mark_price, position.unrealized_pnl) == (D("2999.25"), D("5.625"))
    assert position.contract_size == D("0.01") and position.leverage == D(3)
    assert position.margin_mode == "isolated" and position.liquidation_price is None
    assert snapshot_mode([raw], binance=False) is PositionMode.HEDGE


def test_zero_size_is_dropped() -> None:
    assert normalize_position(_binance_position(positionAmt="0.000"), None, "binanceusdm") is None


@pytest.mark.parametrize("info", [{"entryPrice": ""}, {"positionAmt": "1..0"},
                                  {"positionAmt": "abc"}])
def test_malformed_position_raises_transient(info: dict[str, str]) -> None:
    raw = _binance_position(**info)
    raw["entryPrice"] = None
    with pytest.raises(TransientExchangeError, match="malformed position payload"):
        normalize_position(raw, None, "binanceusdm")


def test_binance_position_side_decides_the_mode() -> None:
    assert snapshot_mode([_binance_position()], binance=True) is PositionMode.ONE_WAY
    hedge = _binance_position(positionSide="LONG")
    assert snapshot_mode([hedge], binance=True) is PositionMode.HEDGE
    assert snapshot_mode([], binance=True) is None


def test_market_steps_in_each_precision_mode() -> None:
    tick = normalize_market(_market(), TICK_SIZE)
    places = normalize_market(_market(precision={"amount": 3, "price": 1}), DECIMAL_PLACES)

    assert (tick.amount_step, tick.price_tick) == (D("0.001"), D("0.1"))
    assert (places.amount_step, places.price_tick) == (D("0.001"), D("0.1"))
    assert (tick.min_amount, tick.min_notional, tick.contract_size) == (D("0.001"), D(100), D(1))


def test_fired_stop_names_its_order() -> None:
    raw = {"id": "77", "symbol": "BTC/USDT:USDT", "side": "sell", "type": "market",
           "status": "closed", "amount": 0.01, "clientOrderId": "sl-9", "timestamp": 1700000000000,
           "info": {"algoId": 77, "orderType": "STOP_MARKET", "quantity": "0.010",
                    "triggerPrice": "49000.5", "actualOrderId": "912", "positionSide": "BOTH"}}

    binance = normalize_order(raw, "binanceusdm", is_stop=True)
    other = normalize_order({**raw, "info": {}, "triggerPrice": 49000.5}, "bybit", is_stop=True)

    assert binance.status is OrderStatus.TRIGGERED and binance.triggered_order_id == "912"
    assert (binance.type, binance.amount, binance.trigger_price) == ("stop_market", D("0.010"),
                                                                     D("49000.5"))
    assert binance.position_side is None and binance.side is OrderSide.SELL
    assert other.triggered_order_id == "77" and other.trigger_price == D("49000.5")


def test_fee_in_another_asset_is_left_out() -> None:
    raw = {"id": "5", "order": "9", "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.01,
           "price": 50000.0, "timestamp": 1700000000000,
           "info": {"qty": "0.010", "price": "50000.00", "commission": "0.00012",
                    "commissionAsset": "BNB", "positionSide": "LONG"}}

    fill = normalize_fill(raw, "USDT", "binanceusdm")
    usdt = normalize_fill({**raw, "info": {**raw["info"], "commissionAsset": "USDT"}}, "USDT",
                          "binanceusdm")
    generic = normalize_fill({**raw, "info": {}, "fees": [{"cost": 0.2, "currency": "USDT"},
                                                          {"cost": 1.0, "currency": "BNB"}]},
                             "USDT", "okx")

    assert fill.fee == 0 and usdt.fee == D("0.00012") and generic.fee == D("0.2")
    assert fill.amount == D("0.010") and fill.position_side is Side.LONG
    assert fill.timestamp.tzinfo is not None


def test_settle_coin_sweeps() -> None:
    markets = [Market("BTC/USDT:USDT", "BTC", "USDT", "USDT"),
               Market("BTC/USDC:USDC", "BTC", "USDC", "USDC"),
               Market("BTC/USD:BTC", "BTC", "USD", "BTC")]

    assert listing_scopes("binanceusdm", markets, None) == [{}]
    assert listing_scopes("bybit", markets, None) == [
        {"subType": "linear", "settleCoin": "USDC"}, {"subType": "linear", "settleCoin": "USDT"},
        {"subType": "inverse"}]
    assert listing_scopes("bybit", markets, ["usdt"]) == [
        {"subType": "linear", "settleCoin": "USDT"}]
    assert listing_scopes("bitget", markets, ["USDT", "BTC"]) == [
        {"productType": "USDT-FUTURES", "marginCoin": "USDT"},
        {"productType": "COIN-FUTURES", "marginCoin": "BTC"}]


def test_retry_delays_are_capped_and_jittered() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=8.0)

    delays = [policy.delay(n) for n in range(10)]

    assert all(0.25 <= d <= 0.5 for d in delays[:1]) and all(d <= 8.0 for d in delays)
    assert all(d >= 4.0 for d in delays[5:])
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_descriptions_mask_signatures() -> None:
    text = describe(RuntimeError("GET /fapi/v1/order?symbol=X&signature=abcdef0123 400"))
    assert "abcdef0123" not in text and "signature=***" in text


@pytest.mark.parametrize(("exchange_id", "reason"), [("nosuchexchange", "does not know"),
                                                     ("bitstamp", "cannot list positions")])
def test_unusable_exchanges_are_refused_at_construction(exchange_id: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        CcxtGateway("acc-9", exchange_id)
