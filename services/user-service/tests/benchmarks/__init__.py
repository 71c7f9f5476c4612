"""In-process benchmarks of this service's hot paths (pytest-benchmark)."""
