"""The one mapping between a run's settings (`DataSettings`, `TrainSettings`) and the command line of
`python -m seg train` / `lr-find`: the options are declared from the settings' defaults, parsed back
into settings, and written from settings when the app starts a run. A new setting is a field and one
entry in OPTIONS; `tests/test_cli.py` checks the round trip over every field."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields

from seg.model.registry import BACKBONES, LOSSES
from seg.model.settings import PRECISIONS, DataSettings, TrainSettings


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
        shown = f" ({default})" if default not in (None, (), False) else ""
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


def to_argv(data: DataSettings, train: TrainSettings) -> list[str]:
    "The options that give these settings back (`from_args`); every field written, defaults too."
    argv: list[str] = []
    for o in OPTIONS:
        v = getattr(data if o.owner is DataSettings else train, o.field)
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


def _check_complete() -> None:
    "Every settings field has its option: a field added without one fails at import, not in a user's run."
    covered = {(o.owner, o.field) for o in OPTIONS}
    for owner in (DataSettings, TrainSettings):
        missing = [f.name for f in fields(owner) if (owner, f.name) not in covered]
        assert not missing, f"{owner.__name__} fields without a command-line option: {missing}"


_check_complete()
