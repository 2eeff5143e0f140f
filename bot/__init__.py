"""The Telegram application, the CLI and the wiring of every part.

May import: anything in positionbot; fakes only in the demo.
"""

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The installed distribution's version, for /status and ``--version``."""
    try:
        return version("positionbot")
    except PackageNotFoundError:
        return "dev"
