"""fastai callbacks that write the run folder as a run trains (the contract: seg/runs/folder.py): an event
per batch and per epoch, weights after each epoch, sample predictions, a heartbeat; and the stop a watcher
asks for. One concern each."""

from __future__ import annotations

import errno
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from fastai.callback.core import Callback, CancelFitException
from PIL import Image

from seg.data.codes import Codes
from seg.data.dataloaders import to_uint8_images
from seg.data.overlay import Overlay
from seg.runs import HEARTBEAT_S, EventLog, Run
from seg.util import atomic_write, json_safe, link_or_copy

SAMPLES = 3  # validation images shown after each epoch


class LogEvents(Callback):
    "Per-batch loss and learning rate, per-epoch losses and metrics, into events.jsonl."

    order = 60  # after the Recorder (50), whose values it reads

    def __init__(self, log: EventLog):
        self.log, self.iteration, self.epoch_no, self.started = log, 0, 0, time.time()

    def before_epoch(self):
        self.started = time.time()  # an epoch's own time: not the learner's making or the format's timing

    def after_batch(self):
        if not self.training:
            return
        self.iteration += 1
        self.log.write("batch", iteration=self.iteration, epoch=self.epoch_no + 1,
                       loss=json_safe(self.learn.loss.detach().item()), lr=float(self.opt.hypers[-1]["lr"]))

    def after_epoch(self):
        self.epoch_no += 1
        names, values = self.recorder.metric_names[1:-1], self.recorder.log[1:-1]  # drop epoch and time
        fields = {n: json_safe(float(v)) if v is not None else None for n, v in zip(names, values)}
        self.log.write("epoch", epoch=self.epoch_no, **fields, seconds=round(time.time() - self.started, 1))


class StopOnRequest(Callback):
    "Ends the fit after the current batch when the run's `stop` file appears or a signal came."

    order = 5

    def __init__(self, run: Run):
        # the run folder is `self.folder` in every callback here, never `self.run`: fastai sets a callback's
        # `run` to True at the end of every fit, lr_find's too, and the next batch would read True.stop_requested
        self.folder, self.signalled = run, False

    def after_batch(self):
        if self.signalled or self.folder.stop_requested():
            raise CancelFitException()


class WeightsNotSaved(RuntimeError):
    "The disk refused a weights file; `reason` is the sentence for the run's status."

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # fastai rewrites args of exceptions raised in callbacks; this stays


def not_saved(e: OSError, where: Path) -> str:
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
            errno.EFBIG: "a file-size limit was hit"}.get(e.errno, "the disk refused it")
    return (f"The weights could not be saved in {where}: {what} ({e.strerror}). Free space there; weights saved "
            f"at earlier epochs, if any, are intact (start a new run with --from this run to go on).")


class _Refusals:
    "A file that keeps the OSError of a refused write, which torch.save turns into a cryptic RuntimeError."

    def __init__(self, f):
        self.f, self.error = f, None

    def write(self, data):
        try:
            return self.f.write(data)
        except OSError as e:
            self.error = e
            raise

    def flush(self):
        self.f.flush()


class Checkpoints(Callback):
    """last.pth after every epoch (and at a stop); best.pth when the monitored score improves. Written by
    a thread from a snapshot of the weights, so the next epoch does not wait for the disk. A write the
    disk refuses ends the run `failed` with the reason; the files written before stay whole.

    `start`: for a run that continues from a model, that model's validation scores and weights (`Start`):
    best.pth holds them from the first step, and only an epoch that beats them replaces it, so a retrain
    never hands back weights that score worse on its validation images than those it started from."""

    order = 61

    def __init__(self, run: Run, monitor: str = "dice", start: Start | None = None):
        self.folder, self.monitor, self.best, self.writer, self.error = run, monitor, None, None, None
        self.start, self.beaten = start, False

    def before_fit(self):
        if self.start is not None:
            self.wait()
            self.writer = threading.Thread(target=self.write, args=(self.start.weights, True))
            self.writer.start()

    def after_epoch(self):
        names = self.recorder.metric_names[1:-1]
        values = dict(zip(names, self.recorder.log[1:-1]))
        value = values.get(self.monitor)
        key, higher = (self.monitor, True) if value is not None and value == value else ("valid_loss", False)
        value = values.get(key)
        if self.best is None and self.start is not None:  # the bar: the weights it continues from
            self.best = self.start.scores.get(key)
        better = value is not None and value == value and (
            self.best is None or (value > self.best if higher else value < self.best))
        if better:
            self.best, self.beaten = value, True
        self.save(also_best=better)

    def after_batch(self):
        if self.error is not None:  # the writer failed: end now, not after another epoch in vain
            self.wait()

    def after_cancel_fit(self):
        self.save(also_best=False)

    def after_fit(self):
        self.wait()  # the files are complete before the run says it ended

    def finish(self) -> str | None:
        """Wait for a weights write still going (a fit that ended in an error skips `after_fit`); the reason
        when the disk refused it, else None."""
        try:
            self.wait()
        except WeightsNotSaved as e:
            return e.reason
        return None

    def save(self, also_best: bool):
        model = getattr(self.learn.model, "module", self.learn.model)  # unwrapped under DDP
        # a snapshot, in the plain layout whatever the run trains in (a channels-last model's weights too)
        state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
        self.wait()
        self.writer = threading.Thread(target=self.write, args=(state, also_best))
        self.writer.start()

    def wait(self):
        if self.writer is not None:
            self.writer.join()
            self.writer = None
        if self.error is not None:
            error, self.error = self.error, None
            raise WeightsNotSaved(not_saved(error, self.folder.path))

    def write(self, state: dict, also_best: bool):
        "Never a half-written weights file: each is written under a temporary name, then renamed."
        last = self.folder.path / "last.pth"
        try:
            atomic_write(last, write=lambda tmp: save_state(state, tmp))
            if also_best:  # best.pth as a second name of the same file: no second write of a few hundred MB
                atomic_write(self.folder.path / "best.pth", write=lambda tmp: link_or_copy(last, tmp))
        except OSError as e:  # disk full, quota, size limit: no half file left, the reason kept for the status
            self.error = e


@dataclass
class Start:
    "The model a run continues from, before its first step: validation scores (by metric name) and weights."

    scores: dict[str, float]
    weights: dict

    @classmethod
    def of(cls, learn) -> Start:
        "Score `learn` on its validation images as it is now (at the training size, as every epoch is scored)."
        values = learn.validate()
        names = ["valid_loss", *(getattr(m, "name", str(m)) for m in learn.metrics)]
        scores = {n: float(v) for n, v in zip(names, values) if v is not None and v == v}
        model = getattr(learn.model, "module", learn.model)
        return cls(scores, {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()})


def save_state(state: dict, path: Path) -> None:
    "torch.save, with the OSError of a refused write (torch reports it only as 'unexpected pos ...')."
    with open(path, "wb") as f:
        out = _Refusals(f)
        try:
            torch.save(state, out)
        except RuntimeError:
            if out.error:
                raise out.error from None
            raise


class Samples(Callback):
    """After each epoch, the first validation images | truth | prediction as samples/epoch-NN.png, taken
    from the predictions validation makes anyway: no extra forward pass."""

    order = 62

    def __init__(self, run: Run, codes: Codes, n: int = SAMPLES):
        self.folder, self.overlay, self.n, self.epoch_no, self.rows = run, Overlay(codes, 0.55), n, 0, None

    def after_pred(self):
        if self.training or self.iter != 0:  # the first validation batch: the same images every epoch
            return
        x, y = self.learn.xb[0][: self.n], self.learn.yb[0][: self.n]
        pred = self.learn.pred[: self.n].argmax(dim=1).cpu().numpy().astype(np.uint8)
        images = to_uint8_images(self.dls.valid.decode((x, y))[0])
        truth = y.cpu().numpy().astype(np.uint8)
        self.rows = [np.concatenate([im, self.overlay(im, t), self.overlay(im, p)], axis=1)
                     for im, t, p in zip(images, truth, pred)]

    def after_epoch(self):
        self.epoch_no += 1
        if not self.rows:
            return
        self.folder.samples_dir.mkdir(exist_ok=True)
        sheet = Image.fromarray(np.concatenate(self.rows, axis=0))
        path = self.folder.samples_dir / f"epoch-{self.epoch_no:02d}.png"
        atomic_write(path, write=lambda tmp: sheet.save(tmp, "PNG"))
        self.rows = None


class Heartbeat:
    "A thread that writes a heartbeat event while the run lives, so a watcher can tell it from a dead one."

    def __init__(self, log: EventLog, every: float = HEARTBEAT_S):
        self.log, self.every, self.done = log, every, threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self):
        while not self.done.wait(self.every):
            self.log.write("heartbeat")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
