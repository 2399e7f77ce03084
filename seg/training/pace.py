"""How long a run will take, before it starts: from the pace of earlier runs on this device, else from
the pace measured by bench/train_overhead.py on a 2-core CPU. Shown next to the Start button."""

from __future__ import annotations

from dataclasses import dataclass, field

from seg.model.registry import backbone
from seg.runs import Run
from seg.util import hw

# Seconds per training image per megapixel of training size, resnet34 U-Net, forward + backward,
# validation included (bench/train_overhead.py, membrane and demo, 2-core CPU; docs/benchmarks.md#speed).
CPU_PACE = 27.0
GPU_PACE = 0.02  # one modern GPU, mixed precision: about three orders faster; corrected by the first run


@dataclass(frozen=True)
class Pace:
    """Seconds per training image per megapixel of training size on a device (forward, backward, step and
    loading), in the number format that was fastest there (seg/training/planner.py measures it)."""

    seconds: float
    precision: str = "auto"  # the format timed fastest; "auto" when not timed per format
    timings: dict = field(default_factory=dict, hash=False)  # format -> seconds per image at the timing size


def pace_of(run: Run) -> float | None:
    "Seconds per training image per megapixel that `run` took (whole epochs, validation included)."
    cfg, epochs = run.config(), run.epochs()
    if not cfg or not epochs:
        return None
    seconds = sum(e.get("seconds", 0) for e in epochs)
    h, w = hw(cfg["data"]["size"])
    images = cfg["dataset"]["train"] * len(epochs)
    arch = backbone(cfg["train"]["arch"]).cost
    return seconds / (images * h * w / 1e6 * arch) if images and seconds else None


def estimate(n_train: int, size: tuple[int, int], epochs: int, arch: str, device_kind: str,
             history: list[Run] = ()) -> tuple[float, str]:
    "(seconds, where the pace came from)."
    for run in history:
        if run.config().get("device", {}).get("kind") == device_kind:
            p = pace_of(run)
            if p:
                basis = f"pace of run {run.name}"
                break
    else:
        p, basis = (GPU_PACE if device_kind == "cuda" else CPU_PACE), "pace measured by the benchmark"
    return epochs * n_train * size[0] * size[1] / 1e6 * backbone(arch).cost * p, basis
