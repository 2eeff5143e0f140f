"""The Telegram application, the CLI and the wiring of every part.

May import: anything in positionbot; fakes only in the demo.
"""
