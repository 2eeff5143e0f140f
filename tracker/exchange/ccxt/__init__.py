"""The ExchangeGateway over ccxt.

May import: tracker.core, tracker.engine.ports, tracker.clock.
"""
