"""Training to a clock: a one-cycle schedule over a number of optimizer steps (not whole passes: on a CPU a
pass over large images can take minutes, more than a trial's turn), and a guard that ends a run at the
time the user gave, so `--budget MINUTES` ends within its minutes (start-up and final scoring included)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastai.callback.core import Callback, CancelFitException, CancelTrainException, CancelValidException

EPOCH_S = 1.0  # per pass outside the batches: the checkpoint and the samples sheet
SLACK = 0.02  # of the budget: what the clock may miss by (a last batch, the final status)


class StepsPerEpoch(Callback):
    """Ends each epoch's training after `steps` batches, with the schedule spread over them: fastai's
    one-cycle reads its position from `n_iter`, which this sets to the batches the epoch will train. `last`
    (epoch, steps): that epoch, the fit's last, trains fewer (`Deadline` sets it); its share of the schedule
    is still a whole epoch's, so the one-cycle still ends where it should."""

    order = 100  # after every other callback has seen the batch (the Recorder, the event log)

    def __init__(self, steps: int):
        self.steps = max(1, int(steps))
        self.last: tuple[int, int] | None = None

    def _steps(self) -> int:
        return self.last[1] if self.last and self.epoch == self.last[0] else self.steps

    def before_batch(self):
        if self.training and self.iter == 0:
            self.learn.n_iter = min(self.n_iter, self._steps())

    def after_batch(self):
        if self.training and self.iter + 1 >= self._steps():
            raise CancelTrainException()

    def after_cancel_train(self):
        # An epoch of fewer steps is a whole epoch, not a cancelled one. The Recorder (order 50, before this)
        # marks it cancelled and would then log no training loss, so every value after it would sit under
        # the wrong name for whoever reads the log by metric_names (the event log's `dice` would be IoU,
        # best.pth chosen by it).
        self.recorder.cancel_train = False


class NoValidation(Callback):
    """Skips fastai's validation pass: a trial is scored at the images' own size instead. After the Recorder
    (50), which has reset its metrics by then and logs them empty."""

    order = 55

    def before_validate(self):
        raise CancelValidException()


def refit(done: int, steps: int, step_s: float, other_s: float, left: float, room: int) -> tuple[int, int | None]:
    """The epochs a budgeted fit should have in all, after `done` of `steps` steps each, at `step_s` a
    training step and `other_s` an epoch besides them (validation, checkpoint, samples), with `left`
    seconds to go and `room` epochs at most: whole epochs, and where the rest holds a quarter of an epoch's
    steps or more, a shorter last one (its steps: the second value, else None). An epoch of large images can
    be a quarter of a budget: whole epochs alone would end a run that much early."""
    epoch_s = steps * step_s + other_s
    whole = int(max(0.0, left) // epoch_s)
    rest = int((max(0.0, left) - whole * epoch_s - other_s) // step_s) if step_s > 0 else 0
    short = rest if max(1, steps // 4) <= rest < steps else None
    total = max(done, min(room, done + whole + (1 if short else 0)))
    return total, short if short and total == done + whole + 1 else None


class Deadline(Callback):
    """Ends the fit by `at` (unix seconds) without cutting its schedule short: after each epoch the epochs
    still to come are fitted to the time left at the pace so far (`refit`: whole epochs and perhaps a
    shorter last one; fastai's one-cycle reads its position from `n_epoch`, so the schedule stretches or
    shrinks with them), within the `room` of epochs the fit was started with; `on_change(epochs, steps)` is
    told the epochs and the steps in all. After a batch that passes `at`, at once (`hit`).

    With `epoch_extra_s` (the estimate of an epoch's validation and checkpoint the schedule was fitted
    with), the first step is timed too, and where the schedule was fitted to an estimate slower than that
    step, it grows to the steps that fit (`grow`): on large images a first epoch can be the whole plan, one
    step or two, and refitting after it could add only whole epochs, each with its validation."""

    order = 70  # after every callback that records a batch or an epoch: the last one is written

    def __init__(self, at: float, epochs: int, room: int, on_change=None, epoch_extra_s: float | None = None):
        self.at, self.epochs, self.room, self.on_change, self.hit = at, epochs, room, on_change, False
        self.epoch_extra_s = epoch_extra_s
        self.started = self.epoch_started = time.time()
        self.train_s, self.short, self.grown = 0.0, None, None

    def before_epoch(self):
        if self.epoch == 0:  # the fit's loop was given `room` epochs; the schedule starts with the estimate
            self.started, self.train_s = time.time(), 0.0
            self.learn.n_epoch = self.epochs
        self.epoch_started = time.time()

    def after_train(self):
        self.train_s += time.time() - self.epoch_started

    def after_batch(self):
        if self.training and time.time() > self.at:
            self.hit = True
            raise CancelFitException()
        if self.training and self.epoch == 0 and self.iter == 0 and self.epoch_extra_s is not None:
            self.grow(time.time() - self.epoch_started)

    def grow(self, step_s: float) -> None:
        """After the fit's first step (`step_s`, its loading included): the schedule that fits the time left
        at that pace, where it holds more steps than the one started with; the one-cycle's position is set
        to one step of the new schedule. Never shrinks: the refit after each epoch and `at` guard the end."""
        steps_cb = self._steps_cb()
        if steps_cb is None or step_s <= 0:
            return
        per_pass = len(self.learn.dls.train)
        now = Schedule(self.epochs, steps_cb.steps)
        fits = Schedule.fitting(self.at - time.time() + step_s, step_s, per_pass, self.epoch_extra_s)
        epochs = min(self.room, fits.epochs)
        if epochs * fits.per_epoch <= now.steps:
            return
        steps_cb.steps = self.learn.n_iter = self.grown = fits.per_epoch
        self.epochs = self.learn.n_epoch = epochs
        self.learn.pct_train = 1 / (fits.per_epoch * epochs)
        if self.on_change:
            self.on_change(epochs, self.planned_steps(fits.per_epoch))

    def _steps_cb(self) -> StepsPerEpoch | None:
        return next((cb for cb in self.learn.cbs if isinstance(cb, StepsPerEpoch)), None)

    def per_epoch(self, started: int) -> int:
        "The steps of an epoch: `started`, the schedule the fit began with, unless the first step grew it."
        return self.grown or started

    def planned_steps(self, per_epoch: int) -> int:
        "The training steps of the fit as it now stands."
        return (self.epochs - 1) * per_epoch + (self.short or per_epoch)

    def after_epoch(self):
        done, now = self.epoch + 1, time.time()
        steps_cb = self._steps_cb()
        steps = steps_cb.steps if steps_cb else self.n_iter
        batches = max(1, self.learn.train_iter)
        other_s = max(0.0, now - self.started - self.train_s) / done  # validation, checkpoints and samples
        total, short = refit(done, steps, self.train_s / batches, other_s, self.at - now, self.room)
        if steps_cb is None:
            short = None
        if (total, short) != (self.epochs, self.short):
            self.epochs, self.short = total, short
            self.learn.n_epoch = total
            if steps_cb is not None:
                steps_cb.last = (total - 1, short) if short else None
            if self.on_change:
                self.on_change(total, self.planned_steps(steps))
        if done >= total:
            raise CancelFitException()


@dataclass(frozen=True)
class Schedule:
    "A fit of `steps` optimizer steps: `epochs` passes of at most `per_epoch` batches."

    epochs: int
    per_epoch: int

    @property
    def steps(self) -> int:
        return self.epochs * self.per_epoch

    @classmethod
    def of(cls, steps: int, per_pass: int) -> Schedule:
        "`steps` spread over as few passes as hold them (a pass: every training batch once)."
        steps, per_pass = max(1, int(steps)), max(1, int(per_pass))
        epochs = math.ceil(steps / per_pass)
        return cls(epochs, math.ceil(steps / epochs))

    @classmethod
    def fitting(cls, seconds: float, step_s: float, per_pass: int, pass_extra_s: float) -> Schedule:
        """The most steps that fit `seconds` at `step_s` a step, each pass costing `pass_extra_s` more
        (validation, checkpoint); at least one step."""
        per_pass = max(1, int(per_pass))
        pass_s = per_pass * step_s + pass_extra_s
        whole = int(max(0.0, seconds) // pass_s)
        left = max(0.0, seconds) - whole * pass_s - pass_extra_s
        steps = whole * per_pass + max(0, int(left // step_s))
        return cls.of(max(1, steps), per_pass)


def fit_steps(learn, schedule: Schedule, lr, validate: bool = True, cbs=()) -> None:
    "fastai's one-cycle over the schedule's steps (`lr` a float or a slice), validating after each pass unless told."
    extra = [StepsPerEpoch(schedule.per_epoch), *([] if validate else [NoValidation()]), *cbs]
    learn.fit_one_cycle(schedule.epochs, lr, cbs=extra)


@dataclass(frozen=True)
class Budget:
    """A run with a time budget (`python -m seg train --budget MINUTES`): the planner's plan, the moment the
    whole command must end by (unix seconds, counted from the process start), and whether trials decide."""

    plan: object  # seg.training.planner.Plan
    deadline: float
    trials: bool = True
    split_s: float = 0.0  # a run on objects: the end's tuning of the split (seg/training/split_tuning.py)

    @property
    def seconds(self) -> float:
        "The whole budget, in seconds."
        from seg.training.planner import UNTIL_STOPPED_MIN
        return (self.plan.budget_min or UNTIL_STOPPED_MIN) * 60

    @property
    def pace(self) -> float:
        "Seconds per training image per megapixel: the plan's measurement (loading included)."
        return self.plan.seconds_per_image / (self.plan.size[0] * self.plan.size[1] / 1e6)

    def per_image(self, size: tuple[int, int]) -> float:
        "Seconds per training image at `size`, from the plan's pace."
        return self.pace * size[0] * size[1] / 1e6


def final_schedule(budget: Budget, learn, ds, trials, n_valid: int) -> Schedule:
    """The steps that fit between now and the deadline, less the final scoring: at the winner's measured
    step time, else the plan's pace (loading included); validation at each pass is a forward pass."""
    seconds = training_end(budget, ds, trials, n_valid) - time.time()
    return Schedule.fitting(seconds, step_seconds(budget, learn, ds, trials), len(learn.dls.train),
                            epoch_extra_s(budget, learn, ds, trials, n_valid))


def step_seconds(budget: Budget, learn, ds, trials) -> float:
    "A training step: the trials' winner's measured time, else the plan's pace (loading included)."
    return (trials.step_s if trials and trials.step_s else None) or budget.per_image(ds.hw) * learn.dls.train.bs


def epoch_extra_s(budget: Budget, learn, ds, trials, n_valid: int) -> float:
    "An epoch's time besides its steps: validation (a forward pass, a third of a step) and the checkpoint."
    return n_valid * step_seconds(budget, learn, ds, trials) / learn.dls.train.bs / 3 + EPOCH_S


def training_end(budget: Budget, ds, trials, n_valid: int) -> float:
    "When training proper must end (unix seconds): the deadline less the final scoring and the slack."
    return budget.deadline - full_size_seconds(budget, ds, trials, n_valid) - SLACK * budget.seconds


def full_size_seconds(budget: Budget, ds, trials, n_valid: int) -> float:
    "The end-of-run scoring of the validation images at their own size: measured in the trials, else estimated."
    if trials and trials.score_s_per_image:
        return n_valid * trials.score_s_per_image + 2.0 + budget.split_s
    return n_valid * (budget.per_image(ds.hw) / 3 + 0.1) + 2.0 + budget.split_s


def too_short(budget: Budget, learn, ds, trials, n_valid: int) -> str | None:
    """When the time left for training proper does not hold one step (start-up, the planner's timing and the
    trials took the budget, as on a busy machine with a budget of seconds): the sentence saying so, with the
    budget this machine needs for one pass over the training images; else None. The run still trains a
    step, so that it ends with weights of its own."""
    now = time.time()
    step = step_seconds(budget, learn, ds, trials)
    if training_end(budget, ds, trials, n_valid) - now >= step:
        return None
    spent = now - (budget.deadline - budget.seconds)
    one_pass = len(learn.dls.train) * step + epoch_extra_s(budget, learn, ds, trials, n_valid)
    need = (spent + one_pass + full_size_seconds(budget, ds, trials, n_valid)) / (1 - SLACK)
    minutes = math.ceil(need / 30) / 2  # in half minutes
    return (f"The {budget.seconds / 60:g} min budget was used up before training began: start-up and planning"
            f"{' and the trials' if trials and trials.seconds else ''} took {spent:.0f} s on this machine, so only "
            f"one step is trained; give at least {minutes:g} min for one pass over the training images.")


def room(epochs: int) -> int:
    "The epochs a budgeted fit is started with: twice the estimate, so a faster pace can use the time."
    return 2 * epochs + 2


def fit_budgeted(learn, schedule: Schedule, ts, pretrained: bool, guard: Deadline) -> None:
    """One-cycle over the schedule's passes, refitted to the time after each by the guard; from ImageNet
    weights, unfrozen."""
    fit = Schedule(guard.room, schedule.per_epoch)
    if pretrained:
        learn.unfreeze()  # the trials (or nothing, without them) were the frozen start fine_tune makes
        fit_steps(learn, fit, slice(ts.lr / 200, ts.lr / 2), cbs=[guard])
    else:
        fit_steps(learn, fit, ts.lr, cbs=[guard])
