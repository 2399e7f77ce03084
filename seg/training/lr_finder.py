"""fastai's learning-rate finder: the curve and its suggestions (`python -m seg lr-find`, the Train page's
finder), and the valley a planned run takes when it starts. torch and fastai are imported when a finder
runs: the planner reads the step counts here without them."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from seg.errors import SettingsError
from seg.model.settings import DataSettings, TrainSettings
from seg.runs import DeviceLock, EventLog, Run
from seg.util import json_safe

STEPS = 60  # the finder's steps, in the app and the CLI (fastai's 100 take minutes on a CPU; 60 show the valley)
PLANNED_STEPS = 30  # a planned run's own finder, part of its time budget: the valley is all it needs


def find_lr(data, data_settings: DataSettings | None = None, train_settings: TrainSettings | None = None,
            codes=None, num_it: int = STEPS) -> dict:
    "fastai's learning-rate finder: the curve (lr, loss) and the valley, minimum, steep and slide suggestions."
    import torch
    from fastai.torch_core import set_seed

    from seg.data.dataloaders import dataloaders
    from seg.model.device import detect
    from seg.model.learner import learner, set_threads
    from seg.model.losses import class_weights
    from seg.model.pretrained import choose_pretrained
    from seg.training.prepare import prepare
    data_settings, train_settings = data_settings or DataSettings(), train_settings or TrainSettings()
    if num_it < 20:
        raise SettingsError(f"{num_it} iterations: the learning-rate finder needs at least 20 (60 is usual here).")
    dataset = prepare(data, data_settings, train_settings, codes)
    device = detect()
    set_threads(device)
    lock = DeviceLock(device.kind)
    lock.acquire(Path(data), what="the learning-rate finder")
    try:
        set_seed(data_settings.seed)
        dls = dataloaders(dataset, data_settings, device=torch.device(device.kind))
        weights = class_weights(list(dataset.train_fractions(data_settings.hw).values()))
        learn = learner(dls, train_settings, device, weights, choose_pretrained(train_settings))
        with tempfile.TemporaryDirectory() as tmp, learn.no_bar():
            learn.path = Path(tmp)  # fastai keeps the weights under path/models meanwhile: not in cwd
            learn.lr_find(num_it=num_it, show_plot=False, suggest_funcs=None)
    finally:
        lock.release()
    lrs = [float(x) for x in learn.recorder.lrs]
    losses = [float(x) for x in learn.recorder.losses]
    return {"lrs": lrs, "losses": json_safe(losses), "suggestions": suggestions(lrs, losses, num_it),
            "data": str(Path(data).resolve()), "settings": {**data_settings.to_json(), **train_settings.to_json()}}


def suggestions(lrs: list[float], losses: list[float], num_it: int) -> dict:
    """fastai's four suggestions on the curve as fastai's `lr_find` trims it (first tenth and last 5 points
    dropped, cut at the first NaN); one that finds no point on a short or diverged curve is null."""
    import torch
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


def planned_lr(learn, run: Run, log: EventLog | None) -> float:
    """The learning rate from fastai's lr_find valley on this run's learner (its weights are put back
    after), kept within the planner's range; an `lr` event and a note say what was found."""
    from seg.training.callbacks import Checkpoints, LogEvents, Samples
    from seg.training.planner import clip_lr
    started = time.time()
    learn.path, learn.model_dir = run.path, ".lr_find"  # fastai keeps the weights there meanwhile, not in cwd
    logging = [cb for cb in learn.cbs if isinstance(cb, (LogEvents, Checkpoints, Samples))]
    with learn.removed_cbs(logging), learn.no_bar():
        learn.lr_find(num_it=PLANNED_STEPS, show_plot=False, suggest_funcs=None)
    shutil.rmtree(run.path / ".lr_find", ignore_errors=True)
    lrs = [float(x) for x in learn.recorder.lrs]
    losses = [float(x) for x in learn.recorder.losses]
    valley = suggestions(lrs, losses, PLANNED_STEPS).get("valley")
    lr = clip_lr(valley)
    if log:
        log.write("lr", lr=lr, valley=valley, seconds=round(time.time() - started, 1))
        found = f"valley {valley:.1e}" if valley else "no valley on the curve"
        log.write("note", message=f"Learning rate {lr:.1e} from lr_find ({found}, {PLANNED_STEPS} steps, "
                                  f"{time.time() - started:.0f} s).")
    return lr
