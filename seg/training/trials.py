"""The trials of a planned run, with fastai: a learner per candidate, kept between its turns (the winner
goes on from its own weights: trial time is not thrown away), trained a number of steps that fits its
turn, and scored on validation images at their own size, with the model in memory. The logic of which
candidate goes on is seg/training/halving.py; seg/training/trial_setup.py sets a run's trials up and
calls `search()`, before training proper.

Every turn is a line of the run folder's `trials.jsonl` and a `trial` event; the outcome a `trials`
event (winner, reasons) and a note. No trials (too little time for two candidates, too few validation
images) is said there too: a `skipped` line in `trials.jsonl` and a `trials` event, with the reason."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seg.model.registry import backbone
from seg.runs import EventLog
from seg.training.budget import NoValidation, Schedule, StepsPerEpoch, fit_steps
from seg.training.halving import (
    MIN_STEPS,
    TRIAL_MAX_S,
    TRIAL_SHARE,
    Candidate,
    Standing,
    explain,
    halve,
    how_many,
    rounds,
    to_json,
)

PROBE_STEPS = 2  # steps a size is timed on, at the warm-up's learning rate, before its first turn
MIN_IMAGES = 2  # fewer validation images to score on: no trials
SCORE_IMAGES = 8  # validation images a trial is scored on (the same ones for every candidate)
CULL_IMAGES = 4  # ... and in a round that only drops the worse half (not the last): the first of them. A model on
# windows predicts each image in tiles at its own size (drive at scale 1: 36 tiles of 128 px, 2.4 s an image here),
# so a first turn's scoring took time from its steps (measured 2026-12-07: no more candidates fitted on the shared
# sets at 5 or 15 minutes for it, their scores within the runs' spread; docs/benchmarks.md)
BUILD_S = 3.0  # making a learner and its DataLoaders, until measured


class Stopped(Exception):
    "Someone asked the run to stop while it was trying candidates."


@dataclass
class Outcome:
    "What the trials decided: the winner and its learner, or none (`reason` says why: the rule then decides)."

    winner: Candidate | None
    learn: object | None
    standings: list[Standing]
    reason: str
    seconds: float
    step_s: float | None = None  # the winner's measured seconds per step
    score_s_per_image: float | None = None  # measured seconds per validation image scored at its own size


class FastaiTrials:
    """halving.Trainer with real learners. `make(candidate)`: a learner for it in the run's number format,
    float32 weights, the run's stop callback attached; `pace`: seconds per training image per megapixel
    (the planner's measurement), for estimates before a candidate's own time is known."""

    def __init__(self, make: Callable, pace: float, bs: int, images: list[tuple[np.ndarray, np.ndarray]],
                 codes: list[str], arch: str, typical: tuple[int, int], device, precision,
                 stopped: Callable[[], bool]):
        self.make, self.pace, self.bs, self.images = make, pace, bs, images
        self.codes, self.arch, self.typical, self.device, self.precision = codes, arch, typical, device, precision
        self.stopped = stopped
        self.learners: dict[Candidate, object] = {}
        self.step_s: dict[Candidate, float] = {}
        self.size_step_s: dict[tuple[int, int], float] = {}
        self.score_s: dict[Candidate, float] = {}  # measured seconds per scoring image
        self.build_s = BUILD_S

    def _mp(self, c: Candidate) -> float:
        "Megapixels a training image is, weighted by the candidate's backbone's cost relative to the run's."
        cost = backbone(c.arch).cost / backbone(self.arch).cost if c.arch else 1.0
        return c.size[0] * c.size[1] / 1e6 * cost

    def estimate_step(self, c: Candidate) -> float:
        "Seconds per step at the candidate's size: timed (its data loading included) once a shape has trained."
        return self.step_s.get(c) or self.size_step_s.get(_shape(c)) or self.pace * self._mp(c) * self.bs

    def scored(self, cull: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
        "The images a turn is scored on: all, or the first CULL_IMAGES in a round that only drops the worse half."
        return self.images[:CULL_IMAGES] if cull else self.images

    def estimate_score(self, c: Candidate, cull: bool = False) -> float:
        # a forward pass is about a third of a training step; resizing back at the images' size is extra; a model
        # on windows predicts each image in tiles, as many as the Predictor's tiling makes
        from seg.prediction.tiles import OVERLAP, starts
        tiles = 1
        if c.scale is not None and self.typical:
            tiles = math.prod(len(starts(round(v * c.scale), t, t - int(t * OVERLAP)))
                              for v, t in zip(self.typical, c.size))
        return len(self.scored(cull)) * (self.score_s.get(c) or tiles * self.pace * self._mp(c) / 3 + 0.05)

    def min_seconds(self, c: Candidate, cull: bool = False) -> float:
        build = 0.0 if c in self.learners else self.build_s
        return build + MIN_STEPS * self.estimate_step(c) + self.estimate_score(c, cull)

    def turn(self, c: Candidate, seconds: float, cull: bool = False
             ) -> tuple[float | None, float | None, int, list[float]]:
        first = c not in self.step_s
        learn = self.learners.get(c)
        if learn is None:
            start = time.perf_counter()
            learn = self.learners[c] = self.make(c)
            self.build_s = time.perf_counter() - start
        # every first turn is charged the same making time, made now or before (the rule's learner is made
        # to time the formats): the same steps for the same size, whoever comes first
        left = seconds - (self.build_s if first else 0.0) - self.estimate_score(c, cull)
        probe = 0
        if _shape(c) not in self.size_step_s:  # the pace measured at one size misjudges another (loading is per
            t = time.perf_counter()        # image, not per pixel): time this size on a few real steps first
            fit_probe(learn, c.lr)
            self.size_step_s[_shape(c)] = (time.perf_counter() - t) / PROBE_STEPS
            left -= time.perf_counter() - t
            probe = PROBE_STEPS
        schedule = Schedule.of(max(1, int(left // self.estimate_step(c))), len(learn.dls.train))
        t = time.perf_counter()
        fit_steps(learn, schedule, c.lr, validate=False)
        self.step_s[c] = self.size_step_s[_shape(c)] = (time.perf_counter() - t) / schedule.steps
        if self.stopped():
            raise Stopped()
        t = time.perf_counter()
        images = self.scored(cull)
        dice, soft, per_image = self.score(c, learn, images)
        self.score_s[c] = (time.perf_counter() - t) / len(images)
        return dice, soft, schedule.steps + probe, per_image

    def drop(self, c: Candidate) -> None:
        self.learners.pop(c, None)
        gc.collect()
        if self.device.kind == "cuda":
            torch.cuda.empty_cache()

    def score(self, c: Candidate, learn, images: list | None = None) -> tuple[float | None, float | None, list[float]]:
        """Foreground Dice and soft Dice on `images` (by default every scoring image) at their own size (mean over
        foreground classes), and each image's Dice (nan where an image has no foreground in truth or prediction)."""
        images = self.images if images is None else images
        from seg.model import pixel_scores
        from seg.prediction.inference import Predictor
        from seg.prediction.model import Model
        n = len(self.codes)
        scale = (c.size[0] / self.typical[0], c.size[1] / self.typical[1]) if self.typical else (1.0, 1.0)
        if c.scale is not None:
            scale = (c.scale, c.scale)
        model = Model(learn.model, self.codes, c.arch or self.arch, c.size, scale, Path(), Path(),
                      input=learn.dls.input, tiles=c.scale is not None)
        learn.model.eval()
        try:
            predictor = Predictor(model, device=self.device, precision=self.precision)
            total = np.zeros((n, n), np.int64)
            inter, mass = np.zeros(n), np.zeros(n)
            per_image = []
            for (_, truth), probs in zip(images, predictor.probabilities_many([im for im, _ in images])):
                if truth.shape != tuple(probs.shape[1:]):
                    continue
                one = pixel_scores.confusion(truth, probs.argmax(0).numpy(), n)
                total += one
                per_image.append(pixel_scores.headline(one)["dice"])
                t = torch.from_numpy(truth.astype(np.int64))
                for k in pixel_scores.foreground(n):
                    hit = (t == k).float()
                    inter[k] += float((probs[k] * hit).sum())
                    mass[k] += float(probs[k].sum() + hit.sum())
        finally:
            learn.model.train()
        fg = pixel_scores.foreground(n)
        soft = pixel_scores.nanmean(2 * inter[k] / mass[k] if mass[k] else float("nan") for k in fg)
        return pixel_scores.headline(total)["dice"], soft, per_image


def _shape(c: Candidate) -> tuple:
    """What a step's time depends on: the size, whether windows are cut from scaled images (each read whole), and
    the backbone."""
    return c.size, c.scale is not None, c.arch


def fit_probe(learn, lr: float) -> None:
    "PROBE_STEPS steps at the rate a one-cycle schedule starts from (lr / 25): they count as training too."
    learn.fit(1, lr / 25, cbs=[StepsPerEpoch(PROBE_STEPS), NoValidation()])


def scoring_images(dataset, valid, seen) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first SCORE_IMAGES validation pairs that read, as (image as the model takes it (`seen`, an Input),
    class-index mask) at their own size; for objects the target of the model's classes (interior, a boundary one
    pixel wide: telling touching objects apart at the images' own size is what the trials should reward)."""
    from seg.errors import ImageError
    from seg.objects.target import target
    out = []
    for pair in valid:
        try:
            out.append((seen.load(pair.image), target(dataset.ids(pair)) if dataset.objects else dataset.mask(pair)))
        except (ImageError, OSError, ValueError):
            continue
        if len(out) == SCORE_IMAGES:
            break
    return out


def search(cands: list[Candidate], trainer: FastaiTrials, seconds: float, folder: Path, log: EventLog,
           rule: Candidate, spent: float = 0.0) -> Outcome:
    """Successive halving of `cands` in `seconds`, written to `folder/trials.jsonl` and as events. No trials
    (an Outcome without a winner, and the reason) when fewer than two candidates fit the time: that too is
    written (`skipped`), with the figures and the budget that would hold them (`spent`: the seconds of the
    budget gone before the trials; they may take half the time left)."""
    start = time.monotonic()
    chosen = how_many(cands, trainer, seconds)
    if not chosen:
        each = sorted(trainer.min_seconds(c) for c in cands)[:2]
        needed = 2 * each[-1]  # a round of two equal turns, each long enough for the slower of the two quickest
        minutes = math.ceil(max(needed / TRIAL_SHARE, spent + 2 * needed) / 30) / 2  # in half minutes
        more = (f"a budget of about {minutes:g} min would allow them" if needed <= TRIAL_MAX_S else
                f"trials take {TRIAL_MAX_S / 60:g} min at most, so no budget allows them here")
        turns = (f"two candidates' first turns of {MIN_STEPS} steps each (the quickest take about "
                 f"{' s and '.join(f'{x:.0f}' for x in each)} s here: {needed:.0f} s needed)")
        head = (f"{seconds:.0f} s of trials (a quarter of the budget, at most half the time left) do not hold {turns}"
                if seconds > 0 else f"start-up and planning left no time of the budget for {turns}")
        reason = f"No trials: {head}; {more}. The rule's plan trains as it is."
        return skip(folder, log, Outcome(None, None, [], reason, 0.0), seconds=round(max(0.0, seconds), 1),
                    needed=round(needed, 1), budget_min=minutes if needed <= TRIAL_MAX_S else None)
    rows = EventLog(folder / "trials.jsonl")
    log.write("note", message=f"Trying {len(chosen)} candidates around the rule's plan for up to {seconds / 60:.1f} "
                              f"min, scored on validation images at their own size: "
                              f"{'; '.join(c.label for c in chosen)} ...")
    log.write("trials", status="running", candidates=[c.to_json() for c in chosen], seconds=round(seconds, 1))

    def report(row: dict) -> None:
        rows.write("round" if "kept" in row else "turn", **row)
        log.write("trial", **row)

    winner, standings = halve(chosen, trainer, seconds, report=report, favour=rule)
    took = time.monotonic() - start
    culled = len(trainer.scored(cull=True)) if len(rounds(len(chosen))) > 1 else None
    reason = explain(winner, standings, rule, took, len(trainer.images), culled)
    rows.write("winner", candidate=winner.to_json(), standings=[to_json(s) for s in standings])
    log.write("trials", status="done", winner=winner.to_json(), reason=reason, seconds=round(took, 1),
              standings=[to_json(s) for s in standings])
    return Outcome(winner, trainer.learners[winner], standings, reason, took, trainer.step_s.get(winner),
                   trainer.score_s.get(winner, 0.0))


def skip(folder: Path, log: EventLog, outcome: Outcome, **figures) -> Outcome:
    """No trials, said in the run folder as trials would be: `trials.jsonl` holds one `skipped` line and a
    `trials` event has status `skipped`, each with the reason and its figures (a watcher shows them)."""
    EventLog(Path(folder) / "trials.jsonl").write("skipped", reason=outcome.reason, **figures)
    log.write("trials", status="skipped", reason=outcome.reason, **figures)
    return outcome
