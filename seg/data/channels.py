"""What the model sees of an image: its input channels, in which order, and how their values are scaled.

Two kinds, decided from the dataset (`plan`) and recorded in the run's config.json (`Input.to_json`):

- **rgb**: every image is 8-bit gray, RGB(A) or palette. The model sees 8-bit RGB scaled to 0..1 and normalised
  with ImageNet's statistics, exactly as fastai's tutorial and every segboard run before channels.
- **channels**: any other image (2 or more channels that are not RGB, 12/16/32-bit, float), or channels picked
  by the user. The model sees the picked channels in the picked order, each scaled between two percentiles
  (PERCENTILES) to 0..1 and clipped, then normalised with ImageNet's statistics averaged over its three channels.
  The percentiles are the training images' (`scaling="dataset"`, the default: a dim image stays dim beside a
  bright one of the same sample, as the intensities biologists measure mean something) or each image's own
  (`scaling="image"`: for images taken at exposures that differ for no reason, as Cellpose and StarDist do).

The same `Input` prepares images for training (seg/data/dataloaders.py), prediction (seg/prediction) and the
exports, so a prediction sees what training saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seg.data.display import CHANNEL_COLOURS, channels_of, composite
from seg.data.images import load_image, read
from seg.errors import ImageError, SettingsError
from seg.model.settings import PERCENTILES, SCALINGS

MEAN, STD = 0.449, 0.226  # ImageNet's mean and std averaged over its three channels: what a channel is normalised with
SAMPLE = 2**18  # values a channel of each training image gives to the dataset's percentiles (strided)
RGB_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr"}  # 8-bit ones train as RGB


def raw_channels(path: Path) -> np.ndarray:
    "The image's channels (H, W, C) in their own values and number type, alpha dropped; ImageError as `read`."
    return named_channels(path)[0]


def named_channels(path: Path) -> tuple[np.ndarray, list[str]]:
    """`raw_channels` and a short name for each, for column names: red, green, blue; gray; else ch1, ch2 ..."""
    a, mode = read(path)
    if mode == "P":
        return load_image(path), ["red", "green", "blue"]
    c = channels_of(a, mode)
    if mode in ("RGB", "RGBA", "CMYK", "YCbCr") and c.shape[-1] == 3:
        return c, ["red", "green", "blue"]
    return c, ["gray"] if c.shape[-1] == 1 else [f"ch{i + 1}" for i in range(c.shape[-1])]


def is_rgb_image(dtype: np.dtype, mode: str) -> bool:
    "Whether an image of this number type and Pillow mode trains as today's 8-bit RGB."
    return np.dtype(dtype).itemsize == 1 and mode in RGB_MODES


@dataclass(frozen=True)
class Input:
    """`kind` rgb or channels; `pick`: the file's channels the model sees, in order (0-based); `low`/`high`:
    each picked channel's dataset percentiles (scaling dataset); `names`: the picked channels' names."""

    kind: str = "rgb"
    pick: tuple[int, ...] = ()
    scaling: str = "dataset"
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    names: tuple[str, ...] = field(default=())

    @property
    def n_in(self) -> int:
        return 3 if self.kind == "rgb" else len(self.pick)

    @property
    def rgb(self) -> bool:
        return self.kind == "rgb"

    # -- images
    def load(self, path: Path) -> np.ndarray:
        """What the model takes of the file: uint8 RGB (H, W, 3) for rgb, else float32 (H, W, n_in) in 0..1."""
        return load_image(path) if self.rgb else self.prepare(raw_channels(path))

    def prepare(self, channels: np.ndarray) -> np.ndarray:
        "float32 (H, W, n_in) in 0..1 from an image's channels (H, W, C) in their own values."
        if channels.ndim == 2:
            channels = channels[..., None]
        if max(self.pick) >= channels.shape[-1]:
            raise ImageError(f"The image has {channels.shape[-1]} channel(s); the model was trained on channel(s) "
                             f"{', '.join(str(i + 1) for i in self.pick)} of its images.",
                             "Predict images with the channels the training images had, in the same order.")
        out = np.empty((*channels.shape[:2], len(self.pick)), np.float32)
        for j, i in enumerate(self.pick):
            c = channels[..., i].astype(np.float32)
            lo, hi = (self.low[j], self.high[j]) if self.scaling == "dataset" else percentiles(c)
            out[..., j] = np.clip((c - lo) / max(hi - lo, 1e-12), 0, 1)
        return out

    @staticmethod
    def normalise(x):
        "A batch of prepared channels (any array type) as the network takes them."
        return (x - MEAN) / STD

    def show(self, prepared: np.ndarray) -> np.ndarray:
        "uint8 RGB of what `load` gave: itself for rgb, else the channels composited in their colours."
        return prepared if prepared.dtype == np.uint8 else composite(prepared, CHANNEL_COLOURS, stretch=False)

    # -- words and config.json
    def describe(self) -> str:
        if self.rgb:
            return "8-bit RGB, normalised with ImageNet's statistics"
        which = ", ".join(f"{i + 1}" + (f" ({n})" if n else "") for i, n in zip(self.pick, self.names or [""] * 99))
        per = ("the training images' percentiles" if self.scaling == "dataset" else "each image's own percentiles")
        return (f"{len(self.pick)} channel(s): {which}; each scaled to 0..1 between {per} "
                f"{PERCENTILES[0]:g} and {PERCENTILES[1]:g}")

    def recipe(self) -> str:
        "How to turn an image into the network's input, for the READMEs of the exports."
        if self.rgb:
            return "RGB / 255, minus (0.485, 0.456, 0.406), over (0.229, 0.224, 0.225) per channel"
        chosen = ", ".join(str(i + 1) for i in self.pick)
        scale = (f"(value - low) / (high - low) with low {[round(v, 4) for v in self.low]} and high "
                 f"{[round(v, 4) for v in self.high]}" if self.scaling == "dataset" else
                 f"(value - p{PERCENTILES[0]:g}) / (p{PERCENTILES[1]:g} - p{PERCENTILES[0]:g}) with each image's own "
                 "percentiles of that channel")
        return (f"channels {chosen} of the image (numbered from 1), in that order; each {scale}, clipped to 0..1, "
                f"minus {MEAN}, over {STD} (config.json's `input`)")

    def to_json(self) -> dict:
        return {"kind": self.kind, "channels": [i + 1 for i in self.pick], "names": list(self.names),
                "scaling": self.scaling, "percentiles": list(PERCENTILES),
                "low": list(self.low), "high": list(self.high), "n_in": self.n_in}

    @classmethod
    def from_json(cls, d: dict | None) -> Input:
        "config.json's `input`; a run from before channels (none recorded) saw 8-bit RGB."
        if not d or d.get("kind", "rgb") == "rgb":
            return cls()
        return cls("channels", tuple(int(i) - 1 for i in d["channels"]), d.get("scaling", "dataset"),
                   tuple(float(v) for v in d.get("low", ())), tuple(float(v) for v in d.get("high", ())),
                   tuple(d.get("names", ())))


def resize_channels(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Prepared channels (H, W, n) float32 at (height, width): bilinear with antialiasing, as Pillow resizes the
    8-bit RGB images; training and prediction both resize with this."""
    if a.shape[:2] == tuple(size):
        return a
    import torch
    import torch.nn.functional as F
    t = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]
    out = F.interpolate(t, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)[0]
    return out.numpy().transpose(1, 2, 0)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize to (height, width), as training resizes: fastai's Resize(method=Squish) (Pillow) for uint8 RGB,
    `resize_channels` for prepared channels."""
    if image.shape[:2] == tuple(size):
        return image
    if image.dtype != np.uint8:
        return resize_channels(image, size)
    from PIL import Image
    return np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BILINEAR))


def percentiles(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(values, PERCENTILES)
    return float(lo), float(hi)


def plan(images: list[tuple[Path, int, np.dtype, str]], train: list[Path], pick=None, scaling: str = "dataset",
         names: Iterable[str] = ()) -> Input:
    """The Input for a dataset whose usable images are (path, channels without alpha, dtype, mode); the dataset
    percentiles are measured on `train` (the training images only: validation is unseen). SettingsError when the
    images disagree on their channels and none are picked, or a picked channel is missing."""
    if scaling not in SCALINGS:
        raise SettingsError(f"Scaling {scaling!r}: use one of {', '.join(SCALINGS)}.")
    if pick is None and all(is_rgb_image(dt, mode) for _, _, dt, mode in images):
        return Input()
    counts = sorted({n for _, n, _, _ in images})
    if pick is None:
        if len(counts) > 1:
            raise SettingsError(f"The images have {' or '.join(map(str, counts))} channels: choose the channels the "
                                f"model sees (--channels 1,2 or the Data page), at most {counts[0]}.")
        pick = tuple(range(counts[0]))
    if max(pick) >= counts[0]:
        missing = [p for p, n, _, _ in images if max(pick) >= n]
        raise SettingsError(f"Channel {max(pick) + 1} was chosen but {missing[0]} has {min(counts)} channel(s); "
                            f"choose channels 1 to {counts[0]}.")
    names = tuple(names)
    chosen = tuple(names[i] if i < len(names) else "" for i in pick) if any(names) else ()
    if scaling == "image":
        return Input("channels", tuple(pick), "image", names=chosen)
    low, high = dataset_percentiles(train, pick)
    return Input("channels", tuple(pick), "dataset", low, high, chosen)


def dataset_percentiles(paths: list[Path], pick: tuple[int, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    "Each picked channel's PERCENTILES over up to SAMPLE strided values of each image."
    samples: list[list[np.ndarray]] = [[] for _ in pick]
    for path in paths:
        c = raw_channels(path)
        step = max(1, int(np.ceil(np.sqrt(c.shape[0] * c.shape[1] / SAMPLE))))
        for j, i in enumerate(pick):
            samples[j].append(c[::step, ::step, i].astype(np.float32).ravel())
    low, high = zip(*(percentiles(np.concatenate(s)) for s in samples))
    return tuple(low), tuple(high)
