"""Training a forecaster on closes: deterministic, measured against the random walk.

Determinism: torch's global seed fixes the initial weights and a seeded generator the order
of the minibatches, so the same closes, config and thread count give the same weights. (Only
one training runs at a time, see app.forecasting.jobs, so nothing else draws from the seed.)

Losses are the mean squared error of the next `horizon` log returns in the model's units
(returns / training std). The baseline is the zero-return forecast (the random walk: the
next closes equal the last one), scored on the same samples; a model that has learnt nothing
shows a validation loss at or above it. The final weights are those of the last epoch: the
validation split never chooses among epochs, so its loss stays an honest out-of-sample score.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from app.forecasting import model as model_lib
from app.forecasting.data import Dataset, prepare
from app.forecasting.model import ForecasterConfig

# Gradients larger than this are scaled down: a rare huge return must not blow up the LSTM.
CLIP_NORM = 1.0
EVAL_BATCH = 4_096

Progress = Callable[[dict], None]


class TrainingCancelled(Exception):
    """The service is shutting down; the run stopped between epochs."""


@dataclass
class TrainedForecaster:
    """A trained model's weights and what a checkpoint keeps beside them."""

    config: ForecasterConfig
    state_dict: dict[str, torch.Tensor]
    scale: float
    residual_rms: list[float]  # per step: RMS of validation cumulative log-return errors
    metrics: dict
    history: list[dict] = field(default_factory=list)


def _mse(predicted: torch.Tensor, target: torch.Tensor) -> float:
    return float(torch.mean((predicted - target) ** 2))


def predict_batches(net: nn.Module, x: np.ndarray, device: torch.device) -> torch.Tensor:
    """The model's outputs for every row of `x`, on the CPU."""
    net.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(x), EVAL_BATCH):
            batch = torch.from_numpy(x[start : start + EVAL_BATCH]).to(device)
            outputs.append(net(batch).cpu())
    return torch.cat(outputs)


def _epoch(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Dataset,
    config: ForecasterConfig,
    generator: torch.Generator,
    device: torch.device,
) -> float:
    """One pass over the shuffled training samples; the mean minibatch loss."""
    net.train()
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    order = torch.randperm(len(x), generator=generator)
    total, count = 0.0, 0
    for start in range(0, len(x), config.batch_size):
        rows = order[start : start + config.batch_size]
        xb, yb = x[rows].to(device), y[rows].to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(net(xb), yb)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), CLIP_NORM)
        optimizer.step()
        total += float(loss.detach()) * len(rows)
        count += len(rows)
    return total / count


def _cumulative_rms(errors: np.ndarray) -> list[float]:
    """Per step, the RMS of cumulative log-return errors (what the confidence band uses)."""
    return [float(v) for v in np.sqrt(np.mean(np.cumsum(errors, axis=1) ** 2, axis=0))]


def train(
    close: np.ndarray,
    config: ForecasterConfig,
    device: torch.device,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> TrainedForecaster:
    """Train on `close` (ascending, positive) and score the result against the random walk."""
    started = time.perf_counter()
    data = prepare(close, config)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    net = model_lib.build(config, device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    y_val = torch.from_numpy(data.y_val)

    history: list[dict] = []
    for epoch in range(1, config.epochs + 1):
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled(f"stopped after {epoch - 1} of {config.epochs} epochs")
        train_loss = _epoch(net, optimizer, data, config, generator, device)
        val_loss = _mse(predict_batches(net, data.x_val, device), y_val)
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
        if progress is not None:
            progress(history[-1])

    train_pred = predict_batches(net, data.x_train, device)
    val_pred = predict_batches(net, data.x_val, device)
    y_train = torch.from_numpy(data.y_train)
    val_errors = (y_val - val_pred).numpy() * data.scale
    residual_rms = _cumulative_rms(val_errors)
    baseline_rms = _cumulative_rms(data.y_val * data.scale)
    val_loss = _mse(val_pred, y_val)
    baseline_val = _mse(torch.zeros_like(y_val), y_val)
    metrics = {
        "train_loss": _mse(train_pred, y_train),
        "val_loss": val_loss,
        "baseline": "zero return (random walk: every next close equals the last one)",
        "baseline_train_loss": _mse(torch.zeros_like(y_train), y_train),
        "baseline_val_loss": baseline_val,
        # > 0: better than the random walk on held-out samples; <= 0: no better.
        "val_skill": 1.0 - val_loss / baseline_val if baseline_val > 0 else 0.0,
        "val_cumulative_rmse": residual_rms,
        "baseline_val_cumulative_rmse": baseline_rms,
        "loss_units": "MSE of the next horizon log returns divided by the training return std",
        "train_samples": len(data.x_train),
        "val_samples": len(data.x_val),
        "epochs": config.epochs,
        "seconds": round(time.perf_counter() - started, 3),
    }
    state = {name: tensor.detach().cpu().clone() for name, tensor in net.state_dict().items()}
    return TrainedForecaster(config, state, data.scale, residual_rms, metrics, history)
