"""What a run chooses: the data settings (size, batch, split, augmentation) and the training settings
(epochs, learning rate, backbone, loss). Plain dataclasses, cheap to import: the CLI's defaults and the
app's widgets read them without loading torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from seg.errors import SettingsError
from seg.model.registry import BACKBONES, DEFAULT_ARCH, LOSSES
from seg.util import hw

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "fp32-cl", "bf16-cl", "fp16-cl")  # seg/model/number_formats.py
# The most epochs a run may be given: what the settings accept, the Train page's slider reaches and the planner
# plans (docs/bad-input.md quotes it). A budgeted run may still train past its plan's epochs to use its time.
MAX_EPOCHS = 1000
# How an image's channels are scaled to 0..1 when they are not 8-bit RGB (seg/data/channels.py): between the
# training images' percentiles (the default: intensities keep their meaning across images) or each image's own.
SCALINGS = ("dataset", "image")
PERCENTILES = (0.1, 99.9)  # each channel's low and high values, 0 and 1 once scaled (clipped)
# Training on windows (seg/data/scaled_crops.py): the images scaled by `scale`, windows of the training size cut
# from them; this share of the windows is centred on a pixel of a foreground class (nnU-Net's oversampling: drawn
# uniformly, 98% of a crack image's windows would be mostly background). Measured on drive at 5 min (2-core CPU,
# 128 px windows at scale 1): vessel Dice 0.498 with none centred, 0.656 with a third, 0.588 with two thirds.
FG_SHARE = 1 / 3
MIN_SCALE, MAX_SCALE = 0.05, 4.0


@dataclass
class DataSettings:
    size: int | tuple[int, int] = 256  # training size, (height, width) or a square side; multiple of 32
    bs: int = 8
    valid_pct: float = 0.2
    seed: int = 42
    augment: bool = True
    workers: int = 0
    # The folders the dataset's files must lie under, as the app's viewer may read them (SEGBOARD_ROOTS):
    # links in the dataset that lead elsewhere are left out. Empty: no limit (the command line).
    within: tuple[str, ...] = ()
    # What the masks hold: True one id per object (instance masks; two-class masks: each connected region
    # one object), False classes, None decided from codes.txt and the masks (seg/objects/ids.py).
    objects: bool | None = None
    # The channels the model sees, in order, numbered from 1 as Fiji does ("2,1"), or "all" (every channel, when
    # all images have as many); and how they are scaled (SCALINGS). 8-bit gray and RGB images with "all" train as
    # 8-bit RGB with ImageNet's statistics whatever the scaling.
    channels: str = "all"
    scaling: str = "dataset"
    # None: each image squeezed whole to `size` (the default); a number: the images scaled by it (0.5: half their
    # sides) and windows of `size` cut from them, `fg_share` of them centred on foreground; prediction then scales
    # an image the same way and predicts it in overlapping tiles of `size`.
    scale: float | None = None
    fg_share: float = FG_SHARE

    @property
    def hw(self) -> tuple[int, int]:
        return hw(self.size)

    def check(self) -> None:
        "Raise SettingsError with a sentence a user can act on."
        h, w = self.hw
        if h < 32 or w < 32 or h % 32 or w % 32:
            raise SettingsError(f"Image size {h} x {w}: the U-Net needs sides that are multiples of 32 "
                                f"(32, 64 ... 1024); try {max(32, round(h / 32) * 32)}.")
        if self.bs < 1:
            raise SettingsError(f"Batch size {self.bs}: use 1 or more.")
        if not 0 < self.valid_pct < 1:
            raise SettingsError(f"Validation fraction {self.valid_pct}: use a value between 0 and 1, such as 0.2.")
        if self.workers < 0:
            raise SettingsError(f"Workers {self.workers}: use 0 (no worker processes) or more.")
        if self.scaling not in SCALINGS:
            raise SettingsError(f"Scaling {self.scaling!r}: use {' or '.join(SCALINGS)}.")
        if self.scale is not None and not (_number(self.scale) and MIN_SCALE <= self.scale <= MAX_SCALE):
            raise SettingsError(f"Scale {self.scale!r}: use a number from {MIN_SCALE:g} to {MAX_SCALE:g} (0.5 trains "
                                f"on the images at half their sides), or leave it out to squeeze whole images.")
        if not (_number(self.fg_share) and 0 <= self.fg_share <= 1):
            raise SettingsError(f"Foreground share {self.fg_share!r}: use a number from 0 (windows anywhere) to 1 "
                                f"(every window centred on foreground), such as {FG_SHARE:.3g}.")
        self.pick  # noqa: B018 (raises for a bad --channels)

    @property
    def pick(self) -> tuple[int, ...] | None:
        """The chosen channels as 0-based indices in order, or None for all."""
        text = str(self.channels).strip().lower().replace(" ", "")
        if text in ("", "all"):
            return None
        try:
            items = [int(t) for t in text.split(",")]
        except ValueError:
            raise SettingsError(f"Channels {self.channels!r}: give channel numbers separated by commas, such as "
                                f"2,1 (1 is the first), or all.") from None
        if min(items) < 1 or len(set(items)) != len(items):
            raise SettingsError(f"Channels {self.channels!r}: each channel once, numbered from 1, such as 2,1.")
        return tuple(i - 1 for i in items)

    def batch_size(self, n_train: int) -> int:
        "The batch size used: never more than the training pairs (fastai would give no batch at all)."
        return max(1, min(self.bs, n_train))

    def to_json(self) -> dict:
        return asdict(self)


def _number(v) -> bool:
    "A finite real number (not a bool, not NaN)."
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


@dataclass
class TrainSettings:
    # Defaults from bench/train_defaults.py (docs/training.md#defaults-and-why-they-are-not-the-tutorials): on
    # rare foreground the tutorial's plain cross-entropy with 3 epochs learns nothing from scratch; weighted CE +
    # Dice does.
    epochs: int = 10
    lr: float = 1e-3
    arch: str = DEFAULT_ARCH
    pretrained: bool = True  # used when ImageNet weights are on disk; otherwise from scratch, said so
    weights: str | None = None  # a torchvision ImageNet state dict file for the backbone
    loss: str = "dice-ce"
    find_lr: bool = False  # take the learning rate from lr_find's valley when the run starts (planner)
    # number format and layout (seg/model/number_formats.py): auto times the candidates; fp32, bf16, fp16, or an
    # exact one (fp32-cl, bf16-cl, fp16-cl: what auto or a plan chose)
    precision: str = "auto"

    def check(self) -> None:
        if not 1 <= self.epochs <= MAX_EPOCHS:
            raise SettingsError(f"Epochs {self.epochs}: use 1 to {MAX_EPOCHS}.")
        if not 1e-7 <= self.lr <= 1.0:
            raise SettingsError(f"Learning rate {self.lr:g}: use a value between 1e-7 and 1, such as 1e-3.")
        if self.arch not in BACKBONES:
            raise SettingsError(f"Backbone {self.arch!r}: use one of {', '.join(BACKBONES)}.")
        if self.loss not in LOSSES:
            raise SettingsError(f"Loss {self.loss!r}: use one of {', '.join(LOSSES)}.")
        if self.precision not in PRECISIONS:
            raise SettingsError(f"Precision {self.precision!r}: use one of {', '.join(PRECISIONS)}.")
        if self.weights and not Path(self.weights).expanduser().is_file():
            raise SettingsError(f"Weights file {self.weights}: not found; name a torchvision ImageNet .pth file.")

    def to_json(self) -> dict:
        return asdict(self)
