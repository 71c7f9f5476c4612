"""Benchmarks here measure only when asked (see servicekit_testing.benchmarks)."""

from servicekit_testing.benchmarks import benchmark  # noqa: F401 - the fixture, shared
