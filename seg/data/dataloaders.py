"""fastai DataLoaders from a `Dataset`: the folder split or a seeded random split, resizing,
augmentation applied to image and mask together, and the images exactly as training sees them.

The item readers are module-level classes holding plain data, so they pickle into spawned worker
processes (Windows, macOS, `accelerate launch`) as well as forked ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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
    aug_transforms,
    imagenet_stats,
)

from seg.data.classes import ids_of
from seg.data.dataset import Dataset
from seg.data.discovery import Pair
from seg.data.images import is_lossy, load_image, load_mask
from seg.data.masks import Encoding
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


class ReadImage:
    def __call__(self, pair: Pair) -> PILImage:
        return PILImage.create(load_image(pair.image))


class ReadMask:
    def __init__(self, encoding: Encoding):
        self.encoding = encoding

    def __call__(self, pair: Pair) -> PILMask:
        return PILMask.create(self.encoding.decode(load_mask(pair.mask), is_lossy(pair.mask)))


class ReadTarget:
    """A dataset read as objects: background / interior / boundary (seg/objects/target.py) from the mask's
    ids, the boundary band wide enough at the image's size to survive the resize to `hw`."""

    def __init__(self, regions: bool, hw: tuple[int, int]):
        self.regions, self.hw = regions, hw

    def __call__(self, pair: Pair) -> PILMask:
        ids = ids_of(load_mask(pair.mask).values, self.regions)
        return PILMask.create(target(ids, width_for(ids.shape, self.hw)))


def datablock(dataset: Dataset, n_train: int, n_valid: int, settings: DataSettings) -> DataBlock:
    "The items are the `n_train` training pairs followed by the `n_valid` validation pairs."
    batch_tfms = [*(Augment().transforms() if settings.augment else []), Normalize.from_stats(*imagenet_stats)]
    objects = dataset.objects
    return DataBlock(
        blocks=(ImageBlock, MaskBlock(list(dataset.train_codes.names))),
        get_x=ReadImage(),
        get_y=ReadTarget(objects.regions, settings.hw) if objects else ReadMask(dataset.encoding),
        splitter=IndexSplitter(list(range(n_train, n_train + n_valid))),
        item_tfms=Resize(settings.hw, method=ResizeMethod.Squish),
        batch_tfms=batch_tfms,
    )


def dataloaders(dataset: Dataset, settings: DataSettings | None = None, device=None):
    "fastai DataLoaders over the dataset's usable pairs. Raises SettingsError for bad data or settings."
    settings = settings or DataSettings()
    settings.check()
    if not dataset.ok:
        raise SettingsError(f"The dataset in {dataset.root} cannot be trained on: {dataset.first_error()}")
    train, valid = dataset.split(settings.valid_pct, settings.seed)
    dls = datablock(dataset, len(train), len(valid), settings).dataloaders(
        train + valid, bs=settings.batch_size(len(train)), num_workers=settings.workers, device=device,
        seed=settings.seed, shuffle=True)
    dls.vocab = list(dataset.train_codes.names)  # what unet_learner reads for the number of classes
    return dls


def to_uint8_images(x) -> list[np.ndarray]:
    "A decoded batch of TensorImage (B, 3, H, W) in 0..1 or 0..255 as uint8 (H, W, 3) arrays."
    a = x.detach().cpu().float().numpy()
    if a.max() <= 1.0 + 1e-6:
        a = a * 255
    return [np.clip(im.transpose(1, 2, 0), 0, 255).astype(np.uint8) for im in a]


def augment_preview(dataset: Dataset, pair: Pair, settings: DataSettings | None = None,
                    n: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
    """`n` augmented versions of one pair as training sees them: (uint8 RGB, class-index mask),
    at the training size."""
    settings = settings or DataSettings()
    settings.check()
    block = datablock(dataset, n, 1, DataSettings(**{**settings.to_json(), "augment": True}))
    dls = block.dataloaders([pair] * (n + 1), bs=n, num_workers=0, seed=settings.seed, device="cpu")
    xb, yb = dls.train.one_batch()
    xd, yd = dls.train.decode((xb, yb))
    images = to_uint8_images(xd)
    masks = [m.cpu().numpy().astype(np.uint8) for m in yd]
    return list(zip(images, masks))
