"""Device choice (auto, cpu, cuda), the thread count and the offline switches."""

import os

import pytest
import torch
from pydantic import ValidationError

from app.core import runtime
from app.core.config import Settings


def test_cpu_is_cpu() -> None:
    assert runtime.resolve_device("cpu") == torch.device("cpu")


def test_auto_picks_cuda_only_when_torch_sees_it() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert runtime.resolve_device("auto").type == expected


def test_cuda_without_a_gpu_refuses_with_the_fix() -> None:
    if torch.cuda.is_available():
        assert runtime.resolve_device("cuda").type == "cuda"
        return
    with pytest.raises(runtime.DeviceUnavailable, match="DEVICE=auto or cpu"):
        runtime.resolve_device("cuda")


def test_configure_sets_threads_and_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    previous = torch.get_num_threads()
    try:
        chosen = runtime.configure("cpu", 2)
        assert chosen.threads == torch.get_num_threads() == 2
        assert chosen.describe()["device"] == "cpu"
    finally:
        torch.set_num_threads(previous)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_settings_threads_from_omp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    assert Settings().threads == 8


@pytest.mark.parametrize(
    "overrides",
    [
        {"device": "tpu"},
        {"threads": 0},
        {"default_train_candles": 50_000, "max_train_candles": 100},
    ],
)
def test_settings_refuse_bad_values(overrides: dict) -> None:
    with pytest.raises(ValidationError):
        Settings(**overrides)


def test_production_refuses_an_empty_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERNAL_TOKEN", "")
    with pytest.raises(ValidationError, match="INTERNAL_TOKEN"):
        Settings(environment="production")
