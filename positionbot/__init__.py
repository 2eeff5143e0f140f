"""positionbot: keeps a trader's record of derivatives positions true to the exchange.

The repository keeps ``bot/``, ``tracker/``, ``storage/`` and ``fakes/`` at its top level;
this package gathers them under one installed name (``positionbot.bot`` …) through
symlinks, so site-packages gets no generic top-level names and every tool (mypy, pytest,
import-linter) sees the same module names as the installed distribution.
"""
