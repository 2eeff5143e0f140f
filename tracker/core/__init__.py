"""The pure rules and types: models, classification, accounting, stops, orphans, ledger.

May import: nothing of the project. No I/O, no asyncio, no clock.
"""
