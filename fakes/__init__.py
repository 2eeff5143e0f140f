"""Local servers speaking the exchanges' and Telegram's wire formats (tests, benchmarks, soak).

May import: tracker.core, tracker.exchange.paper (never the code they test).
"""
