"""``python -m bot`` is the ``positionbot`` command."""

from bot.cli import main

raise SystemExit(main())
