"""The `benchmark` fixture for services' benchmarks: it measures only when asked.

In the ordinary suite each benchmark runs once, as a test.
Measuring is asked for with `--benchmark-only`, `--benchmark-json PATH` or `--benchmark-enable`
(the toolkit's `bench_inprocess.in_process` passes the first two). Without them the `benchmark`
fixture is disabled here, so `python -m pytest -q` still checks every benchmark body against
the real backends but adds no calibration rounds and prints no benchmark table.
"""

# Imported only by services' test suites (pytest is a dev dependency, never in production).
import pytest

MEASURING_OPTIONS = ("benchmark_only", "benchmark_json", "benchmark_enable")


def measuring(config: pytest.Config) -> bool:
    return any(config.getoption(name, default=None) for name in MEASURING_OPTIONS)


@pytest.fixture
def benchmark(benchmark, request: pytest.FixtureRequest):
    """pytest-benchmark's fixture, disabled (one plain call) unless measuring was asked for."""
    if not measuring(request.config):
        benchmark.disabled = True
    return benchmark
