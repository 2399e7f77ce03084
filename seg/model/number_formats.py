"""Number format and memory layout for training and prediction, per device, chosen by timing.

A CPU may run a U-Net faster in float32 with channels-last layout, or in bfloat16 (autocast) where the
processor computes bfloat16 natively (AVX-512 BF16, AMX); a GPU in float16 or bfloat16. Which is
fastest depends on the processor and the model, so `auto` times a few real steps of each candidate
(seg/training/format_choice.py) and takes the fastest. Weights, loss and metrics stay float32 whatever is
chosen: autocast computes the convolutions in the lower precision and keeps the parameters in float32.
Cheap to import: torch is imported only by `autocast`."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from pathlib import Path

from seg.errors import SettingsError
from seg.model.settings import PRECISIONS
from seg.util import read_json, remember_json

CHOICES = PRECISIONS  # what a user may ask for: auto, fp32, bf16, fp16, or an exact format


@dataclass(frozen=True)
class Precision:
    name: str  # fp32, fp32-cl, bf16-cl, fp16-cl
    dtype: str | None  # autocast dtype: None (float32 throughout), "bfloat16", "float16"
    channels_last: bool

    @property
    def label(self) -> str:
        number = {None: "float32", "bfloat16": "bfloat16 autocast", "float16": "float16 autocast"}[self.dtype]
        return number + (", channels-last" if self.channels_last else "")

    def to_json(self) -> dict:
        return {**asdict(self), "label": self.label}


FP32 = Precision("fp32", None, False)  # what segboard did before: the reference for quality
FP32_CL = Precision("fp32-cl", None, True)
BF16_CL = Precision("bf16-cl", "bfloat16", True)
FP16_CL = Precision("fp16-cl", "float16", True)
BY_NAME = {p.name: p for p in (FP32, FP32_CL, BF16_CL, FP16_CL)}


def native_bf16() -> bool:
    "Whether this CPU computes bfloat16 natively (x86 AVX-512 BF16 or AMX); elsewhere bf16 is emulated, slow."
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cuda_bf16() -> bool:
    import torch
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def formats_for(device_kind: str, requested: str = "auto") -> list[Precision]:
    """The formats to time for `requested` on this device (one: nothing to time). SettingsError for a
    format the device cannot run."""
    if requested not in CHOICES:
        raise SettingsError(f"Precision {requested!r}: use one of {', '.join(CHOICES)}.")
    if requested in BY_NAME:  # an exact format (what auto or a plan chose): that one, if the device runs it
        exact = BY_NAME[requested]
        requested = {"fp32": "fp32", "fp32-cl": "fp32", "bf16-cl": "bf16", "fp16-cl": "fp16"}[requested]
        if requested == "fp32":
            return [exact]
        formats_for(device_kind, requested)  # raises when the device cannot run it
        return [exact]
    if device_kind == "cuda":
        if requested == "fp32":
            return [FP32]
        if requested == "bf16":
            if not cuda_bf16():
                raise SettingsError("Precision bf16: this GPU has no bfloat16; use fp16 or auto.")
            return [BF16_CL]
        if requested == "fp16":
            return [FP16_CL]
        return [FP16_CL] + ([BF16_CL] if cuda_bf16() else [])
    if requested == "fp16":
        raise SettingsError(f"Precision fp16 needs a CUDA GPU; this {device_kind.upper()} runs fp32 or bf16.")
    if device_kind == "mps":  # Apple GPUs: float32 (their autocast support varies with the torch version)
        return [FP32]
    if requested == "fp32":
        return [FP32]
    if requested == "bf16":
        return [BF16_CL]
    return [FP32, FP32_CL] + ([BF16_CL] if native_bf16() else [])


def autocast(device_kind: str, precision: Precision):
    "A context that computes in the precision's dtype (nothing to do for float32)."
    if precision.dtype is None:
        return contextlib.nullcontext()
    import torch
    return torch.autocast(device_type="cuda" if device_kind == "cuda" else "cpu",
                          dtype=getattr(torch, precision.dtype))


def to_layout(x, precision: Precision):
    "A 4-D tensor (or a model) in the precision's memory layout."
    if not precision.channels_last:
        return x
    import torch
    return x.to(memory_format=torch.channels_last)


MARGIN = 0.05  # another format must be this much faster than float32 to be chosen: a few steps' timings are noisy
ROUNDS = 2  # each candidate is timed this many times, the rounds alternating; its best time counts


def time_each(options: list[Precision], seconds, rounds: int = ROUNDS) -> dict[str, float]:
    """{name: the least of `rounds` timings} of `seconds(precision)` for each option. The rounds alternate
    (A B A B), so a slow spell of a shared machine hits every candidate, not the one timed in it; and the
    least is the device's speed, the rest noise. A single timing once kept float32 faster than channels-last
    on a CPU where channels-last is 1.2x faster (and the choice is remembered)."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for p in options:
            t = seconds(p)
            best[p.name] = min(t, best.get(p.name, t))
    return best


def timed(options: list[Precision], seconds, key: str, remember: Path | None) -> tuple[dict[str, float], bool]:
    """(timings, remembered): the timings kept under `key` in the file `remember` (a device's speed, the same
    for every run and prediction of that kind), else `time_each` now, kept there for the next time."""
    known = read_json(remember).get(key) if remember else None
    if known:
        return known, True
    timings = time_each(options, seconds)
    if remember:  # read again: another run may have kept its own timings meanwhile
        remember_json(remember, {**read_json(remember), key: timings})
    return timings, False


def fastest(options: list[Precision], timings: dict[str, float]) -> Precision:
    "The fastest of `options` by `timings` (seconds); float32 unless another is MARGIN faster."
    best = min(options, key=lambda p: timings[p.name])
    if FP32 in options and timings[best.name] > (1 - MARGIN) * timings[FP32.name]:
        return FP32
    return best


def processor() -> str:
    """The CPU's model name and the threads torch computes on: formats are timed, and their timings kept, per
    processor and thread count (a run with `OMP_NUM_THREADS=1` beside other work is not as fast as one on every
    core, and the formats' order may differ). Called where torch is already imported."""
    import torch
    return f"{cpu_name()}, {torch.get_num_threads()} threads"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()
