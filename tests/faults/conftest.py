from tests.tracker.conftest import env  # noqa: F401  (the same real tracker, store and paper venue)
