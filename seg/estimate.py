"""How long a run will take, before it starts: from the pace of earlier runs on this device, else from
the pace measured by bench/train_overhead.py on a 2-core CPU. Shown next to the Start button."""

from __future__ import annotations

from .runs import Run

# Seconds per training image per megapixel of training size, resnet34 U-Net, forward + backward,
# validation included (bench/train_overhead.py, membrane and demo, 2-core CPU; README).
CPU_PACE = 27.0
GPU_PACE = 0.02  # one modern GPU with mixed precision: about two orders faster; corrected by the first run
ARCH_COST = {"resnet18": 0.8, "resnet34": 1.0, "resnet50": 1.9}  # relative compute of the U-Nets


def pace_of(run: Run) -> float | None:
    "Seconds per training image per megapixel that `run` took (whole epochs, validation included)."
    cfg, epochs = run.config(), run.epochs()
    if not cfg or not epochs:
        return None
    seconds = sum(e.get("seconds", 0) for e in epochs)
    h, w = (cfg["data"]["size"], cfg["data"]["size"]) if isinstance(cfg["data"]["size"], int) else cfg["data"]["size"]
    images = cfg["dataset"]["train"] * len(epochs)
    arch = ARCH_COST.get(cfg["train"]["arch"], 1.0)
    return seconds / (images * h * w / 1e6 * arch) if images and seconds else None


def estimate(n_train: int, hw: tuple[int, int], epochs: int, arch: str, device_kind: str,
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
    return epochs * n_train * hw[0] * hw[1] / 1e6 * ARCH_COST.get(arch, 1.0) * p, basis


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {round(seconds % 3600 / 60)} min"
