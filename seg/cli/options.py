"""The one mapping between a run's settings (`DataSettings`, `TrainSettings`) and the command line of
`python -m seg train` / `lr-find`: the options are declared from the settings' defaults, parsed back
into settings, and written from settings when the app starts a run. A new setting is a field and one
entry in OPTIONS; `tests/test_cli.py` checks the round trip over every field. A run's options that are
not settings (`--from`, `--budget`, `--no-trials`, `--plan`) are declared and written here too
(`add_run_options`, `run_argv`): every run the app starts gets its command line from `run_argv`.

Under `--budget` the plan replaces size, batch, augmentation, epochs, learning rate, lr_find, the loss where a
class is rare and, where `--precision` is auto, the number format, whatever the options say
(`Plan.data_settings`, `Plan.train_settings`), and the trials may change the default backbone for resnet18
(seg/training/trial_setup.py: other_backbones); every other setting (backbone, ImageNet weights, the loss
where no class is rare, a number format asked for, split, seed, workers, objects, `--within`) is the
planner's input, kept. `to_argv` writes every field, defaults too, and that pins nothing: a default
written reads back as one left out (`from_args` cannot tell them apart; the planner sees settings, not
options), and the command recorded in `launch.json` and `config.json` names each setting whatever a later
version's defaults. What a budgeted run leaves to the planner is decided by the settings given: an earlier
run's (its config.json) hold what its plan and trials chose, such as the exact number format, and would
pin those (the Label page's retrain starts from the defaults: `seg.labels.corrections.retrain_settings`)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, fields
from pathlib import Path

from seg.model.registry import BACKBONES, LOSSES
from seg.model.settings import MAX_SCALE, MIN_SCALE, PERCENTILES, PRECISIONS, SCALINGS, DataSettings, TrainSettings


@dataclass(frozen=True)
class Option:
    field: str  # the settings' field
    owner: type  # DataSettings or TrainSettings
    flag: str
    help: str
    # value, switch (--x/--no-x), tristate (--x/--no-x/neither: None), flag (--x only), size (1 or 2 ints),
    # repeat (append)
    kind: str = "value"
    type: type = str
    choices: tuple[str, ...] | None = None


OPTIONS = (
    Option("epochs", TrainSettings, "--epochs", "passes over the training set", type=int),
    Option("lr", TrainSettings, "--lr", "peak learning rate", type=float),
    Option("bs", DataSettings, "--bs", "batch size", type=int),
    Option("size", DataSettings, "--size", "training size: a side, or height width; multiples of 32", kind="size"),
    Option("arch", TrainSettings, "--arch", "backbone: " + "; ".join(f"{b.name} {b.note}" for b in
                                                                      BACKBONES.values()), choices=tuple(BACKBONES)),
    Option("pretrained", TrainSettings, "--pretrained", "start from ImageNet weights in the torch cache or "
           "--weights; never downloads", kind="switch"),
    Option("weights", TrainSettings, "--weights", "a torchvision ImageNet state dict (.pth) for the backbone"),
    Option("valid_pct", DataSettings, "--valid-pct", "validation fraction", type=float),
    Option("seed", DataSettings, "--seed", "seed of the split and the training", type=int),
    Option("augment", DataSettings, "--augment", "flips, rotation, zoom, lighting, warp on image and mask together",
           kind="switch"),
    Option("loss", TrainSettings, "--loss", "; ".join(f"{k}: {v.label}" for k, v in LOSSES.items()),
           choices=tuple(LOSSES)),
    Option("workers", DataSettings, "--workers", "DataLoader worker processes", type=int),
    Option("within", DataSettings, "--within", "read only files under DIR (repeatable): links in the dataset "
           "leading elsewhere are left out, as the app does for SEGBOARD_ROOTS", kind="repeat"),
    Option("precision", TrainSettings, "--precision", "number format and memory layout: auto times float32, "
           "float32 channels-last and bfloat16 (where the CPU has it natively; float16 and bfloat16 on a GPU) on "
           "a few steps and takes the fastest; fp32, bf16, fp16 ask for one", choices=PRECISIONS),
    Option("objects", DataSettings, "--objects", "masks hold one id per object (instance masks; two-class masks: "
           "each connected region one object): objects are counted and split where they touch; --no-objects reads "
           "mask values as classes; neither: decided from codes.txt and the masks", kind="tristate"),
    Option("channels", DataSettings, "--channels", "the image channels the model sees, in order, numbered from 1 "
           "(2,1), or all; 8-bit gray and RGB images with all train as RGB"),
    Option("scaling", DataSettings, "--scaling", "how channels that are not 8-bit RGB are scaled to 0..1: between "
           f"the training images' {PERCENTILES[0]:g} and {PERCENTILES[1]:g} percentiles (dataset) or each image's "
           "own (image)", choices=SCALINGS),
    Option("scale", DataSettings, "--scale", f"train on windows of --size cut from the images scaled by this "
           f"({MIN_SCALE:g} to {MAX_SCALE:g}; 0.5: half their sides), predicted in tiles at the same scale; left out: "
           "each image squeezed whole to --size", type=float),
    Option("fg_share", DataSettings, "--fg-share", "with --scale: the share of windows centred on a foreground "
           "pixel (0 to 1)", type=float),
    Option("find_lr", TrainSettings, "--find-lr", "take the learning rate from lr_find's valley at the start",
           kind="flag"),
)


def _dest(o: Option) -> str:
    return o.flag[2:].replace("-", "_")


def add_training_options(parser: argparse.ArgumentParser, train: bool = True) -> None:
    "DATA_DIR and every setting's option, with the settings' defaults; `train=False` leaves out train-only ones."
    parser.add_argument("data", metavar="DATA_DIR")
    defaults = {DataSettings: DataSettings(), TrainSettings: TrainSettings()}
    for o in OPTIONS:
        if o.kind == "flag" and not train:
            continue
        default = getattr(defaults[o.owner], o.field)
        shown = f" ({default:.3g})" if isinstance(default, float) else f" ({default})" if default not in (
            None, (), False) else ""
        if o.kind in ("switch", "tristate"):
            parser.add_argument(o.flag, action=argparse.BooleanOptionalAction, default=default, help=o.help + shown)
        elif o.kind == "flag":
            parser.add_argument(o.flag, action="store_true", help=o.help)
        elif o.kind == "size":
            parser.add_argument(o.flag, type=int, nargs="+", default=[default], metavar="PX", help=o.help + shown)
        elif o.kind == "repeat":
            parser.add_argument(o.flag, action="append", metavar="DIR", help=o.help)
        else:
            parser.add_argument(o.flag, type=o.type, default=default, choices=o.choices, help=o.help + shown)
    parser.add_argument("--codes", help="class names, comma-separated, instead of codes.txt or inferred ones")


def from_args(args: argparse.Namespace) -> tuple[DataSettings, TrainSettings]:
    "The settings an argparse result names (options it lacks keep the settings' defaults)."
    values: dict[type, dict] = {DataSettings: {}, TrainSettings: {}}
    for o in OPTIONS:
        if not hasattr(args, _dest(o)):
            continue
        v = getattr(args, _dest(o))
        if o.kind == "size":
            v = tuple(v) if len(v) == 2 else v[0]
        elif o.kind == "repeat":
            v = tuple(v or ())
        values[o.owner][o.field] = v
    return DataSettings(**values[DataSettings]), TrainSettings(**values[TrainSettings])


def to_argv(data: DataSettings, train: TrainSettings, changed: bool = False) -> list[str]:
    """The options that give these settings back (`from_args`); every field written, defaults too, or with
    `changed` only the fields that differ from the defaults (a command line for people to read)."""
    argv: list[str] = []
    defaults = {DataSettings: DataSettings(), TrainSettings: TrainSettings()}
    for o in OPTIONS:
        v = getattr(data if o.owner is DataSettings else train, o.field)
        if changed and v == getattr(defaults[o.owner], o.field):
            continue
        if o.kind == "switch" or (o.kind == "tristate" and v is not None):
            argv.append(o.flag if v else "--no-" + o.flag[2:])
        elif o.kind == "tristate":
            pass
        elif o.kind == "flag":
            argv += [o.flag] if v else []
        elif o.kind == "size":
            argv += [o.flag, str(v)] if isinstance(v, int) else [o.flag, *map(str, v)]
        elif o.kind == "repeat":
            for item in v:
                argv += [o.flag, str(item)]
        elif v is not None:
            argv += [o.flag, repr(v) if isinstance(v, float) else str(v)]
    return argv


def add_run_options(parser: argparse.ArgumentParser) -> None:
    "`train`'s options that are not settings: what a run starts from, its time budget, its trials, the app's plan."
    parser.add_argument("--from", dest="from_run", metavar="RUN_DIR", help="start from an earlier run's weights")
    parser.add_argument("--budget", type=float, metavar="MINUTES",
                        help="plan size, batch, epochs, learning rate, loss and augmentation for the data, this device "
                             "and MINUTES of training (their options are then ignored; --loss is kept unless a "
                             "class is rare); the plan is printed and recorded")
    parser.add_argument("--no-trials", action="store_true",
                        help="with --budget: train the rule's plan as it is, without first trying candidates around "
                             "it (image sizes, learning rates, the loss) for up to a quarter of the time")
    parser.add_argument("--plan", help=argparse.SUPPRESS)  # the app's plan (JSON), recorded in config.json


def run_argv(data: DataSettings, train: TrainSettings, *, codes: str | None = None, from_run: Path | str | None = None,
             budget: float | None = None, plan: dict | None = None, trials: bool = True) -> list[str]:
    """`python -m seg train`'s options for a run (DATA_DIR and --run-dir aside): the settings (`to_argv`), the
    run whose weights it starts from, a `budget` in minutes and whether candidates are then tried first, the
    plan already made (the app's, shown before the start: not made again; without one a budgeted run plans
    itself), the class names typed."""
    argv = to_argv(data, train)
    if from_run is not None:
        argv += ["--from", str(from_run)]
    if budget is not None:
        argv += ["--budget", f"{budget:g}", *([] if trials else ["--no-trials"])]
    if plan is not None:
        argv += ["--plan", json.dumps(plan)]
    if codes:
        argv += ["--codes", codes]
    return argv


def _check_complete() -> None:
    "Every settings field has its option: a field added without one fails at import, not in a user's run."
    covered = {(o.owner, o.field) for o in OPTIONS}
    for owner in (DataSettings, TrainSettings):
        missing = [f.name for f in fields(owner) if (owner, f.name) not in covered]
        assert not missing, f"{owner.__name__} fields without a command-line option: {missing}"


_check_complete()
