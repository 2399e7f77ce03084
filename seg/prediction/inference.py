"""Predictions from a trained run's U-Net (seg/prediction/model.py loads it), at each image's own size.

`Predictor` prepares images exactly as the run's validation DataLoader did (squished to the training
size with bilinear resampling, scaled to 0..1, normalised with the ImageNet statistics), so its masks
are fastai `get_preds`' masks; the class probabilities are then resized back to the image's size before
the argmax. A model that learned on windows of scaled images (a run's `scale`) predicts every image in tiles.
An image much larger than the training images is not squished: it is scaled as the training
images were and predicted in overlapping tiles of the training size, blended with weights that fall off
towards each tile's edge, so a 4096 x 4096 image takes the memory of a few tiles plus its own masks.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from seg.data.channels import Input
from seg.data.channels import resize_image as resize
from seg.model.device import Device, cpu, detect
from seg.model.number_formats import (
    FP32,
    ROUNDS,
    Precision,
    autocast,
    fastest,
    formats_for,
    processor,
    timed,
    to_layout,
)
from seg.prediction import runtimes, tiles
from seg.prediction.model import Model
from seg.prediction.tiles import OVERLAP, TILE_MARGIN

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # fastai's imagenet_stats, as the training DataLoaders normalise
IMAGENET_STD = (0.229, 0.224, 0.225)
AGREE = 0.995  # a faster number format must give the float32 masks on this share of the pixels


def _to_batch(images: list[np.ndarray]) -> torch.Tensor:
    """A normalised batch (B, C, H, W) of what `Input.load` gives: uint8 RGB as fastai's tutorial normalises it,
    prepared channels (float32 in 0..1) as seg/data/channels.py does."""
    a = np.stack(images)
    if a.dtype != np.uint8:
        return Input.normalise(torch.from_numpy(a).permute(0, 3, 1, 2).float())
    x = torch.from_numpy(a).permute(0, 3, 1, 2).float().div_(255)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


class Predictor:
    """Batched, tiled prediction with a loaded `Model` on the best device here, in the number format and
    layout that is fastest there (seg/model/number_formats.py): the fastest of a timed forward pass of each
    candidate on the first batch (float32 unless another is clearly faster). A format other than float32
    is kept only if its masks agree with float32's on AGREE of the first batch's pixels; else float32,
    with a note. `runtime` other than pytorch (seg/prediction/runtimes.py) computes the forward pass with ONNX
    Runtime instead, built on the first batch (INT8 calibrated on `calibration`, kept in `cache`); where it
    cannot be built or fails, PyTorch goes on, with a note: a prediction never ends for its runtime's sake."""

    def __init__(self, model: Model, device: Device | None = None, bs: int = 8, tile: tuple[int, int] | None = None,
                 overlap: float = OVERLAP, precision: str | Precision = "auto", remember: Path | None = None,
                 runtime: str = "pytorch", calibration: Iterable[np.ndarray] | None = None,
                 cache: Path | None = None):
        self.model, self.bs = model, max(1, bs)
        self.device = device or detect()
        self.torch_device = torch.device(self.device.kind)
        self.tile = tuple(tile or model.size)
        self.overlap = overlap
        self.notes: list[str] = []
        self.net = model.module.to(self.torch_device)
        self.requested, self.remember = precision, remember
        self.precision: Precision | None = None  # settled on the first batch
        self.timings: dict[str, float] = {}
        self.runtime = runtimes.runtime(runtime, self.device.kind).name  # built on the first batch
        self.calibration = calibration  # images (as Input.load gives them) an INT8 runtime calibrates on
        self.cache = cache  # a folder where built engines are kept between predictions (None: not kept)
        self.engine: runtimes.Engine | None = None

    @property
    def label(self) -> str:
        "The runtime and number format it predicts in (once settled), in words."
        if self.engine is not None:
            return self.engine.label
        return f"PyTorch, {self.precision.label}" if self.precision else "PyTorch"

    # -- the forward pass
    def probabilities(self, batch: torch.Tensor) -> torch.Tensor:
        """Softmax class probabilities (B, C, h, w), float32 on the CPU, for a normalised batch. On a GPU
        that a training run fills, smaller batches, then the CPU: the prediction ends, the run goes on."""
        try:
            return self._forward(batch)
        except torch.OutOfMemoryError:
            if self.device.kind != "cuda":
                raise
            torch.cuda.empty_cache()
            if len(batch) > 1:
                half = len(batch) // 2
                self.bs = max(1, half)
                return torch.cat([self.probabilities(batch[:half]), self.probabilities(batch[half:])])
            self.device, self.torch_device = cpu(), torch.device("cpu")
            self.net, self.precision = self.net.to(self.torch_device), None  # the CPU's own format, settled anew
            self.notes.append("The GPU had no memory left for prediction (a training run may be using it): "
                              "the rest was predicted on the CPU.")
            return self._forward(batch)

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(self.torch_device)
        first = self._settle(x) if self.precision is None else None
        if self.engine is not None:
            try:
                return torch.softmax(first if first is not None else self.engine.logits(x), dim=1)
            except Exception as e:  # e.g. an input shape the exported model does not take: PyTorch takes any
                self.notes.append(f"{self.engine.label} failed ({type(e).__name__}: {str(e).splitlines()[0][:160]}): "
                                  "the rest was predicted with PyTorch.")
                self.engine, self.runtime, self.precision = None, "pytorch", None
                return self._forward(batch)
        return torch.softmax(self._logits(x, self.precision), dim=1).cpu()

    def _logits(self, x: torch.Tensor, precision: Precision) -> torch.Tensor:
        layout = torch.channels_last if precision.channels_last else torch.contiguous_format
        net = self.net.to(memory_format=layout)  # in place; nothing copied once the weights have the layout
        with torch.inference_mode(), autocast(self.device.kind, precision):
            return net(to_layout(x, precision)).float()

    def _settle(self, x: torch.Tensor) -> torch.Tensor | None:
        """Choose the format on the first batch: asked for, else the fastest of a timed forward pass of each
        candidate on up to two of its images (remembered per device, model and size in `self.remember`).
        A runtime other than PyTorch is built here; where it cannot run, PyTorch does, with a note. Returns the
        first batch's logits where the runtime's check computed them (not computed twice), else None."""
        if self.runtime != "pytorch" and self.engine is None:
            first = self._build_engine(x)
            if self.engine is not None:
                self.precision = FP32  # the exported network is float32
                return first
        if isinstance(self.requested, Precision):
            self.precision = self.requested
            return None
        options = formats_for(self.device.kind, self.requested)
        best = options[0]
        if len(options) > 1:
            sample = x[:2]
            key = "|".join(["forward", f"best of {ROUNDS}", self.device.kind, processor(), torch.__version__,
                            self.model.arch, str(len(self.model.codes)), str(tuple(sample.shape[1:])),
                            ",".join(p.name for p in options)])
            self.timings, _ = timed(options, lambda p: self._time(sample, p), key, self.remember)
            best = fastest(options, self.timings)
        if best != FP32:
            fast, exact = self._logits(x, best).argmax(1), self._logits(x, FP32).argmax(1)
            agree = float((fast == exact).float().mean())
            if agree < AGREE:
                self.notes.append(f"{best.label} changed {1 - agree:.2%} of the first images' pixels against "
                                  f"float32: predicted in float32 instead.")
                best = FP32
        self.precision = best
        return None

    def _build_engine(self, x: torch.Tensor) -> torch.Tensor | None:
        "Build the runtime asked for into `self.engine` (else PyTorch, with a note); the first batch's logits, if made."
        rt = runtimes.runtime(self.runtime)
        why = rt.available(self.device.kind)
        if why:
            self.notes.append(f"{why} Predicted with PyTorch instead.")
            self.runtime = "pytorch"
            return None
        try:
            cache = self.cache / f"{rt.name}-{runtimes.cache_key(self.model, rt.name)}.onnx" if self.cache else None
            calibration = None
            if rt.calibrated:
                def prepare():  # the training images are read only when the model is made, not when kept
                    return list(self.prepared(self.calibration or [], runtimes.CALIBRATION))
                calibration = prepare
                if cache is None or not cache.is_file():
                    calibration = prepare()
                    if not calibration:  # one calibrated on a first batch is never kept
                        calibration, cache = [x.cpu()[: runtimes.CALIBRATION]], None
                        self.notes.append(f"{rt.label} was calibrated on the first images predicted (no training "
                                          "images were given).")
            engine = rt.build(self.model, calibration, cache)
            agree, first = 1.0, None
            if rt.calibrated:  # judged against the truth by bench/runtimes.py; here only a disaster is caught
                first = engine.logits(x)
                exact = self._logits(x, FP32).argmax(1).cpu()
                agree = float((first.argmax(1) == exact).float().mean())
        except Exception as e:  # an export or quantisation that fails leaves PyTorch, which always runs
            self.notes.append(f"{rt.label} could not be prepared ({type(e).__name__}: {str(e).splitlines()[0][:160]}): "
                              "predicted with PyTorch instead.")
            self.runtime = "pytorch"
            return None
        if agree < runtimes.AGREE:
            self.notes.append(f"{rt.label} changed {1 - agree:.1%} of the first images' pixels against float32: "
                              "predicted with PyTorch instead.")
            self.runtime = "pytorch"
            return None
        self.engine = engine
        return first

    def prepared(self, images: Iterable[np.ndarray], limit: int) -> Iterator[torch.Tensor]:
        """Batches of up to `limit` inputs in all, prepared as this Predictor prepares them: the tiles of images
        it tiles, else each image at the training size (what an INT8 runtime calibrates on)."""
        inputs: list[np.ndarray] = []
        for image in images:
            if self.needs_tiles(*image.shape[:2]):
                padded, spots = tiles.spots(resize(image, self._scaled_size(image)), self.tile, self.overlap)
                th, tw = self.tile
                inputs += [padded[y:y + th, x:x + tw] for y, x in spots[:: max(1, len(spots) // 4)][:4]]
            else:
                inputs.append(resize(image, self.model.size))
            if len(inputs) >= limit:
                break
        for i in range(0, min(limit, len(inputs)), self.bs):
            yield _to_batch(inputs[i:min(i + self.bs, limit)])

    def _time(self, x: torch.Tensor, precision: Precision) -> float:
        "Seconds per image of a forward pass in `precision`, after one that warms up."
        self._logits(x, precision)
        start = time.perf_counter()
        self._logits(x, precision)
        return (time.perf_counter() - start) / len(x)

    def needs_tiles(self, h: int, w: int) -> bool:
        "Whether an image is tiled: always for a model that learned on windows, else when much larger than training's."
        if self.model.tiles:
            return True
        sh, sw = self.model.scale
        th, tw = self.model.size
        return h * sh > TILE_MARGIN * th or w * sw > TILE_MARGIN * tw

    # -- one image
    def predict(self, image: np.ndarray, tiles: bool | None = None) -> np.ndarray:
        "Class indices (uint8) at the image's size; `tiles` None chooses by size."
        h, w = image.shape[:2]
        if tiles is None:
            tiles = self.needs_tiles(h, w)
        if tiles:
            return self._argmax(self.tiled(image), (h, w))
        return next(self.predict_many([image]))

    def tiled(self, image: np.ndarray) -> torch.Tensor:
        "Blended probabilities (C, h', w') over overlapping tiles of the image scaled as in training (tiles.py)."
        return tiles.blended(resize(image, self._scaled_size(image)), self.tile, self.overlap, self.bs,
                             len(self.model.codes), lambda crops: self.probabilities(_to_batch(crops)))

    def _scaled_size(self, image: np.ndarray) -> tuple[int, int]:
        h, w = image.shape[:2]
        sh, sw = self.model.scale
        return max(1, round(h * sh)), max(1, round(w * sw))

    # -- many images of about the training size
    def predict_many(self, images: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        "Class indices at each image's size, in batches; large images are tiled on their own."
        for probs in self.probabilities_many(images):
            yield probs.argmax(0).to(torch.uint8).numpy()

    def probabilities_many(self, images: Iterable[np.ndarray]) -> Iterator[torch.Tensor]:
        "Class probabilities (C, h, w) at each image's size, in batches; large images are tiled on their own."
        batch: list[np.ndarray] = []
        for image in images:
            if self.needs_tiles(*image.shape[:2]):
                yield from self._flush(batch)
                batch = []
                yield self._at(self.tiled(image), image.shape[:2])
                continue
            batch.append(image)
            if len(batch) == self.bs:
                yield from self._flush(batch)
                batch = []
        yield from self._flush(batch)

    def _flush(self, images: list[np.ndarray]) -> Iterator[torch.Tensor]:
        if not images:
            return
        probs = self.probabilities(_to_batch([resize(im, self.model.size) for im in images]))
        for im, p in zip(images, probs):
            yield self._at(p, im.shape[:2])

    def _argmax(self, probs: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
        return self._at(probs, size).argmax(0).to(torch.uint8).numpy()

    def _at(self, probs: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        "Probabilities resized to the image's size (bilinear, as one would the image)."
        if tuple(probs.shape[-2:]) != tuple(size):
            probs = F.interpolate(probs[None], size=size, mode="bilinear", align_corners=False)[0]
        return probs
