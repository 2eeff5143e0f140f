"""What a trader is told of an exchange's refusal: its message and code as ccxt reports them
(``"<id> <JSON body>"``) for each exchange's answer shape, masked by the redaction rules,
short, and never the JSON body, an address or another exchange's words."""

from __future__ import annotations

import ccxt.async_support as ccxt
import pytest

from positionbot.tracker.core.redact import REDACTED, add_secret
from positionbot.tracker.engine.ports import OrderRejectedError, StopPriceCrossedError
from positionbot.tracker.exchange.ccxt.retry import permanent_error, reason

BYBIT_CROSSED = ('bybit {"retCode":110093,"retMsg":"expect Falling, but trigger_price[450000000]'
                 ' >= current[440000000]??LastPrice","result":{},"retExtInfo":{},"time":1}')
OKX_CROSSED = ('okx {"code":"1","data":[{"algoClOrdId":"","algoId":"","clOrdId":"",'
               '"sCode":"51280","sMsg":"SL trigger price must be less than the last price",'
               '"tag":""}],"msg":""}')


@pytest.mark.parametrize(("text", "said"), [
    ('binanceusdm {"code":-2021,"msg":"Order would immediately trigger."}',
     "Binance refused: Order would immediately trigger (-2021)"),
    (BYBIT_CROSSED, "Bybit refused: expect Falling, but trigger_price[450000000] >= "
                    "current[440000000]??LastPrice (110093)"),
    (OKX_CROSSED, "OKX refused: SL trigger price must be less than the last price (51280)"),
    ('okx {"msg":"Invalid OK-ACCESS-KEY","code":"50111"}',
     "OKX refused: Invalid OK-ACCESS-KEY (50111)"),
])
def test_each_exchanges_refusal_is_its_message_and_code(text: str, said: str) -> None:
    assert reason(ccxt.InvalidOrder(text)) == said


def test_crossed_codes_make_the_crossed_error_and_others_a_plain_rejection() -> None:
    crossed = permanent_error(ccxt.InvalidOrder(OKX_CROSSED), "acc: place stop", order=True,
                              crossed=frozenset({"51280"}))
    other = permanent_error(ccxt.InvalidOrder(BYBIT_CROSSED), "acc: place stop", order=True,
                            crossed=frozenset({"51280"}))
    assert isinstance(crossed, StopPriceCrossedError)
    assert type(other) is OrderRejectedError
    assert other.reason.startswith("Bybit refused: expect Falling") and "{" not in str(other)


def test_a_secret_or_address_in_the_words_is_masked_and_a_long_one_cut() -> None:
    add_secret("k3y-Of-the-test-account")
    text = ('bybit {"retCode":10003,"retMsg":"API key k3y-Of-the-test-account is invalid, see '
            'https://api.bybit.com/v5/order/create?api_key=abc"}')
    said = reason(ccxt.AuthenticationError(text))
    assert "k3y-Of-the-test-account" not in said and REDACTED in said
    assert "https://" not in said and "abc" not in said and said.endswith("(10003)")
    assert len(reason(ccxt.InvalidOrder('bybit {"retCode":1,"retMsg":"' + "x" * 500 + '"}'))) < 220


def test_words_that_are_not_a_json_refusal_are_shortened_without_the_address() -> None:
    said = reason(ccxt.RequestTimeout("bybit POST https://api.bybit.com/v5/order/create "
                                      "request timeout"))
    assert said == "RequestTimeout: bybit POST api.bybit.com request timeout"
