from tests.telegram.conftest import api, store  # noqa: F401  (the fake Bot API and a real SQLite store)
from tests.tracker.conftest import env  # noqa: F401  (the same real tracker, store and paper venue)
