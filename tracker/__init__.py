"""Tracks positions: the pure core, the async engine, the exchange gateways.

May import: nothing outside tracker.
"""
