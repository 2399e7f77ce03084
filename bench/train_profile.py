"""Where a training step's time goes on this CPU, and how much of the machine it uses.

A real segboard learner (seg/model/learner.py) on real data, augmented as a run trains, for a few epochs in
each number format the CPU can run (seg/model/number_formats.py), timed by phase with a fastai callback:
data (reading, resizing, augmentation: the time between one batch's end and the next one's start), forward,
loss, backward, optimizer step, and the rest (metrics, callbacks). The work of a step is counted with torch's
flop counter (forward + backward, multiply-adds as two operations); its GFLOP/s are set beside the machine's
practical peak, a large matrix product's in the same format measured in the same run. A torch.profiler pass
over a few steps names the operators that take the compute.

    python bench/train_profile.py --data ../shared/datasets/membrane [--size 256 --bs 8 --epochs 2]
        [--workers 0 --workers 1]

The table in docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import results  # noqa: E402  (bench/results.py: where the tables go)
import torch  # noqa: E402
from fastai.callback.core import Callback  # noqa: E402

from seg import Dataset  # noqa: E402
from seg.data.dataloaders import dataloaders  # noqa: E402
from seg.model.device import cpu  # noqa: E402
from seg.model.learner import learner, set_threads  # noqa: E402
from seg.model.number_formats import BF16_CL, FP32, FP32_CL, autocast, native_bf16, to_layout  # noqa: E402
from seg.model.settings import DataSettings, TrainSettings  # noqa: E402
from seg.server.sharing import Access  # noqa: E402
from seg.training import format_choice  # noqa: E402

PHASES = ("data", "forward", "loss", "backward", "step", "rest")


class Phases(Callback):
    "Seconds per phase of each training batch (validation left out)."

    order = 100  # after fastai's own callbacks: the times are what the loop sees

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.batches = 0
        self.last: float | None = None

    def _mark(self, phase: str) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.seconds[phase] += now - self.last
        self.last = now

    def before_epoch(self):
        self.last = time.perf_counter()  # the first batch's loading counts as data

    def before_batch(self):
        if self.training:
            self._mark("data")

    def after_pred(self):
        if self.training:
            self._mark("forward")

    def after_loss(self):
        if self.training:
            self._mark("loss")

    def after_backward(self):
        self._mark("backward")

    def after_step(self):
        self._mark("step")

    def after_batch(self):
        if self.training:
            self._mark("rest")
            self.batches += 1

    def before_validate(self):
        self.last = None

    def after_validate(self):
        self.last = None


def matmul_peak(dtype: torch.dtype, n: int = 2048, rounds: int = 5) -> float:
    "GFLOP/s of an n x n matrix product in `dtype`: the practical peak of the cores for dense work."
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def step_flops(learn) -> float:
    "Floating-point operations of one training step's forward and backward, per image."
    from torch.utils.flop_counter import FlopCounterMode
    x, y = learn.dls.one_batch()
    learn.model.train()
    with FlopCounterMode(display=False) as counter:
        loss = learn.loss_func(learn.model(x), y)
        loss.backward()
    learn.model.zero_grad()
    return counter.get_total_flops() / len(x)


def top_ops(learn, precision, steps: int = 3, n: int = 6) -> list[tuple[str, float]]:
    "The operators with the largest share of a few training steps' CPU time (self time)."
    from torch.profiler import ProfilerActivity, profile
    x, y = learn.dls.one_batch()
    model, x = to_layout(learn.model, precision).train(), to_layout(x, precision)
    opt = torch.optim.SGD(model.parameters(), lr=1e-6)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            with autocast("cpu", precision):
                out = model(x)
            loss = learn.loss_func(out.float(), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    ranked = sorted(events, key=lambda e: -e.self_cpu_time_total)[:n]
    return [(e.key, e.self_cpu_time_total / total) for e in ranked]


def measure(data: Path, precision, workers: int, args) -> dict:
    ds = Dataset.open(data, access=Access.machine())
    dls = dataloaders(ds, DataSettings(size=args.size, bs=args.bs, augment=True, workers=workers), device="cpu")
    phases = Phases()
    learn = learner(dls, TrainSettings(arch="resnet34", pretrained=False), cpu(), cbs=[phases])
    flops = step_flops(learn)
    format_choice.apply(learn, precision, "cpu")
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(1, 1e-3)  # warm-up: the first batches pay for allocation and kernel choice
        phases.seconds.clear()
        phases.batches = 0
        learn.fit_one_cycle(args.epochs, 1e-3)
    images = phases.batches * args.bs
    per_image = {k: phases.seconds[k] / images for k in PHASES}
    compute = per_image["forward"] + per_image["loss"] + per_image["backward"] + per_image["step"]
    ops = top_ops(learn, precision) if workers == args.workers[0] else []
    return {"format": precision.label, "workers": workers, "images": images, "per_image": per_image,
            "gflop": flops / 1e9, "gflops": flops / 1e9 / compute, "whole": sum(per_image.values()), "ops": ops}


def write_table(rows: list[dict], peaks: dict, data: Path, args) -> None:
    lines = ["| format | data workers | s per image: data | forward | loss | backward | optimizer | rest | "
             "whole | GFLOP per image | GFLOP/s (compute phases) | of the matmul peak |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        p = r["per_image"]
        peak = peaks["bfloat16" if "bfloat16" in r["format"] else "float32"]
        lines.append(f"| {r['format']} | {r['workers']} | " + " | ".join(f"{p[k]:.3f}" for k in PHASES)
                     + f" | **{r['whole']:.3f}** | {r['gflop']:.0f} | {r['gflops']:.0f} | {r['gflops'] / peak:.0%} |")
    ops = "; ".join(f"{r['format']}: " + ", ".join(f"{k} {v:.0%}" for k, v in r["ops"][:4]) for r in rows if r["ops"])
    text = ("\n".join(lines) + "\n\n"
            f"Matrix product peak here (2048 x 2048, same run): float32 {peaks['float32']:.0f} GFLOP/s"
            + (f", bfloat16 {peaks['bfloat16']:.0f} GFLOP/s" if "bfloat16" in peaks else "")
            + f". Largest operators by self time: {ops}.\n\n"
            f"{data.name}, resnet34 U-Net at {args.size} px, batch {args.bs}, augmented, from scratch, "
            f"{args.epochs} epochs after one of warm-up; {cpu().label} ({os.cpu_count()} logical), torch "
            f"{torch.__version__}, {time.strftime('%Y-%m-%d')}.\n")
    print(text)
    if not args.no_readme:
        results.write("train_profile", text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--bs", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", type=int, action="append", help="DataLoader workers (repeatable; 0)")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    args.workers = args.workers or [0]
    set_threads(cpu())
    data = Path(args.data).resolve()
    peaks = {"float32": matmul_peak(torch.float32)}
    formats = [FP32, FP32_CL]
    if native_bf16():
        peaks["bfloat16"] = matmul_peak(torch.bfloat16)
        formats.append(BF16_CL)
    rows = []
    for precision in formats:
        for workers in args.workers:
            rows.append(measure(data, precision, workers, args))
            r = rows[-1]
            print(f"{r['format']}, workers {workers}: " + ", ".join(f"{k} {v:.3f}" for k, v in r["per_image"].items())
                  + f" s/image; {r['gflops']:.0f} GFLOP/s; {r['ops'][:3]}", flush=True)
    write_table(rows, peaks, data, args)


if __name__ == "__main__":
    main()
