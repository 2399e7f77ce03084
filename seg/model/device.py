"""The device training and inference run on: CUDA when present, else Apple MPS, else the CPU."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass


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
    import torch
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        return Device("cuda", p.name, round(p.total_memory / 2**30, 1))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return Device("mps", "Apple GPU")
    return cpu()


def cpu() -> Device:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return Device("cpu", f"{cores} cores", None, cores)
