"""The in-process paper exchange: a venue with Binance USDⓈ-M semantics and its gateway.

``PaperExchange`` is the venue (state and controls for tests and the demo), ``PaperGateway``
drives it through the ``ExchangeGateway`` protocol the tracker uses. The pieces live in the
``tracker.paper_*`` modules; import them from here.
"""

from tracker.paper_exchange import PaperExchange
from tracker.paper_faults import Fault
from tracker.paper_gateway import PaperGateway
from tracker.paper_markets import default_markets, synthetic_markets

__all__ = ["Fault", "PaperExchange", "PaperGateway", "default_markets", "synthetic_markets"]
