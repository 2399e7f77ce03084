"""The number format and memory layout a run trains in (seg/model/number_formats.py says what they are):
applied to a fastai learner, and chosen by timing a few real training steps of each candidate on a
batch of the user's own images, on this device."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch
from fastai.callback.channelslast import ChannelsLast
from fastai.callback.core import Callback
from fastai.callback.fp16 import MixedPrecision
from fastai.torch_core import to_float

from seg.model.number_formats import (
    FP32,
    ROUNDS,
    Precision,
    autocast,
    fastest,
    formats_for,
    processor,
    timed,
    to_layout,
)

STEPS = 1  # timed steps per candidate, after one that warms up (caches, kernels chosen)
TIMING_BATCH = 2  # images per timed step: the training size, a small batch (each step costs seconds on a CPU)


class CpuAutocast(Callback):
    """bfloat16 autocast on the CPU for the forward pass (fastai's MixedPrecision is for CUDA). The
    predictions leave it as float32, so the loss, the metrics and the backward's result stay float32."""

    order = 10

    def __init__(self, precision: Precision):
        self.precision, self.ctx = precision, None

    def before_batch(self):
        self.ctx = autocast("cpu", self.precision)
        self.ctx.__enter__()

    def after_pred(self):
        self.learn.pred = to_float(self.pred)
        self._leave()

    def after_batch(self):
        self._leave()

    def after_cancel_batch(self):
        self._leave()

    def _leave(self):
        if self.ctx is not None:
            self.ctx.__exit__(None, None, None)
            self.ctx = None


def apply(learn, precision: Precision, device_kind: str):
    "Train `learn` in `precision`: its callbacks added, nothing else changed."
    if precision.channels_last:
        learn.add_cb(ChannelsLast())  # the model; inputs follow: convolutions return channels-last
    if precision.dtype and device_kind == "cuda":
        learn.add_cb(MixedPrecision("bf16" if precision.dtype == "bfloat16" else "fp16"))
    elif precision.dtype:
        learn.add_cb(CpuAutocast(precision))
    return learn


def step_time(learn, precision: Precision, device_kind: str, batch, steps: int = STEPS) -> float:
    """Seconds per image of a training step (forward, loss, backward, optimizer step) in `precision`, on
    a copy of the learner's model: the run's own weights and optimizer are not touched."""
    model = to_layout(copy.deepcopy(learn.model), precision).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-7)
    xb, yb = batch
    xb = to_layout(xb, precision)
    took = 0.0
    for i in range(steps + 1):
        start = time.perf_counter()
        with autocast(device_kind, precision):
            pred = model(xb)
        loss = learn.loss_func(pred.float(), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
        if device_kind == "cuda":
            torch.cuda.synchronize()
        if i:  # the first step warms up
            took += time.perf_counter() - start
    del model, opt
    return took / (steps * len(xb))


def choose(learn, device_kind: str, requested: str = "auto", batch=None, remember: Path | None = None
           ) -> tuple[Precision, dict[str, float], bool]:
    """The fastest of the candidates for `requested` on this device, each one's seconds per image (empty
    when there was only one candidate: nothing timed), and whether they were remembered, not timed now.
    `batch`: the one to time on; the first validation batch when none is given (fixed images, and the
    training batches' order is untouched). `remember`: a file where the timings of a device, model, batch
    shape and candidates are kept, so the next run of the same kind reuses them instead of timing again
    (the speed is the device's, not the data's)."""
    options = formats_for(device_kind, requested)
    if len(options) == 1:
        return options[0], {}, False
    if batch is None:
        batch = learn.dls.valid.one_batch()
    batch = full(batch, TIMING_BATCH)
    model = f"{sum(p.numel() for p in learn.model.parameters())} parameters"  # the backbone, in effect
    key = "|".join([device_kind, f"best of {ROUNDS}", processor(), torch.__version__, model,
                    str(tuple(batch[0].shape)),
                    ",".join(p.name for p in options)])
    timings, known = timed(options, lambda p: step_time(learn, p, device_kind, batch), key, remember)
    return fastest(options, timings), timings, known


def full(batch, bs: int):
    "Exactly `bs` images of the batch (repeated when it holds fewer)."
    xb, yb = batch
    if len(xb) >= bs:
        return xb[:bs], yb[:bs]
    k = -(-bs // len(xb))
    return xb.repeat(k, 1, 1, 1)[:bs], yb.repeat(k, *([1] * (yb.ndim - 1)))[:bs]


def reason(precision: Precision, requested: str, timings: dict[str, float], remembered: bool = False,
           planned: bool = False) -> str:
    "A sentence for the run's notes: what it trains in and why (`planned`: the plan's timing chose it)."
    if not timings:
        why = ("the fastest when the plan timed the formats" if planned else "asked for"
               if requested not in ("auto",) else "the only choice here")
        return f"Training in {precision.label} ({why})."
    ref = timings.get(FP32.name)
    others = ", ".join(f"{name} {s:.3f}" for name, s in timings.items())
    gain = f", {ref / timings[precision.name]:.2f}x float32's speed" if ref and precision != FP32 else ""
    when = "timed by an earlier run of this kind on this device" if remembered else "timed on this device"
    return (f"Training in {precision.label}: the fastest of a few steps {when}{gain} "
            f"(seconds per image: {others}).")
