"""Telegram HTML for pushes, listings and keyboards.

May import: tracker.core, tracker.engine, bot.callbacks.
"""
