"""Helpers shared by the tests: clocks, sample records, fixtures' building blocks."""
