"""Settings: the pool's size comes from OMP_NUM_THREADS; production refuses empty secrets."""

import pytest
from pydantic import ValidationError

from app.core.config import Settings


def test_threads_follow_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert Settings(environment="test").threads == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.delenv("THREADS", raising=False)
    assert Settings(environment="test").threads == 4


def test_threads_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "0")
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Settings(environment="test")


def test_production_refuses_an_empty_internal_token() -> None:
    with pytest.raises(ValidationError, match="INTERNAL_TOKEN is empty or insecure"):
        Settings(environment="production", internal_token="")


def test_default_candles_within_the_maximum() -> None:
    with pytest.raises(ValidationError, match="DEFAULT_CANDLES must not exceed MAX_CANDLES"):
        Settings(environment="test", default_candles=5000, max_candles=1000)
