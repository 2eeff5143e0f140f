"""Gateway implementations (ccxt, paper), side by side like an HTTP client's transports.

May import: tracker.core, tracker.engine.ports, tracker.clock.
"""
