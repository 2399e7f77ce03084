"""The device training and inference run on: CUDA when present, else Apple MPS, else the CPU."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Device:
    kind: str  # "cuda", "mps" or "cpu"
    name: str
    memory_gb: float | None = None
    threads: int | None = None

    @property
    def label(self) -> str:
        mem = f", {self.memory_gb:.0f} GB" if self.memory_gb else ""
        return f"{self.kind.upper()}: {self.name}{mem}"

    def to_json(self) -> dict:
        return asdict(self)


def detect() -> Device:
    "The best device here. torch (seconds to import) is asked only where an accelerator may be."
    if not accelerator_possible():
        return cpu()
    import torch
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        return Device("cuda", p.name, round(p.total_memory / 2**30, 1))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return Device("mps", "Apple GPU")
    return cpu()


def accelerator_possible() -> bool:
    """Whether this machine may have a GPU torch can use: NVIDIA's device files (Linux, containers), WSL's
    GPU bridge, ROCm's, or a Mac (MPS). Without any of them torch would find none either."""
    if sys.platform == "darwin":
        return True
    dev = Path("/dev")
    return any(dev.glob("nvidia[0-9]*")) or (dev / "dxg").exists() or (dev / "kfd").exists()


def cpu() -> Device:
    """The CPU, with the threads torch computes on: the cores this process may use, or fewer where
    `OMP_NUM_THREADS` asks for fewer (torch's own convention: a machine shared with other work)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    asked = os.environ.get("OMP_NUM_THREADS", "")
    threads = min(cores, int(asked)) if asked.isdigit() and int(asked) > 0 else cores
    return Device("cpu", f"{cores} cores", None, threads)
