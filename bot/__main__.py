"""``python -m positionbot.bot`` is the ``positionbot`` command."""

from positionbot.bot.cli import main

raise SystemExit(main())
