"""A training run: fastai callbacks that write the run folder (see `runs.py`), and `train()`, which
`python -m seg train` calls. Under `accelerate launch` the same code trains on every GPU; only the
first process writes the folder."""

from __future__ import annotations

import errno
import json
import os
import platform
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from fastai.callback.core import Callback, CancelFitException
from fastai.callback.progress import ProgressCallback
from fastai.distributed import num_distrib, rank_distrib
from fastai.torch_core import set_seed
from PIL import Image

from . import __version__
from .codes import Codes
from .dataloaders import dataloaders, to_uint8_images
from .dataset import Dataset
from .device import Device, detect
from .learner import choose_pretrained, class_weights, learner, set_threads
from .overlay import Overlay
from .runs import HEARTBEAT_S, DeviceLock, EventLog, Run, RunError, clean
from .settings import DataSettings, SettingsError, TrainSettings
from .sharing import Access
from .workspace import signature

SAMPLES = 3  # validation images shown after each epoch


# ---- callbacks ------------------------------------------------------------------------------------

class LogEvents(Callback):
    "Per-batch loss and learning rate, per-epoch losses and metrics, into events.jsonl."

    order = 60  # after the Recorder (50), whose values it reads

    def __init__(self, log: EventLog):
        self.log, self.iteration, self.epoch_no, self.started = log, 0, 0, time.time()

    def after_batch(self):
        if not self.training:
            return
        self.iteration += 1
        self.log.write("batch", iteration=self.iteration, epoch=self.epoch_no + 1,
                       loss=clean(self.learn.loss.detach().item()), lr=float(self.opt.hypers[-1]["lr"]))

    def after_epoch(self):
        self.epoch_no += 1
        names, values = self.recorder.metric_names[1:-1], self.recorder.log[1:-1]  # drop epoch and time
        fields = {n: clean(float(v)) if v is not None else None for n, v in zip(names, values)}
        self.log.write("epoch", epoch=self.epoch_no, **fields, seconds=round(time.time() - self.started, 1))
        self.started = time.time()


class StopOnRequest(Callback):
    "Ends the fit after the current batch when the run's `stop` file appears or a signal came."

    order = 5

    def __init__(self, run: Run):
        self.run, self.signalled = run, False

    def after_batch(self):
        if self.signalled or self.run.stop_requested():
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
    disk refuses ends the run `failed` with the reason; the files written before stay whole."""

    order = 61

    def __init__(self, run: Run, monitor: str = "dice"):
        self.run, self.monitor, self.best, self.writer, self.error = run, monitor, None, None, None

    def after_epoch(self):
        names = self.recorder.metric_names[1:-1]
        values = dict(zip(names, self.recorder.log[1:-1]))
        value = values.get(self.monitor)
        key, higher = (self.monitor, True) if value is not None and value == value else ("valid_loss", False)
        value = values.get(key)
        better = value is not None and value == value and (
            self.best is None or (value > self.best if higher else value < self.best))
        if better:
            self.best = value
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
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}  # a snapshot
        self.wait()
        self.writer = threading.Thread(target=self.write, args=(state, also_best))
        self.writer.start()

    def wait(self):
        if self.writer is not None:
            self.writer.join()
            self.writer = None
        if self.error is not None:
            error, self.error = self.error, None
            raise WeightsNotSaved(not_saved(error, self.run.path))

    def write(self, state: dict, also_best: bool):
        try:
            self._write(state, also_best)
        except OSError as e:  # disk full, quota, size limit: no half file left, the reason kept for the status
            for tmp in (".last.pth.tmp", ".best.pth.tmp"):
                (self.run.path / tmp).unlink(missing_ok=True)
            self.error = e

    def _write(self, state: dict, also_best: bool):
        tmp = self.run.path / ".last.pth.tmp"
        with open(tmp, "wb") as f:
            out = _Refusals(f)
            try:
                torch.save(state, out)
            except RuntimeError:
                if out.error:  # torch reports a refused write only as "unexpected pos ..."
                    raise out.error from None
                raise
        os.replace(tmp, self.run.path / "last.pth")  # never a half-written weights file
        if also_best:  # best.pth as a second name of the same file: no second write of a few hundred MB
            tmp = self.run.path / ".best.pth.tmp"
            tmp.unlink(missing_ok=True)
            try:
                os.link(self.run.path / "last.pth", tmp)
            except OSError:  # a file system without hard links
                import shutil
                shutil.copyfile(self.run.path / "last.pth", tmp)
            os.replace(tmp, self.run.path / "best.pth")


class Samples(Callback):
    """After each epoch, the first validation images | truth | prediction as samples/epoch-NN.png, taken
    from the predictions validation makes anyway: no extra forward pass."""

    order = 62

    def __init__(self, run: Run, codes: Codes, n: int = SAMPLES):
        self.run, self.overlay, self.n, self.epoch_no, self.rows = run, Overlay(codes, 0.55), n, 0, None

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
        self.run.samples_dir.mkdir(exist_ok=True)
        tmp = self.run.samples_dir / ".tmp.png"
        Image.fromarray(np.concatenate(self.rows, axis=0)).save(tmp)
        os.replace(tmp, self.run.samples_dir / f"epoch-{self.epoch_no:02d}.png")
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


# ---- config ---------------------------------------------------------------------------------------

def versions() -> dict:
    import fastai
    import torchvision
    return {"segboard": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "fastai": fastai.__version__}


def fingerprint(dataset: Dataset, train, valid) -> dict:
    return {"root": str(dataset.root), "fingerprint": signature(dataset.root), "pairs": len(dataset.pairs),
            "train": len(train), "valid": len(valid), "split": dataset.discovery.split,
            "encoding": dataset.encoding.to_json(), "class_fractions": dataset.class_fractions(),
            "typical_size": typical_size(dataset, train)}


def typical_size(dataset: Dataset, pairs) -> list[int] | None:
    "The commonest (width, height) of the training images: prediction scales large images to match."
    chosen = set(pairs)
    sizes = Counter(s.size for s in dataset.usable if s.pair in chosen)
    return list(sizes.most_common(1)[0][0]) if sizes else None


@dataclass
class Plan:
    epochs: int
    batches_per_epoch: int

    @property
    def total_iterations(self) -> int:
        return self.epochs * self.batches_per_epoch


# ---- train ----------------------------------------------------------------------------------------

def prepare(data, data_settings: DataSettings, train_settings: TrainSettings, codes=None):
    "Open and check the dataset and settings; raise SettingsError with the first thing to fix."
    data_settings.check()
    train_settings.check()
    dataset = Dataset.open(data, codes=codes, access=Access.within(data_settings.within, data))
    if not dataset.ok:
        first = dataset.report.errors[0] if dataset.report.errors else None
        where = f"{first.file}: {first.problem} Fix: {first.fix}" if first else "fewer than 2 usable pairs."
        raise SettingsError(f"The dataset in {data} cannot be trained on: {where} "
                            f"(python -m seg inspect {data} lists every problem)")
    return dataset


def load_from(learn, source: Path, codes: list[str]) -> str:
    "Continue from an earlier run's weights: the same classes and backbone, or a clear refusal."
    earlier = Run(source)
    weights = earlier.weights("best") or earlier.weights("last")
    if not weights:
        raise SettingsError(f"--from {source}: no best.pth or last.pth there.")
    cfg = earlier.config()
    if cfg and cfg.get("codes") != codes:
        raise SettingsError(f"--from {source}: that run's classes {cfg.get('codes')} differ from this "
                            f"dataset's {codes}.")
    arch = cfg.get("train", {}).get("arch")
    if arch and arch != learn.arch.__name__:
        raise SettingsError(f"--from {source}: that run used the {arch} backbone; pass --arch {arch}.")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    learn.model.load_state_dict(state)
    return str(weights)


def oom_message(data_settings: DataSettings) -> str:
    h, w = data_settings.hw
    return (f"The GPU ran out of memory at batch size {data_settings.bs} and image size {h} x {w}: lower the batch "
            f"size first (try {max(1, data_settings.bs // 2)}), then the image size.")


def train(data, run_dir, data_settings: DataSettings | None = None, train_settings: TrainSettings | None = None,
          codes=None, from_run=None, argv=None, plan: dict | None = None) -> str:
    """Train in this process and write the run folder; returns the final status. Raises SettingsError
    or RunError (before anything is written) for bad data, settings or a busy device."""
    data_settings, train_settings = data_settings or DataSettings(), train_settings or TrainSettings()
    run = Run(run_dir)
    if run.config_path.exists() or run.events_path.exists():
        raise RunError(f"{run.path} already holds a run; choose a new --run-dir (nothing was changed).")
    dataset = prepare(data, data_settings, train_settings, codes)
    device = detect()
    set_threads(device)
    main = rank_distrib() == 0
    if num_distrib() and device.kind == "cuda":
        torch.cuda.set_device(rank_distrib())
    lock = DeviceLock(device.kind)
    if main:
        lock.acquire(run.path)
    try:
        return _train(run, dataset, device, data_settings, train_settings, from_run, argv, main, plan)
    finally:
        lock.release()


def _train(run: Run, dataset: Dataset, device: Device, ds: DataSettings, ts: TrainSettings, from_run, argv,
           main: bool, planned: dict | None = None) -> str:
    log = EventLog(run.events_path)
    set_seed(ds.seed)  # the same seed gives the same split, initial weights and batches
    dls = dataloaders(dataset, ds, device=torch.device(device.kind))
    train_pairs, valid_pairs = dataset.split(ds.valid_pct, ds.seed)
    codes = list(dataset.codes.names)
    weights = class_weights(list(dataset.class_fractions().values()))
    pretrained = choose_pretrained(ts)
    stop = StopOnRequest(run)
    cbs = [stop] + ([LogEvents(log), Checkpoints(run), Samples(run, dataset.codes)] if main else [])
    learn = learner(dls, ts, device, weights, pretrained, cbs=cbs)
    if not sys.stdout.isatty():  # a log file gets one line per epoch, not a redrawn progress bar
        learn.remove_cb(ProgressCallback)
    continued = load_from(learn, Path(from_run), codes) if from_run else None
    plan = Plan(ts.epochs, len(dls.train))
    if main:  # the folder is made only now: bad settings found above leave nothing behind
        run.path.mkdir(parents=True, exist_ok=True)
        config = {
            "data": ds.to_json(), "train": ts.to_json(), "codes": codes, "class_weights": weights,
            "loss_weights_used": ts.loss != "ce", "batch_size_used": ds.batch_size(len(train_pairs)),
            "dataset": fingerprint(dataset, train_pairs, valid_pairs), "device": device.to_json(),
            "pretrained": {"used": pretrained.used, "source": pretrained.source, "message": pretrained.message},
            "from": continued, "plan": planned, "versions": versions(), "command": argv or sys.argv,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        tmp = run.path / ".config.json.tmp"
        tmp.write_text(json.dumps(config, indent=2, default=str))
        os.replace(tmp, run.config_path)
        log.write("status", status="running", message=f"Training on {device.label}", pid=os.getpid(),
                  host=socket.gethostname(), plan={**plan.__dict__, "total_iterations": plan.total_iterations})
        log.write("note", message=pretrained.message)
        if ds.bs > len(train_pairs):
            log.write("note", message=f"Batch size {ds.bs} is more than the {len(train_pairs)} training pairs: "
                                      f"batches hold {ds.batch_size(len(train_pairs))}.")
        if continued:
            log.write("note", message=f"Continuing from the weights in {continued}.")

    def on_signal(signum, frame):  # end after the current batch, weights saved
        stop.signalled = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with Heartbeat(log) if main else _nothing():
        try:
            if ts.find_lr:
                if main:
                    log.write("note", message="Finding a learning rate (lr_find) before the first epoch ...")
                ts = replace(ts, lr=planned_lr(learn, run, log if main else None))
            if num_distrib():  # fastai's DistributedTrainer reads `model.device`, which a plain module lacks
                learn.model.device = torch.device(device.kind)
            with learn.distrib_ctx() if num_distrib() else _nothing():
                fit(learn, ts, pretrained.used)
        except torch.OutOfMemoryError:
            status, message = "failed", oom_message(ds)
        except WeightsNotSaved as e:
            status, message = "failed", e.reason
        except Exception as e:  # the run ends `failed` with the reason; the traceback goes to the output
            import traceback
            traceback.print_exc()
            status, message = "failed", one_line(e)
        else:
            stopped = stop.signalled or run.stop_requested()
            status = "stopped" if stopped else "completed"
            if main:
                full_size_scores(run, dataset, valid_pairs, device, log)
            message = ("Stopped on request; the best weights so far are in best.pth." if stopped
                       else f"Completed {ts.epochs} epochs.")
        if main:  # a final status is written once the weights are: then the folder is complete
            refused = next(cb for cb in cbs if isinstance(cb, Checkpoints)).finish()
            if refused and status != "failed":
                status, message = "failed", refused
            log.write("status", status=status, message=message)
    return status


def planned_lr(learn, run: Run, log: EventLog | None) -> float:
    """The learning rate from fastai's lr_find valley on this run's learner (its weights are put back
    after), kept within the planner's range; an `lr` event and a note say what was found."""
    from .planner import FINDER_ITERATIONS, clip_lr
    started = time.time()
    learn.path, learn.model_dir = run.path, ".lr_find"  # fastai keeps the weights there meanwhile, not in cwd
    logging = [cb for cb in learn.cbs if isinstance(cb, (LogEvents, Checkpoints, Samples))]
    with learn.removed_cbs(logging), learn.no_bar():
        learn.lr_find(num_it=FINDER_ITERATIONS, show_plot=False, suggest_funcs=None)
    shutil.rmtree(run.path / ".lr_find", ignore_errors=True)
    lrs = [float(x) for x in learn.recorder.lrs]
    losses = [float(x) for x in learn.recorder.losses]
    valley = suggestions(lrs, losses, FINDER_ITERATIONS).get("valley")
    lr = clip_lr(valley)
    if log:
        log.write("lr", lr=lr, valley=valley, seconds=round(time.time() - started, 1))
        found = f"valley {valley:.1e}" if valley else "no valley on the curve"
        log.write("note", message=f"Learning rate {lr:.1e} from lr_find ({found}, {FINDER_ITERATIONS} steps, "
                                  f"{time.time() - started:.0f} s).")
    return lr


def full_size_scores(run: Run, dataset: Dataset, valid, device: Device, log: EventLog) -> None:
    """The best weights on the validation images at their own size (what a user's masks will be), as a
    `scores` event: per-epoch scores are at the training size, where small objects look bigger."""
    from . import scores
    from .inference import Model, Predictor
    try:
        model = Model.load(run.path, "best")
        predictor = Predictor(model, device=device)
        n = len(model.codes)
        total = np.zeros((n, n), np.int64)
        done = 0
        for path, image, mask in predictor.predict_files([p.image for p in valid]):
            pair = next(p for p in valid if p.image == path)
            truth = dataset.mask(pair) if image is not None else None
            if truth is not None and truth.shape == mask.shape:
                total += scores.confusion(truth, mask, n)
                done += 1
    except Exception as e:  # scoring is a bonus: the run's weights and status do not depend on it
        log.write("note", message=f"Scores at the images' own size could not be computed: {one_line(e)}")
        return
    fg = scores.foreground(n)
    per_class = {k: {m: clean(v) for m, v in d.items()} for k, d in scores.per_class(total, model.codes).items()}
    log.write("scores", resolution="original", weights="best", images=done,
              dice=clean(scores.nanmean(scores.dice(total, k) for k in fg)),
              iou=clean(scores.nanmean(scores.iou(total, k) for k in fg)), per_class=per_class)


def one_line(e: Exception) -> str:
    "An exception as one line: fastai puts the real cause on the second line of its wrapper's message."
    text = " ".join(part.strip() for part in str(e).splitlines() if part.strip())
    return f"{type(e).__name__}: {text}"[:500]


def fit(learn, ts: TrainSettings, pretrained: bool) -> None:
    "The tutorial's one-cycle schedule; from ImageNet weights, fastai's fine_tune (one frozen epoch first)."
    if pretrained and ts.epochs > 1:
        learn.fine_tune(ts.epochs - 1, base_lr=ts.lr, freeze_epochs=1)
    else:
        learn.fit_one_cycle(ts.epochs, ts.lr)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---- learning-rate finder -------------------------------------------------------------------------

def find_lr(data, data_settings: DataSettings | None = None, train_settings: TrainSettings | None = None,
            codes=None, num_it: int = 100) -> dict:
    "fastai's learning-rate finder: the curve (lr, loss) and the valley, minimum, steep and slide suggestions."
    data_settings, train_settings = data_settings or DataSettings(), train_settings or TrainSettings()
    if num_it < 20:
        raise SettingsError(f"{num_it} iterations: the learning-rate finder needs at least 20 (100 is usual).")
    dataset = prepare(data, data_settings, train_settings, codes)
    device = detect()
    set_threads(device)
    lock = DeviceLock(device.kind)
    lock.acquire(Path(data), what="the learning-rate finder")
    try:
        set_seed(data_settings.seed)
        dls = dataloaders(dataset, data_settings, device=torch.device(device.kind))
        weights = class_weights(list(dataset.class_fractions().values()))
        learn = learner(dls, train_settings, device, weights, choose_pretrained(train_settings))
        with tempfile.TemporaryDirectory() as tmp, learn.no_bar():
            learn.path = Path(tmp)  # fastai keeps the weights under path/models meanwhile: not in cwd
            learn.lr_find(num_it=num_it, show_plot=False, suggest_funcs=None)
    finally:
        lock.release()
    lrs = [float(x) for x in learn.recorder.lrs]
    losses = [float(x) for x in learn.recorder.losses]
    return {"lrs": lrs, "losses": [clean(x) for x in losses], "suggestions": suggestions(lrs, losses, num_it),
            "data": str(Path(data).resolve()), "settings": {**data_settings.to_json(), **train_settings.to_json()}}


def suggestions(lrs: list[float], losses: list[float], num_it: int) -> dict:
    """fastai's four suggestions on the curve as fastai's `lr_find` trims it (first tenth and last 5 points
    dropped, cut at the first NaN); one that finds no point on a short or diverged curve is null."""
    from fastai.callback.schedule import minimum, slide, steep, valley
    lr, loss = torch.tensor(lrs[num_it // 10:-5]), torch.tensor(losses[num_it // 10:-5])
    nan = torch.nonzero(torch.isnan(loss)).flatten()
    if len(nan):
        lr, loss = lr[: int(nan[0])], loss[: int(nan[0])]
    out = {}
    for fn in (valley, minimum, steep, slide):
        try:
            out[fn.__name__] = float(fn(lr, loss, num_it)[0])
        except (IndexError, RuntimeError, ValueError):
            out[fn.__name__] = None
    return out
