"""Benchmarks here measure only when asked (see servicekit.pytest_benchmarks)."""

from servicekit.pytest_benchmarks import benchmark  # noqa: F401 - the fixture, shared
