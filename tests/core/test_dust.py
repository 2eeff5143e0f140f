from decimal import Decimal

from positionbot.tracker.core.dust import DustPolicy, without_dust
from positionbot.tracker.core.models import Market
from tests.core.factories import pos

D = Decimal
MARKETS = {"DOGE/USDT:USDT": Market("DOGE/USDT:USDT", "DOGE", "USDT", "USDT")}


def test_threshold_precedence_symbol_then_asset_then_default() -> None:
    policy = DustPolicy(D("1"), {"DOGE": D("5"), "BTC": D("3")}, {"BTC/USDT:USDT": D("10")})
    assert policy.threshold("BTC/USDT:USDT", "BTC") == D("10")
    assert policy.threshold("BTC/USDC:USDC", "BTC") == D("3")
    assert policy.threshold("ETH/USDT:USDT", "ETH") == D("1")


def test_positions_below_threshold_and_zero_sizes_are_dropped() -> None:
    policy = DustPolicy(D("1"), {"DOGE": D("5")})
    kept = without_dust([
        pos("BTC/USDT:USDT", size="0.001", mark="999"),  # 0.999 < 1
        pos("BTC/USDT:USDT", size="0.001", mark="1000"),  # exactly 1: kept
        pos("DOGE/USDT:USDT", size="20", mark="0.2"),  # 4 < 5
        pos("DOGE/USDT:USDT", size="30", mark="0.2"),  # 6
        pos("ETH/USDT:USDT", size="0", mark="3000"),
    ], policy, MARKETS)
    assert [(p.symbol, p.size) for p in kept] == [("BTC/USDT:USDT", D("0.001")),
                                                 ("DOGE/USDT:USDT", D("30"))]


def test_notional_uses_contract_size_and_entry_when_no_mark() -> None:
    policy = DustPolicy(D("50"))
    assert without_dust([pos(size="1", mark=None, entry="10", cs="10")], policy, {})
    assert not without_dust([pos(size="1", mark=None, entry="10", cs="1")], policy, {})
