"""The in-process paper exchange: a venue with Binance USDⓈ-M semantics and its gateway.

``PaperExchange`` is the venue (state and controls for tests and the demo), ``PaperGateway``
drives it through the ``ExchangeGateway`` protocol the tracker uses. The pieces live in the
``tracker.paper_*`` modules; import them from here.
"""

from positionbot.tracker.exchange.paper.faults import Fault
from positionbot.tracker.exchange.paper.gateway import PaperGateway
from positionbot.tracker.exchange.paper.markets import default_markets, synthetic_markets
from positionbot.tracker.exchange.paper.venue import PaperExchange

__all__ = ["Fault", "PaperExchange", "PaperGateway", "default_markets", "synthetic_markets"]
