"""A training plan for the user's data, device and time: image size, batch size, epochs, learning rate,
loss and augmentation, with the time it should take. The Train page shows it before Start and the
run records it (`config.json: plan`); `python -m seg train --budget MINUTES` makes the same plan.

The rules come from measurements, not from the tutorial (docs/training.md#defaults-and-why-they-are-not-the-tutorials):
- from scratch, about ten passes over the data are what a U-Net needs to learn anything (3 epochs of
  the tutorial learned nothing on cracks; 10 epochs at 160 px reached Dice 0.6 there and 0.66 on the
  membrane set), so the image size is the largest at which `MIN_EPOCHS` fit in the time;
- thin structures (cracks, membranes) must stay at least `THIN_PX` pixels wide after the resize, so
  the size never goes below what keeps them, even if fewer epochs then fit (the plan says so);
- rare foreground gets class-weighted cross-entropy plus Dice (plain cross-entropy learns background);
- the time per image is measured on this device with a few real batches, not assumed."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from seg.model.settings import MAX_EPOCHS, DataSettings, TrainSettings
from seg.training.lr_finder import PLANNED_STEPS
from seg.training.pace import Pace

BUDGETS = {"5 min": 5.0, "15 min": 15.0, "1 h": 60.0, "until I stop": None}
UNTIL_STOPPED_MIN = 240.0  # "until I stop": a plan for 4 hours, stopped whenever the user likes
MIN_EPOCHS = 10
THIN_PX = 1.5  # the thinnest structures' width after the resize, in pixels
MIN_SIDE, MAX_SIDE = 64, 1024
RARE = 0.10  # a foreground class under this share of the pixels is rare
FINDER_MIN_PAIRS = 16  # fewer training pairs: lr_find's curve is noise; take the default
FINDER_SHARE = 0.10  # the finder may take at most this share of the time
SAFE_LR = 1e-3  # learns from scratch on both sets (docs/training.md#defaults-and-why-they-are-not-the-tutorials)
LR_RANGE = (3e-4, 3e-3)  # a finder's valley outside this is clipped: its curve is short on small data
START_S = 20.0  # process start, imports, DataLoaders, first checkpoint: before the first batch
EPOCH_S = 1.0  # per epoch outside the batches: validation set-up, checkpoint, samples


@dataclass
class DataFacts:
    "What the plan needs to know of a dataset."

    n_train: int
    n_valid: int
    typical: tuple[int, int]  # (height, width) of the commonest image size
    fractions: dict[str, float]  # class -> share of all pixels
    thinnest: float | None  # px at the images' own size: 10th percentile of foreground widths

    @classmethod
    def of(cls, dataset, valid_pct: float = 0.2, seed: int = 42, sample: int = 16) -> DataFacts:
        train, valid = dataset.split(valid_pct, seed)
        typical = dataset.typical_size() or (256, 256)
        return cls(len(train), len(valid), typical, dataset.class_fractions(),
                   thinnest(dataset, train[:sample]))


def thinnest(dataset, pairs) -> float | None:
    """Width of the thinnest foreground structures, in pixels at the images' own size: twice the distance
    to the edge along each structure's skeleton, 10th percentile over the masks given."""
    from scipy.ndimage import distance_transform_edt
    from skimage.morphology import skeletonize
    widths = []
    for pair in pairs:
        mask = dataset.mask(pair)
        for k in np.unique(mask):
            if k == 0:
                continue
            region = mask == k
            skeleton = skeletonize(region)
            if skeleton.any():
                widths.append(np.maximum(1, 2 * distance_transform_edt(region)[skeleton] - 1))
    if not widths:
        return None
    return float(np.percentile(np.concatenate(widths), 10))


@dataclass
class Plan:
    budget_min: float | None  # None: until the user stops it
    size: tuple[int, int]
    bs: int
    epochs: int
    lr: float
    find_lr: bool
    loss: str
    augment: bool
    pretrained: bool
    seconds: float  # estimated wall time, finder and start included
    seconds_per_image: float  # training, measured on this device at `size`
    device: str
    reasons: list[str] = field(default_factory=list)
    precision: str = "auto"  # the number format the pace was measured in (the fastest here); "auto": not timed
    thinnest: float | None = None  # the thinnest structures' width in the images, px (DataFacts): windows_for reads it

    def data_settings(self, base: DataSettings | None = None) -> DataSettings:
        return replace(base or DataSettings(), size=self.size, bs=self.bs, augment=self.augment)

    def train_settings(self, base: TrainSettings | None = None) -> TrainSettings:
        base = base or TrainSettings()
        precision = self.precision if base.precision == "auto" else base.precision  # what was timed, unless asked
        return replace(base, epochs=self.epochs, lr=self.lr, loss=self.loss, find_lr=self.find_lr, precision=precision)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Plan:
        "A plan as `to_json` wrote it (the app's, handed to the run it starts)."
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "size": tuple(known["size"])})

    def summary(self) -> str:
        h, w = self.size
        lr = f"from lr_find at the start (else {self.lr:.0e})" if self.find_lr else f"{self.lr:.0e}"
        return (f"{h} x {w} px, batch {self.bs}, {self.epochs} epochs, learning rate {lr}, "
                f"{self.loss}, {'augmented' if self.augment else 'no augmentation'}")


def sides(typical: tuple[int, int], longest: int) -> tuple[int, int]:
    "The images' aspect, the longer side `longest`, both sides multiples of 32."
    h, w = typical
    scale = longest / max(h, w)
    return tuple(max(32, int(round(v * scale / 32)) * 32) for v in (h, w))


def sizes_to_try(typical: tuple[int, int]) -> list[tuple[int, int]]:
    "Training sizes to choose from, largest first: never larger than the images themselves."
    top = min(MAX_SIDE, max(MIN_SIDE, max(typical) // 32 * 32))
    out = []
    for longest in range(top, MIN_SIDE - 1, -32):
        s = sides(typical, longest)
        if s not in out:
            out.append(s)
    return out


def floor_for_thin(facts: DataFacts) -> int:
    "The smallest longer side at which the thinnest structures stay THIN_PX wide."
    if not facts.thinnest:
        return MIN_SIDE
    scale = min(1.0, THIN_PX / facts.thinnest)
    return int(math.ceil(max(facts.typical) * scale / 32)) * 32


def time_per_image(dataset, device, arch: str, size: tuple[int, int], bs: int, augment: bool,
                   precision: str = "auto", batches: int = 2, remember: Path | None = None) -> tuple[float, Pace]:
    """Seconds per training image at `size` on `device`, and the pace it gives: loading a few real batches
    (augmented as training does), then training steps on one of them in each candidate number format
    for `precision` (seg/training/format_choice.py); the fastest format counts."""
    import torch

    from seg.data.dataloaders import dataloaders
    from seg.model.learner import learner
    from seg.training.format_choice import choose, step_time
    settings = DataSettings(size=size, bs=bs, augment=augment)
    dls = dataloaders(dataset, settings, device=torch.device(device.kind))
    learn = learner(dls, TrainSettings(arch=arch, pretrained=False), device, None, None)
    it = iter(dls.train)
    first = next(it)
    start, n = time.perf_counter(), 0
    for _ in range(batches):
        try:
            n += len(next(it)[0])
        except StopIteration:
            it = iter(dls.train)
            n += len(next(it)[0])
    loading = (time.perf_counter() - start) / max(1, n)
    best, timings, _ = choose(learn, device.kind, precision, batch=first, remember=remember)
    compute = step_time(learn, best, device.kind, first)  # the whole batch: the optimizer's share as in training
    per_image = loading + compute
    return per_image, Pace(per_image / (size[0] * size[1] / 1e6), best.name, timings)


def batch_size(facts: DataFacts, device) -> int:
    "Small batches for small datasets (more optimizer steps per pass); larger on a GPU."
    bs = (16 if device.kind != "cpu" else 8) if facts.n_train >= 64 else 4
    return max(1, min(bs, facts.n_train))


def measure_pace(dataset, device, arch: str = "resnet34", valid_pct: float = 0.2, seed: int = 42,
                 precision: str = "auto") -> Pace:
    """Seconds per training image per megapixel on this device, in its fastest number format, from a few
    batches at up to 128 px (the time of a batch grows with its pixels; a few seconds on a CPU). Takes the
    device's lock meanwhile."""
    from seg.runs import DeviceLock
    facts = DataFacts.of(dataset, valid_pct, seed, sample=0)
    ref = sides(facts.typical, min(128, max(sizes_to_try(facts.typical)[0])))
    lock = DeviceLock(device.kind)  # one user of a device at a time: a run training now makes this wait
    lock.acquire(Path(dataset.root), what="the planner's timing")  # RunError, naming the run, when busy
    try:
        from seg.server import workspace
        _, pace = time_per_image(dataset, device, arch, ref, batch_size(facts, device), augment=True,
                                 precision=precision, remember=workspace.formats_file())
    finally:
        lock.release()
    return pace


def plan(dataset, budget_min: float | None, device, settings: TrainSettings | None = None,
         valid_pct: float = 0.2, seed: int = 42, pace: Pace | float | None = None,
         size: tuple[int, int] | None = None) -> Plan:
    """The plan for `budget_min` minutes (None: until stopped). `pace`: the device's pace when already known
    (a `Pace`, or seconds per training image per megapixel: tests, a second plan); else measured here. `size`:
    the training size to keep, not choose (a run that continues from a model keeps the size it learned at:
    its filters are tuned to that scale, and a retrain that changed it would undo what it continues)."""
    from seg.model.pretrained import choose_pretrained
    settings = settings or TrainSettings()
    facts = DataFacts.of(dataset, valid_pct, seed)
    reasons = []
    minutes = UNTIL_STOPPED_MIN if budget_min is None else float(budget_min)
    bs = batch_size(facts, device)
    augment = True
    if pace is None:
        pace = measure_pace(dataset, device, settings.arch, valid_pct, seed, settings.precision)
    measured = pace if isinstance(pace, Pace) else Pace(float(pace))
    pace = measured.seconds

    def epoch_s(size):
        mp = size[0] * size[1] / 1e6
        return pace * mp * (facts.n_train + facts.n_valid / 3) + EPOCH_S  # validation: forward only

    budget = minutes * 60 - START_S
    find = facts.n_train >= FINDER_MIN_PAIRS
    floor = floor_for_thin(facts)
    options = sizes_to_try(facts.typical)
    chosen = next((s for s in options if MIN_EPOCHS * epoch_s(s) + (finder_s(s, pace, bs) if find else 0)
                   <= budget), options[-1]) if size is None else tuple(size)
    thin = size is None and max(chosen) < floor
    if thin:
        keep = [s for s in options if max(s) >= floor]
        chosen = keep[-1] if keep else options[0]
    if find and finder_s(chosen, pace, bs) > FINDER_SHARE * budget:
        find = False
        why_no_finder = "lr_find would take more than a tenth of the time"
    else:
        why_no_finder = f"{facts.n_train} training pairs are too few for lr_find's curve"
    finder = finder_s(chosen, pace, bs) if find else 0.0
    epochs = int(max(1, min(MAX_EPOCHS, (budget - finder) // epoch_s(chosen))))
    per_image = pace * chosen[0] * chosen[1] / 1e6
    h, w = facts.typical
    if size is not None:
        reasons.append(f"{chosen[0]} x {chosen[1]} px (images {h} x {w}): the size the model it continues from "
                       f"learned at, kept; {epochs} epochs fit in {minutes:g} min.")
    elif thin:
        reasons.append(f"{chosen[0]} x {chosen[1]} px (images {h} x {w}): thin structures, about "
                       f"{facts.thinnest:.1f} px wide in the images, need that much to stay visible; only "
                       f"{epochs} epochs fit in {minutes:g} min there: more time gives a better model.")
    else:
        reasons.append(f"{chosen[0]} x {chosen[1]} px (images {h} x {w}): the largest size at which "
                       f"{MIN_EPOCHS} epochs or more fit in {minutes:g} min on this {device.kind.upper()} "
                       f"({per_image:.2f} s per training image, measured); {epochs} fit.")
    fg = {k: v for k, v in list(facts.fractions.items())[1:]}
    rare = [k for k, v in fg.items() if v < RARE]
    loss = "dice-ce" if rare else settings.loss
    if rare:
        reasons.append(f"Rare foreground ({', '.join(f'{k} {fg[k]:.1%}' for k in rare)} of the pixels): "
                       "cross-entropy weighted by class rarity plus Dice.")
    if find:
        reasons.append(f"Learning rate from fastai's lr_find (valley, {PLANNED_STEPS} steps) when the run "
                       f"starts, kept within {LR_RANGE[0]:.0e} to {LR_RANGE[1]:.0e}.")
    else:
        reasons.append(f"{why_no_finder}: learning rate {SAFE_LR:.0e}, which learns from scratch on both "
                       "benchmark sets.")
    pretrained = choose_pretrained(settings)
    if pretrained.used:
        reasons.append(f"{pretrained.message} fastai's fine_tune: one epoch with the backbone frozen first.")
    if budget_min is None:
        reasons.append(f"Until you stop it: planned for {UNTIL_STOPPED_MIN / 60:g} h; stopping keeps the best "
                       f"weights so far.")
    seconds = START_S + finder + epochs * epoch_s(chosen)
    if measured.timings:
        from seg.model.number_formats import BY_NAME
        others = ", ".join(f"{k} {v:.3f} s" for k, v in measured.timings.items())
        reasons.append(f"Trains in {BY_NAME[measured.precision].label}: the fastest on this device of a few timed "
                       f"steps per image ({others}).")
    return Plan(budget_min, chosen, bs, epochs, SAFE_LR, find, loss, augment, pretrained.used, round(seconds, 1),
                round(per_image, 4), device.kind, reasons, measured.precision, facts.thinnest)


WINDOW_SIDE = 128  # the side of the windows the trials try (seg/data/scaled_crops.py)


def windows_for(typical: tuple[int, int], size: tuple[int, int], thinnest: float | None) -> list[tuple]:
    """The windows the trials try beside whole images squeezed to `size`: (window (height, width), scale) pairs.
    The first at the scale that keeps the thinnest structures THIN_PX wide, and never less than the squeeze's
    (never over 1: the images' own pixels), in eighths; the second at half that (wider context, more images a
    step). Only where the scaled image is larger than a window (else a window is the whole image, squeezed)."""
    squeeze = max(size) / max(typical)
    keep = THIN_PX / thinnest if thinnest else squeeze
    first = min(1.0, math.ceil(max(squeeze, keep) * 8) / 8)
    out = []
    for s in (first, first / 2):
        if max(typical) * s > WINDOW_SIDE:
            out.append(((WINDOW_SIDE, WINDOW_SIDE), s))
    return out


def finder_s(size, pace: float, bs: int) -> float:
    return PLANNED_STEPS * bs * pace * size[0] * size[1] / 1e6


def clip_lr(valley: float | None) -> float:
    "The finder's valley within LR_RANGE; SAFE_LR when it found none."
    if not valley or valley != valley:
        return SAFE_LR
    return float(min(LR_RANGE[1], max(LR_RANGE[0], valley)))
