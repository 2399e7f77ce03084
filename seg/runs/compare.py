"""Runs side by side: the settings that differ, the curves per epoch (against epochs and wall time), the
final scores, the best marked. Read from the run folders only (no torch): the Compare page and the
report draw from it.

A run's final score is Dice at the images' own size (the `scores` event, best weights); for a run on
objects, AP at IoU 0.5 (the `objects` event) ranks first. A run that has neither (still training,
stopped before its end scoring, an old run) is ranked by its best per-epoch Dice at the training size,
and says so.
"""

from __future__ import annotations

from pathlib import Path

from seg.runs.folder import Run

# (label, where in config.json): the settings a person chose or a plan chose for them
SETTINGS = (
    ("dataset", ("dataset", "root")), ("dataset fingerprint", ("dataset", "fingerprint")),
    ("training pairs", ("dataset", "train")), ("validation pairs", ("dataset", "valid")),
    ("classes", ("codes",)), ("objects", ("objects", "name")),
    ("image size", ("data", "size")), ("batch size", ("batch_size_used",)), ("epochs", ("train", "epochs")),
    ("learning rate", ("train", "lr")), ("backbone", ("train", "arch")), ("loss", ("train", "loss")),
    ("windows cut at scale", ("data", "scale")), ("windows centred on foreground", ("data", "fg_share")),
    ("augmentation", ("data", "augment")), ("validation fraction", ("data", "valid_pct")), ("seed", ("data", "seed")),
    ("ImageNet weights", ("pretrained", "used")), ("number format", ("precision", "label")),
    ("budget (min)", ("budget", "minutes")), ("trials", ("trials", "winner", "label")), ("from run", ("from",)),
    ("device", ("device", "name")), ("segboard", ("versions", "segboard")), ("fastai", ("versions", "fastai")),
    ("torch", ("versions", "torch")),
)


def _get(cfg: dict, path: tuple[str, ...]):
    value = cfg
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, float):
        return round(value, 6)
    if path == ("dataset", "root") and value:
        return Path(value).name
    return value


def settings(run: Run) -> dict:
    "The run's settings by label (None where it has none)."
    cfg = run.config()
    out = {label: _get(cfg, path) for label, path in SETTINGS}
    if cfg.get("from"):  # --from: the weights file continued from; the earlier run's folder name
        out["from run"] = Path(str(cfg["from"])).parent.name
    if out["windows cut at scale"] is None:  # whole images: the share of windows means nothing
        out["windows centred on foreground"] = None
    return out


def differing(runs: list[Run]) -> tuple[list[str], dict[str, list]]:
    """(labels, {label: one value per run}) of the settings whose values are not all the same; the rest are
    shared and left out."""
    table = [settings(r) for r in runs]
    labels = [label for label, _ in SETTINGS if len({repr(t[label]) for t in table}) > 1]
    return labels, {label: [t[label] for t in table] for label in labels}


def shared(runs: list[Run]) -> dict:
    "The settings every run has the same value for (and has one)."
    table = [settings(r) for r in runs]
    return {label: table[0][label] for label, _ in SETTINGS
            if table[0][label] is not None and len({repr(t[label]) for t in table}) == 1}


def curves(run: Run) -> list[dict]:
    """One row per epoch: epoch, minutes since the run started (wall time, trials and start-up included),
    train_loss, valid_loss, dice, iou."""
    started = run.status().started
    rows = []
    for e in run.epochs():
        rows.append({"epoch": e.get("epoch"), "minutes": round((e["t"] - started) / 60, 3) if started else None,
                     **{k: e.get(k) for k in ("train_loss", "valid_loss", "dice", "iou")}})
    return rows


def final(run: Run) -> dict:
    """The scores a run ended with: `score` (what ranks it), `basis` (what that score is), Dice and IoU at
    the images' own size with per-class Dice, the object scores; None where there are none."""
    full, objects = run.full_size(), run.object_scores()
    epochs = run.epochs()
    best_epoch = max((e.get("dice") for e in epochs if e.get("dice") is not None), default=None)
    out = {"dice": (full or {}).get("dice"), "iou": (full or {}).get("iou"),
           "per_class": {c: v.get("dice") for c, v in (full or {}).get("per_class", {}).items()},
           "ap50": (objects or {}).get("ap50"), "ap": (objects or {}).get("ap"),
           "count_error": (objects or {}).get("count_error_median"), "best_epoch_dice": best_epoch,
           "epochs": len(epochs), "status": run.status().status}
    if out["ap50"] is not None:
        out["score"], out["basis"] = out["ap50"], "objects: AP at IoU 0.5"
    elif out["dice"] is not None:
        out["score"], out["basis"] = out["dice"], "Dice at the images' own size"
    else:
        out["score"], out["basis"] = best_epoch, "best epoch's Dice at the training size (no final scores)"
    return out


def best(finals: list[dict]) -> int | None:
    """Index of the best of the runs' `final` scores: compared on the same basis only (a run with final scores
    beats one without; objects' AP only among runs on objects, else Dice at own size); None when none has one."""
    rank = {"objects: AP at IoU 0.5": 2, "Dice at the images' own size": 1}
    scored = [(rank.get(f["basis"], 0), f["score"], -i) for i, f in enumerate(finals) if f["score"] is not None]
    return -max(scored)[2] if scored else None
