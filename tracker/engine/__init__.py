"""The async shell: the cycle runner, the account book, trade commands and the ports.

May import: tracker.core, tracker.clock.
"""
