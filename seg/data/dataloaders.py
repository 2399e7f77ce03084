"""fastai DataLoaders from a `Dataset`: the folder split or a seeded random split, resizing,
augmentation applied to image and mask together, and the images exactly as training sees them.

The item readers are module-level classes holding plain data, so they pickle into spawned worker
processes (Windows, macOS, `accelerate launch`) as well as forked ones.

A dataset with large images (their regions: seg/data/regions.py) trains on crops of the training size at the images'
own pixels, never shrunk whole: each training pair is a few `Crop` items, each drawing a new random window every
time it is read (the image's reader draws it, the mask's reads the same one); each validation pair is up to
VALID_CROPS fixed windows spread over it. A run with a `scale` trains on windows of the images scaled by it
(seg/data/scaled_crops.py: `ScaledCrop` items, cut by the image's reader, the mask's reading the window's mask).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
from fastai.vision.all import (
    DataBlock,
    ImageBlock,
    IndexSplitter,
    MaskBlock,
    Normalize,
    PILImage,
    PILMask,
    Resize,
    ResizeMethod,
    TensorImage,
    TransformBlock,
    aug_transforms,
    imagenet_stats,
)

from seg.data.channels import MEAN, STD, Input, resize_channels
from seg.data.classes import ids_of
from seg.data.dataset import Dataset
from seg.data.discovery import Pair
from seg.data.display import composite
from seg.data.images import is_lossy, load_image, load_mask
from seg.data.masks import Encoding
from seg.data.scaled_crops import ScaledCrop, scaled_crops
from seg.data.stacks import Slice, box_of
from seg.errors import SettingsError
from seg.model.settings import DataSettings
from seg.objects.target import target, width_for

__all__ = ["DataSettings", "SettingsError", "dataloaders", "augment_preview"]


@dataclass
class Augment:
    "Random changes applied to image and mask together (mask pixels never blend: nearest neighbour)."

    flip: bool = True  # horizontal and vertical: slides and pipes have no up
    rotate: float = 20.0  # degrees
    zoom: float = 1.2
    lighting: float = 0.2
    warp: float = 0.1

    def transforms(self):
        return aug_transforms(do_flip=self.flip, flip_vert=self.flip, max_rotate=self.rotate,
                              max_zoom=self.zoom, max_lighting=self.lighting, max_warp=self.warp)


MAX_CROPS = 16  # crops of a training region an epoch (a 2048 x 2048 region holds 64 of 256 x 256)
VALID_CROPS = 4  # fixed crops a validation region is scored on


class Crop:
    """A window of the training size in a pair's image (its region, or the whole file): `draw()` picks a new random
    one (or, `fixed`, keeps the one given) and gives the pair of that window (`Slice` paths with a box)."""

    def __init__(self, pair: Pair, hw: tuple[int, int], fixed: tuple[int, int] | None = None):
        self.pair, self.hw, self.fixed = pair, tuple(hw), fixed
        self.drawn: Pair | None = None

    @property
    def area(self) -> tuple[int, int, int, int]:
        return box_of(self.pair.image) or (0, 0, *self.hw)

    def window(self, y: int, x: int) -> Pair:
        y0, x0, h, w = self.area
        box = (y0 + y, x0 + x, min(self.hw[0], h), min(self.hw[1], w))
        return Pair(Slice(self.pair.image, box=box), Slice(self.pair.mask, box=box), self.pair.valid)

    def draw(self) -> Pair:
        _, _, h, w = self.area
        y, x = self.fixed or (random.randint(0, max(0, h - self.hw[0])), random.randint(0, max(0, w - self.hw[1])))
        self.drawn = self.window(y, x)
        return self.drawn

    def __repr__(self):
        return f"Crop({self.pair.image!r}, {self.hw}, fixed={self.fixed})"


def crops(pairs: list[Pair], hw: tuple[int, int], valid: bool) -> list:
    """The items of `pairs` in a dataset of large images: a region holds (its area / the crop's, at most MAX_CROPS)
    random crops of `hw` an epoch when training, up to VALID_CROPS fixed ones spread over it when validating; a
    pair that is a whole file is itself (read whole and resized, as in any dataset)."""
    out: list = []
    for p in pairs:
        box = box_of(p.image)
        if box is None:
            out.append(p)
            continue
        h, w = box[2:]
        if not valid:
            n = min(MAX_CROPS, max(1, round(h * w / (hw[0] * hw[1]))))
            out += [Crop(p, hw) for _ in range(n)]
            continue
        ys = sorted({round(v) for v in np.linspace(0, max(0, h - hw[0]), max(1, min(2, h // hw[0])))})
        xs = sorted({round(v) for v in np.linspace(0, max(0, w - hw[1]), max(1, min(2, w // hw[1])))})
        out += [Crop(p, hw, (y, x)) for y in ys for x in xs][:VALID_CROPS]
    return out


def scored(dataset: Dataset, valid: list[Pair], hw: tuple[int, int]) -> list[Pair]:
    """The validation pairs a run is scored on at the images' own pixels: `valid`, or for a dataset of large images
    the windows of its fixed validation crops (whole regions of 2,048 pixels would take minutes of tiles each)."""
    if not dataset.crops:
        return valid
    return [c.draw() if isinstance(c, Crop) else c for c in crops(valid, hw, True)]


def _drawn(item) -> Pair:
    "The pair an item reads: a Crop's window (drawn by the image's reader, which fastai calls before the mask's)."
    if isinstance(item, Crop):
        return item.drawn or item.draw()
    return item


def _draw(item) -> Pair:
    return item.draw() if isinstance(item, Crop) else item


class ReadImage:
    def __call__(self, item) -> PILImage:
        if isinstance(item, ScaledCrop):
            return PILImage.create(item.cut(load_image(item.pair.image)))
        return PILImage.create(load_image(_draw(item).image))


class ReadChannels:
    """An image of many channels (seg/data/channels.py) as a TensorImage (C, h, w) at the training size: fastai's
    Resize takes only Pillow images, so it is resized here as prediction resizes (`resize_channels`), and given in
    0..255 since the batch's IntToFloatTensor (the masks') divides every TensorImage by 255."""

    def __init__(self, input: Input, hw: tuple[int, int]):
        self.input, self.hw = input, hw

    def __call__(self, item) -> TensorImage:
        if isinstance(item, ScaledCrop):
            a = item.cut(self.input.load(item.pair.image))
        else:
            a = resize_channels(self.input.load(_draw(item).image), self.hw)
        return TensorImage(torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))) * 255)


class ReadMask:
    def __init__(self, encoding: Encoding):
        self.encoding = encoding

    def array(self, pair: Pair, hw: tuple[int, int] | None = None) -> np.ndarray:
        "The pair's class indices at its own size (`hw` is the size it will be scaled to: the same whatever it is)."
        return self.encoding.decode(load_mask(pair.mask), is_lossy(pair.mask))

    def __call__(self, item) -> PILMask:
        if isinstance(item, ScaledCrop):
            return PILMask.create(item.mask)
        return PILMask.create(self.array(_drawn(item)))


class ReadTarget:
    """A dataset read as objects: background / interior / boundary (seg/objects/target.py) from the mask's
    ids, the boundary band wide enough at the image's size to survive the resize to `hw`."""

    def __init__(self, regions: bool, hw: tuple[int, int]):
        self.regions, self.hw = regions, hw

    def array(self, pair: Pair, hw: tuple[int, int]) -> np.ndarray:
        "The pair's target at its own size, its boundary band wide enough to survive the resize to `hw`."
        ids = ids_of(load_mask(pair.mask).values, self.regions)
        return target(ids, width_for(ids.shape, hw))

    def __call__(self, item) -> PILMask:
        if isinstance(item, ScaledCrop):
            return PILMask.create(item.mask)
        return PILMask.create(self.array(_drawn(item), self.hw))


def truth_reader(dataset: Dataset, hw: tuple[int, int]):
    "What a pair's mask gives training: its classes, or for a dataset of objects background / interior / boundary."
    return ReadTarget(dataset.objects.regions, hw) if dataset.objects else ReadMask(dataset.encoding)


def datablock(dataset: Dataset, n_train: int, n_valid: int, settings: DataSettings, input: Input) -> DataBlock:
    "The items are the `n_train` training pairs followed by the `n_valid` validation pairs."
    stats = imagenet_stats if input.rgb else ([MEAN] * input.n_in, [STD] * input.n_in)
    batch_tfms = [*(Augment().transforms() if settings.augment else []), Normalize.from_stats(*stats)]
    return DataBlock(
        blocks=(ImageBlock if input.rgb else TransformBlock(), MaskBlock(list(dataset.train_codes.names))),
        get_x=ReadImage() if input.rgb else ReadChannels(input, settings.hw),
        get_y=truth_reader(dataset, settings.hw),
        splitter=IndexSplitter(list(range(n_train, n_train + n_valid))),
        item_tfms=Resize(settings.hw, method=ResizeMethod.Squish),
        batch_tfms=batch_tfms,
    )


def dataloaders(dataset: Dataset, settings: DataSettings | None = None, device=None, input: Input | None = None):
    """fastai DataLoaders over the dataset's usable pairs, `dls.input` what the model sees of each image (planned
    from the settings' channels and scaling when not given). Raises SettingsError for bad data or settings."""
    settings = settings or DataSettings()
    settings.check()
    if not dataset.ok:
        raise SettingsError(f"The dataset in {dataset.root} cannot be trained on: {dataset.first_error()}")
    train, valid = dataset.split(settings.valid_pct, settings.seed)
    input = input or dataset.input_plan(train, settings.pick, settings.scaling)
    if dataset.crops:  # large images: crops of the training size at their own pixels
        train, valid = crops(train, settings.hw, False), crops(valid, settings.hw, True)
    elif settings.scale is not None:  # windows of the images scaled by `scale`, a share centred on foreground
        sizes = {s.pair: (s.size[1], s.size[0]) for s in dataset.usable}
        truth = truth_reader(dataset, settings.hw)
        train, valid = (scaled_crops(pairs, sizes, settings.hw, settings.scale, settings.fg_share, truth, v)
                        for pairs, v in ((train, False), (valid, True)))
    dls = datablock(dataset, len(train), len(valid), settings, input).dataloaders(
        train + valid, bs=settings.batch_size(len(train)), num_workers=settings.workers, device=device,
        seed=settings.seed, shuffle=True)
    dls.vocab = list(dataset.train_codes.names)  # what unet_learner reads for the number of classes
    dls.input = input
    return dls


def to_uint8_images(x) -> list[np.ndarray]:
    """A decoded batch of TensorImage (B, C, H, W) in 0..1 or 0..255 as uint8 RGB (H, W, 3) arrays: RGB as it is,
    other channel counts as a composite (seg/data/images.py)."""
    a = x.detach().cpu().float().numpy()
    if a.max() <= 1.0 + 1e-6:
        a = a * 255
    images = [np.clip(im.transpose(1, 2, 0), 0, 255) for im in a]
    return [im.astype(np.uint8) if im.shape[-1] == 3 else composite(im / 255, stretch=False) for im in images]


def augment_preview(dataset: Dataset, pair: Pair, settings: DataSettings | None = None,
                    n: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
    """`n` augmented versions of one pair as training sees them: (uint8 RGB, class-index mask),
    at the training size (with a `scale`: windows of it, drawn as training draws them)."""
    settings = settings or DataSettings()
    settings.check()
    train, _ = dataset.split(settings.valid_pct, settings.seed)
    block = datablock(dataset, n, 1, DataSettings(**{**settings.to_json(), "augment": True}),
                      dataset.input_plan(train, settings.pick, settings.scaling))
    items = [pair] * (n + 1)
    if settings.scale is not None and not dataset.crops:  # windows, as a run with this scale trains on
        items = [ScaledCrop(pair, settings.hw, settings.scale, settings.fg_share, truth_reader(dataset, settings.hw))
                 for _ in items]
    dls = block.dataloaders(items, bs=n, num_workers=0, seed=settings.seed, device="cpu")
    xb, yb = dls.train.one_batch()
    xd, yd = dls.train.decode((xb, yb))
    images = to_uint8_images(xd)
    masks = [m.cpu().numpy().astype(np.uint8) for m in yd]
    return list(zip(images, masks))
