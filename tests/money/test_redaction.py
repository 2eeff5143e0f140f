"""Item 9: error texts are redacted with the log rules before they are stored or sent, and the
"unreachable" push carries a short reason."""

from __future__ import annotations

from positionbot.fakes.binance_faults import Fault
from positionbot.tracker.core.redact import add_secret, redact, short_reason
from tests.support.exchange import FAST_RETRY
from tests.support.money import ACCOUNT, Money

KEY = "hx-Access-4f1e9c2b7a"
PAGE = ("<html><head><title>502 Bad Gateway</title></head><body>upstream "
        f"https://api.hbdm.com/linear-swap-api/v1/swap_position_info?AccessKeyId={KEY}"
        "&SignatureMethod=HmacSHA256&Signature=8bd7c1ff</body></html>")


def test_query_string_credentials_are_masked_without_being_registered() -> None:
    text = redact(f"GET /v1/x?AccessKeyId={KEY}&Signature=abc&apiKey=k123&symbol=BTC")
    assert KEY not in text and "abc" not in text and "k123" not in text
    assert "symbol=BTC" in text


def test_registered_secrets_are_masked_anywhere() -> None:
    add_secret("s3cr3t-value-xyz")
    assert redact("body: {'detail': 's3cr3t-value-xyz'}") == "body: {'detail': '***'}"


def test_a_short_reason_has_no_url_and_no_html_body() -> None:
    reason = short_reason(f"ExchangeNotAvailable: htx GET https://api.hbdm.com/x?a=1 502 {PAGE}")
    assert "api.hbdm.com" in reason and "http" not in reason and "<" not in reason
    assert KEY not in reason and len(reason) <= 201


async def test_an_html_error_page_with_the_key_never_reaches_the_record_or_the_push(
        money: Money) -> None:
    failures = money.tracker.settings.alert_after_failures
    money.server.inject(*[Fault("/positionRisk", status=502, body=PAGE)]
                        * (failures * FAST_RETRY.attempts))
    for _ in range(failures):
        await money.cycle(ok=False)

    state = await money.store.get_sync_state(ACCOUNT)
    [(kind, fields)] = await money.notices()
    assert kind == "exchange_unreachable"
    for text in (state.last_error or "", str(fields["error"])):
        assert KEY not in text and "<html" not in text.lower() and "https://" not in text
        assert text
