"""A training run from start to final status: `train()`, which `python -m seg train` calls. It checks the
data and settings, writes config.json, trains with the callbacks that write the rest of the run folder
(seg/training/callbacks.py) and scores the best weights at the images' own size. Under `accelerate launch`
the same code trains on every GPU; only the first process writes the folder."""

from __future__ import annotations

import os
import signal
import socket
import sys
from dataclasses import replace
from pathlib import Path

import torch
from fastai.callback.progress import ProgressCallback
from fastai.distributed import num_distrib, rank_distrib
from fastai.torch_core import set_seed

from seg.data.channels import Input
from seg.data.dataloaders import dataloaders, scored
from seg.data.dataset import Dataset
from seg.errors import RunError, SettingsError
from seg.model.device import Device, detect
from seg.model.learner import learner, set_threads
from seg.model.losses import class_weights
from seg.model.number_formats import formats_for
from seg.model.pretrained import choose_pretrained
from seg.model.settings import DataSettings, TrainSettings
from seg.runs import DeviceLock, EventLog, Run
from seg.server import workspace
from seg.training.budget import (
    Budget,
    Deadline,
    Schedule,
    epoch_extra_s,
    final_schedule,
    fit_budgeted,
    room,
    too_short,
    training_end,
)
from seg.training.callbacks import Checkpoints, Heartbeat, LogEvents, Samples, Start, StopOnRequest, WeightsNotSaved
from seg.training.config import config_of
from seg.training.final_scores import full_size_scores
from seg.training.format_choice import apply as apply_precision
from seg.training.format_choice import choose
from seg.training.format_choice import reason as precision_reason
from seg.training.lr_finder import planned_lr
from seg.training.prepare import prepare
from seg.training.trial_setup import run_trials
from seg.training.trials import Outcome, Stopped, skip
from seg.util import one_line, write_json


def load_from(learn, source: Path, codes: list[str], seen: Input | None = None) -> str:
    "Continue from an earlier run's weights: the same classes, backbone and input channels, or a clear refusal."
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
    before = Input.from_json(cfg.get("input") if cfg else None)
    if seen is not None and before.n_in != seen.n_in:
        raise SettingsError(f"--from {source}: that run's model saw {before.describe()}; this one would see "
                            f"{seen.describe()}. Pick the same channels (--channels) or train without --from.")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    learn.model.load_state_dict(state)
    return str(weights)


def oom_message(data_settings: DataSettings) -> str:
    h, w = data_settings.hw
    return (f"The GPU ran out of memory at batch size {data_settings.bs} and image size {h} x {w}: lower the batch "
            f"size first (try {max(1, data_settings.bs // 2)}), then the image size.")


def train(data, run_dir, data_settings: DataSettings | None = None, train_settings: TrainSettings | None = None,
          codes=None, from_run=None, argv=None, plan: dict | None = None, budget: Budget | None = None) -> str:
    """Train in this process and write the run folder; returns the final status. Raises SettingsError
    or RunError (before anything is written) for bad data, settings or a busy device. With a `budget`
    (the planner's plan and a deadline) candidates are tried first and the run ends by the deadline."""
    data_settings, train_settings = data_settings or DataSettings(), train_settings or TrainSettings()
    run = Run(run_dir)
    if run.config_path.exists() or run.events_path.exists():
        raise RunError(f"{run.path} already holds a run; choose a new --run-dir (nothing was changed).")
    dataset = prepare(data, data_settings, train_settings, codes)
    if budget is not None and dataset.objects is not None:  # the end tunes the split: within the budget too
        from seg.training.split_tuning import split_seconds
        budget = replace(budget, split_s=split_seconds(dataset, len(dataset.split(data_settings.valid_pct,
                                                                                  data_settings.seed)[1])))
    device = detect()
    formats_for(device.kind, train_settings.precision)  # a format this device cannot run: refused before any work
    set_threads(device)
    main = rank_distrib() == 0
    if num_distrib() and device.kind == "cuda":
        torch.cuda.set_device(rank_distrib())
    lock = DeviceLock(device.kind)
    if main:
        lock.acquire(run.path)
    try:
        return _train(run, dataset, device, data_settings, train_settings, from_run, argv, main,
                      budget.plan.to_json() if budget else plan, budget)
    finally:
        lock.release()


def _train(run: Run, dataset: Dataset, device: Device, ds: DataSettings, ts: TrainSettings, from_run, argv,
           main: bool, planned: dict | None = None, budget: Budget | None = None) -> str:
    log = EventLog(run.events_path)
    set_seed(ds.seed)  # the same seed gives the same split, initial weights and batches
    train_pairs, valid_pairs = dataset.split(ds.valid_pct, ds.seed)
    judged = scored(dataset, valid_pairs, ds.hw)  # what is scored at the images' own pixels (large: crops)
    codes = list(dataset.train_codes.names)  # for objects: background, interior, boundary
    weights = class_weights(list(dataset.train_fractions(ds.hw).values()))
    seen = dataset.input_plan(train_pairs, ds.pick, ds.scaling)  # what the model sees of each image, measured once
    pretrained = choose_pretrained(ts)
    stop = StopOnRequest(run)
    continued = None

    def make(d: DataSettings, t: TrainSettings):
        "A learner for these settings, from the seed's initial weights (or --from's), in float32."
        nonlocal continued
        set_seed(d.seed)
        learn = learner(dataloaders(dataset, d, device=torch.device(device.kind), input=seen), t, device, weights,
                        choose_pretrained(t), cbs=[stop])  # a trial's other backbone: its own file
        if not sys.stdout.isatty():  # a log file gets one line per epoch, not a redrawn progress bar
            learn.remove_cb(ProgressCallback)
        if from_run:
            continued = load_from(learn, Path(from_run), codes, seen)
        return learn

    learn = make(ds, ts)
    if num_distrib():  # every process must train alike: no per-process timing, the first candidate
        precision, timings, remembered = formats_for(device.kind, ts.precision)[0], {}, False
    else:
        precision, timings, remembered = choose(learn, device.kind, ts.precision, remember=workspace.formats_file())
    apply_precision(learn, precision, device.kind)
    used = {**precision.to_json(), "requested": ts.precision, "timings": timings, "remembered": remembered}
    if main:  # the folder is made only now: bad settings found above leave nothing behind
        run.path.mkdir(parents=True, exist_ok=True)
        log.write("status", status="running", message=f"Training on {device.label}", pid=os.getpid(),
                  host=socket.gethostname(), **({} if budget else {"plan": schedule_of(Schedule(ts.epochs,
                                                                                       len(learn.dls.train)))}))
        log.write("note", message=pretrained.message)
        log.write("precision", **used)
        planned_format = bool(planned) and planned.get("precision") == ts.precision
        log.write("note", message=precision_reason(precision, ts.precision, timings, remembered, planned_format))

    start = None
    if continued and not num_distrib():  # the model it continues from, scored once: the bar for best.pth
        start = Start.of(learn)
        if main:
            log.write("note", message=f"The weights it continues from score {bar(start)} on the validation "
                                      "images: best.pth keeps them until an epoch beats them.")

    def on_signal(signum, frame):  # end after the current batch, weights saved
        stop.signalled = True

    trials, schedule, guard, short = None, Schedule(ts.epochs, len(learn.dls.train)), None, None
    with _signals(on_signal), Heartbeat(log) if main else _nothing():
        try:
            if budget is not None and budget.trials and main and not num_distrib():
                trials = run_trials(run, dataset, device, ds, ts, learn, make, precision, judged, log,
                                    lambda: stop.signalled or run.stop_requested(), budget,
                                    keep_size=from_run is not None)
                if trials.winner is not None:
                    w = trials.winner
                    ds, ts, learn = replace(ds, size=w.size, scale=w.scale), \
                        replace(ts, lr=w.lr, loss=w.loss, find_lr=False, arch=w.arch or ts.arch), \
                        trials.learn
                    pretrained = choose_pretrained(ts)  # another backbone's file (started alike: trials.py)
                log.write("note", message=trials.reason)
            elif budget is not None and budget.trials:
                said = "No trials on several GPUs: the rule's plan trains as it is."
                if main:  # said in the folder as any run without trials says it
                    skip(run.path, log, Outcome(None, None, [], said, 0.0), gpus=num_distrib())
                log.write("note", message=said)
            if main:
                write_json(run.config_path, config_of(
                    data=ds, train=ts, dataset=dataset, train_pairs=train_pairs, valid_pairs=valid_pairs, codes=codes,
                    input=seen,
                    class_weights=weights, device=device, pretrained=pretrained, precision=used, continued=continued,
                    plan=planned, budget=budget, trials=trials, command=argv))
                n_items = len(learn.dls.train_ds)  # the training pairs, or the crops of large images an epoch
                if ds.bs > n_items:
                    log.write("note", message=f"Batch size {ds.bs} is more than the {n_items} training "
                                              f"{'crops' if dataset.crops else 'pairs'}: batches hold "
                                              f"{ds.batch_size(n_items)}.")
                if continued:
                    log.write("note", message=f"Continuing from the weights in {continued}.")
            learn.add_cbs([LogEvents(log), Checkpoints(run, start=start), Samples(run, dataset.train_codes)]
                          if main else [])
            if ts.find_lr:
                if main:
                    log.write("note", message="Finding a learning rate (lr_find) before the first epoch ...")
                ts = replace(ts, lr=planned_lr(learn, run, log if main else None))
            if num_distrib():  # fastai's DistributedTrainer reads `model.device`, which a plain module lacks
                learn.model.device = torch.device(device.kind)
            if budget is not None:
                schedule = final_schedule(budget, learn, ds, trials, len(judged))

                def rescheduled(epochs: int, steps: int | None = None) -> None:  # the bar follows the run's pace
                    if main:
                        plan = schedule_of(Schedule(epochs, guard.per_epoch(schedule.per_epoch) if guard
                                                    else schedule.per_epoch))
                        log.write("status", status="running", message=f"Training on {device.label}",
                                  plan={**plan, "total_iterations": steps or plan["total_iterations"]})

                guard = Deadline(training_end(budget, ds, trials, len(judged)), schedule.epochs,
                                 room(schedule.epochs), rescheduled,
                                 epoch_extra_s(budget, learn, ds, trials, len(judged)))
                short = too_short(budget, learn, ds, trials, len(judged))
                if short and main:
                    log.write("note", message=short)
                rescheduled(schedule.epochs)
            with learn.distrib_ctx() if num_distrib() else _nothing():
                if budget is not None:
                    fit_budgeted(learn, schedule, ts, pretrained.used, guard)
                else:
                    fit(learn, ts, pretrained.used)
        except Stopped:
            status, message = "stopped", "Stopped on request during the trials: no weights were saved yet."
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
                full_size_scores(run, dataset, scored(dataset, valid_pairs, ds.hw), device, log, precision)
            if stopped:
                message = "Stopped on request; the best weights so far are in best.pth."
            elif guard is not None and guard.hit:
                planned = guard.planned_steps(guard.per_epoch(schedule.per_epoch))
                kept = ("the best weights are in best.pth" if run.weights("best") else
                        "its weights are in last.pth (no epoch ended, so no best.pth)")
                message = (f"Ended at the time budget after {learn.train_iter} of {planned} steps; {kept}."
                           + (f" {short}" if short else ""))
            elif budget is not None:
                message = (f"Completed {guard.epochs} epochs ({learn.train_iter} steps) in the time budget."
                           + (f" {short}" if short else ""))
            else:
                message = f"Completed {ts.epochs} epochs."
        if main:  # a final status is written once the weights are: then the folder is complete
            checkpoints = next((cb for cb in learn.cbs if isinstance(cb, Checkpoints)), None)
            refused = checkpoints.finish() if checkpoints else None
            if refused and status != "failed":
                status, message = "failed", refused
            elif checkpoints and checkpoints.start and not checkpoints.beaten and status != "failed":
                message += (f" No epoch beat the weights it continued from ({bar(start)} on the validation "
                            "images): best.pth holds them.")
            log.write("status", status=status, message=message)
    return status


def bar(start: Start) -> str:
    "The starting weights' score, as the notes say it."
    dice = start.scores.get("dice")
    return f"Dice {dice:.3f}" if dice is not None else f"validation loss {start.scores.get('valid_loss', 0):.3f}"


def schedule_of(schedule: Schedule) -> dict:
    "The `plan` of a status event: what the progress bar counts."
    return {"epochs": schedule.epochs, "batches_per_epoch": schedule.per_epoch, "total_iterations": schedule.steps}


def fit(learn, ts: TrainSettings, pretrained: bool) -> None:
    "The tutorial's one-cycle schedule; from ImageNet weights, fastai's fine_tune (one frozen epoch first)."
    if pretrained and ts.epochs > 1:
        learn.fine_tune(ts.epochs - 1, base_lr=ts.lr, freeze_epochs=1)
    else:
        learn.fit_one_cycle(ts.epochs, ts.lr)


class _signals:
    """SIGTERM and SIGINT call `handler` while the run trains; the caller's handlers come back after it, so
    train() called from Python (a notebook, the tests) leaves Ctrl-C as it found it."""

    def __init__(self, handler):
        self.handler, self.before = handler, {}

    def __enter__(self):
        self.before = {s: signal.signal(s, self.handler) for s in (signal.SIGTERM, signal.SIGINT)}
        return self

    def __exit__(self, *exc):
        for s, h in self.before.items():
            signal.signal(s, h)
        return False


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
