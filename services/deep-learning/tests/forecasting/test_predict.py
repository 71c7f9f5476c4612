"""The forecast itself: shape, band order, horizon cut and determinism."""

import numpy as np
import pytest
import torch

from app.forecasting.model import ForecasterConfig
from app.forecasting.predict import BAND_Z, forecast
from app.forecasting.training import TrainedForecaster, train
from tests.utils import SMALL, eurusd_closes

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def trained() -> tuple[TrainedForecaster, torch.nn.Module]:
    from app.forecasting import model as model_lib

    result = train(eurusd_closes()[:600], ForecasterConfig(**SMALL), CPU)
    net = model_lib.build(result.config, CPU)
    net.load_state_dict(result.state_dict)
    return result, net


def run(trained, closes: np.ndarray, horizon: int):
    result, net = trained
    return forecast(net, result.config, result.scale, result.residual_rms, closes, horizon, CPU)


def test_steps_bands_and_determinism(trained) -> None:
    closes = eurusd_closes()[1000:1100]
    steps = run(trained, closes, 3)
    assert [s.step for s in steps] == [1, 2, 3]
    for s in steps:
        assert s.lower <= s.close <= s.upper
        assert s.close == pytest.approx(closes[-1] * np.exp(s.log_return))
    rms = trained[0].residual_rms
    assert np.log(steps[0].upper / steps[0].close) == pytest.approx(BAND_Z * rms[0])
    assert run(trained, closes, 3) == steps
    assert run(trained, closes, 2) == steps[:2]


def test_only_the_last_window_is_read(trained) -> None:
    closes = eurusd_closes()[1000:1100]
    needed = SMALL["window"] + 1
    assert run(trained, closes, 3) == run(trained, closes[-needed:], 3)
