"""Settings: limits checked, the partial TTL never longer than the full one."""

import pytest
from pydantic import ValidationError

from app.core.config import Settings


def test_partial_results_never_outlive_complete_ones() -> None:
    assert Settings(workflow_cache_ttl=10, partial_cache_ttl=30).partial_cache_ttl == 10
    assert Settings(workflow_cache_ttl=300, partial_cache_ttl=30).partial_cache_ttl == 30


def test_default_candles_above_the_maximum_is_refused() -> None:
    with pytest.raises(ValidationError, match="DEFAULT_CANDLES"):
        Settings(default_candles=6000, max_candles=5000)


def test_the_catalog_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "MAX_WORKFLOWS": "3",
        "WORKFLOW_QUEUE": "7",
        "WORKFLOW_CACHE_TTL": "60",
        "STEP_TIMEOUT": "2.5",
    }.items():
        monkeypatch.setenv(name, value)
    s = Settings()
    assert (s.max_workflows, s.workflow_queue, s.workflow_cache_ttl, s.step_timeout) == (
        3,
        7,
        60,
        2.5,
    )
