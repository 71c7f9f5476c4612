"""A forecast from the last closes: predicted closes with a confidence band per step.

The band comes from the validation residuals stored in the checkpoint: for step h, the RMS
of the errors of the cumulative log return over h steps on the held-out samples (measured
per step, not extrapolated with sqrt(h)). The band is close * exp(cum ± z * rms_h) with
z = 1.96, a 95% interval if the errors are normal with that spread. The forecast itself has
no randomness (no dropout), so the same closes always give the same answer.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from app.forecasting.data import log_returns
from app.forecasting.model import ForecasterConfig

BAND_Z = 1.96
BAND_LEVEL = 0.95
BAND_METHOD = (
    "validation residuals: for each step, the RMS of the held-out errors of the cumulative "
    "log return, times z; close * exp(predicted cumulative log return ± z * rms)"
)


@dataclass(frozen=True)
class Step:
    """One predicted close and its band."""

    step: int
    log_return: float  # cumulative, from the last close
    close: float
    lower: float
    upper: float


def forecast(
    net: nn.Module,
    config: ForecasterConfig,
    scale: float,
    residual_rms: list[float],
    close: np.ndarray,
    horizon: int,
    device: torch.device,
) -> list[Step]:
    """The next `horizon` closes after `close[-1]`, from its last window + 1 closes."""
    recent = close[-(config.window + 1) :]
    window = (log_returns(recent) / scale).astype(np.float32)
    net.eval()
    with torch.inference_mode():
        out = net(torch.from_numpy(window).unsqueeze(0).to(device))[0, :horizon].cpu().numpy()
    cumulative = np.cumsum(out.astype(np.float64) * scale)
    last = float(recent[-1])
    steps = []
    for h in range(horizon):
        spread = BAND_Z * residual_rms[h]
        steps.append(
            Step(
                step=h + 1,
                log_return=float(cumulative[h]),
                close=last * float(np.exp(cumulative[h])),
                lower=last * float(np.exp(cumulative[h] - spread)),
                upper=last * float(np.exp(cumulative[h] + spread)),
            )
        )
    return steps
