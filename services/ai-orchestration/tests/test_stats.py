"""The workflow counters and latency percentiles."""

from app.stats import WorkflowStats, percentile


def test_percentile_by_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0


def test_cached_and_uncached_runs_are_kept_apart() -> None:
    stats = WorkflowStats()
    stats.record("complete", cached=False, total_ms=900.0)
    stats.record("partial", cached=False, total_ms=1100.0)
    stats.record("complete", cached=True, total_ms=4.0)
    stats.cache_hits, stats.cache_misses = 1, 3
    snap = stats.snapshot()
    assert (snap["completed"], snap["partial"]) == (2, 1)
    assert snap["cache"] == {"hits": 1, "misses": 3, "hit_rate": 0.25}
    assert snap["latency_ms"]["cached"] == {"runs": 1, "p50": 4.0, "p95": 4.0}
    assert snap["latency_ms"]["uncached"] == {"runs": 2, "p50": 900.0, "p95": 1100.0}
