"""The forecaster: a small LSTM that reads a window of normalized log returns and outputs the
next `horizon` normalized log returns at once (a direct multi-step forecast, no feedback).

Why an LSTM: the sequences are short (tens of steps) and the model tiny (a few thousand
weights), so it trains in seconds on a CPU and its state_dict is a few tens of kB.
"""

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ForecasterConfig:
    """Everything that fixes the model's shape and its training run."""

    window: int = 32  # log returns read per forecast (window + 1 closes)
    horizon: int = 5  # log returns predicted per forecast
    hidden: int = 32
    layers: int = 1
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 0
    val_fraction: float = 0.2

    def as_dict(self) -> dict:
        return asdict(self)


class LstmForecaster(nn.Module):
    """(batch, window) normalized returns -> (batch, horizon) normalized returns."""

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            input_size=1, hidden_size=config.hidden, num_layers=config.layers, batch_first=True
        )
        self.head = nn.Linear(config.hidden, config.horizon)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        output, _ = self.lstm(windows.unsqueeze(-1))
        return self.head(output[:, -1, :])


def build(config: ForecasterConfig, device: torch.device) -> LstmForecaster:
    """A fresh model on `device`; its initial weights come from torch's global seed."""
    return LstmForecaster(config).to(device)
