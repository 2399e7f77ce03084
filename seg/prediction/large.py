"""Predicting an image read by regions (seg/data/large.py) into a mask of its size written by tiles: memory is bounded
by a batch of tiles and one row of tiles across the image, never by the image.

The image is seen as `Predictor.tiled` sees a smaller one: scaled as the training images were (`Model.scale`; 1 for a
run trained on crops of large images), cut into overlapping tiles of the training size, the tiles' probabilities
blended with weights falling off towards their edges. Here the tiles are read one batch at a time from the file
(each tile's region of native pixels, prepared as training prepared images, resized to the tile), one row of tiles
after another; the rows of blended probabilities no later tile touches are resized to the image's pixels (bilinear,
as `Predictor._at`), turned into classes and written to a tiled TIFF (TILE x TILE, zlib) as soon as a row of its
tiles is complete. At scale 1 the mask is the one `Predictor.predict` gives for the whole image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
import torch
import torch.nn.functional as F
from PIL import Image

from seg.data.channels import Input, percentiles
from seg.data.large import Large
from seg.data.stacks import Slice
from seg.prediction.inference import Predictor, _to_batch, resize
from seg.prediction.measure import counts as measure_counts
from seg.prediction.previews import preview
from seg.prediction.tiles import starts, window

TILE = 512  # the mask TIFF's tiles
ROWS_BYTES = 32 * 2**20  # image rows turned into classes at once: classes x rows x width floats of at most this


@dataclass
class LargeResult:
    "What predicting a large image gave: its size, pixels per class, and an overview of the mask."

    height: int
    width: int
    class_pixels: list[int]
    overview: np.ndarray  # the mask, every `step`-th pixel
    step: int
    tiles: int = 0  # tiles of the training size predicted
    notes: list[str] = field(default_factory=list)


def overview_step(height: int, width: int, side: int = 1024) -> int:
    return max(1, math.ceil(max(height, width) / side))


def predict_large(predictor: Predictor, path: Path, out: Path, side: int = 1024) -> LargeResult:
    """Predict the large image at `path` into the tiled TIFF `out` (class indices, uint8, the image's size)."""
    image = Large.open(path)
    H, W = image.height, image.width
    sh, sw = predictor.model.scale
    th, tw = predictor.tile
    Hs, Ws = max(th, round(H * sh)), max(tw, round(W * sw))  # the scaled image (never smaller than a tile)
    oy, ox = int(th * predictor.overlap), int(tw * predictor.overlap)
    weight = torch.from_numpy(np.outer(window(th, oy), window(tw, ox)))
    ys, xs = starts(Hs, th, th - oy), starts(Ws, tw, tw - ox)
    n = len(predictor.model.mask_codes) if predictor.model.objects else len(predictor.model.codes)
    C = len(predictor.model.codes)
    step = overview_step(H, W, side)
    result = LargeResult(H, W, [0] * n, np.zeros((math.ceil(H / step), math.ceil(W / step)), np.uint8), step)
    seen = whole_image_scaling(predictor.model.input, image)

    def tile(y: int, x: int) -> np.ndarray:
        "The scaled tile at (y, x): its native region read and prepared, resized to the tile."
        y0, x0 = math.floor(y / sh), math.floor(x / sw)
        y1, x1 = min(H, math.ceil((y + th) / sh)), min(W, math.ceil((x + tw) / sw))
        region = seen.load(Slice(path, box=(y0, x0, y1 - y0, x1 - x0)))
        return resize(region, (th, tw))

    def scaled_rows():
        "Blended probabilities (C, rows, Ws) of the scaled image, top to bottom, each row once."
        acc, total, top = torch.zeros(C, 0, Ws), torch.zeros(0, Ws), 0  # rows [top, top + acc height)
        for i, y in enumerate(ys):
            grow = y + th - (top + acc.shape[1])
            if grow > 0:
                acc, total = torch.cat([acc, torch.zeros(C, grow, Ws)], 1), torch.cat([total, torch.zeros(grow, Ws)])
            for j in range(0, len(xs), predictor.bs):
                group = xs[j:j + predictor.bs]
                probs = predictor.probabilities(_to_batch([tile(y, x) for x in group]))
                result.tiles += len(group)
                for x, p in zip(group, probs):
                    acc[:, y - top:y - top + th, x:x + tw] += p * weight
                    total[y - top:y - top + th, x:x + tw] += weight
            done = (ys[i + 1] if i + 1 < len(ys) else Hs) - top  # rows no later tile touches
            yield acc[:, :done] / total[:done]
            acc, total, top = acc[:, done:], total[done:], top + done

    def native_rows():
        "Class indices of the image's rows, top to bottom, a chunk at a time (bilinear from the scaled rows)."
        if (Hs, Ws) == (H, W):
            for probs in scaled_rows():
                yield _classes(predictor, probs)
            return
        # source row of native row r (align_corners False): (r + 0.5) * Hs / H - 0.5; it needs rows floor and floor+1
        kept, first = torch.zeros(C, 0, Ws), 0  # scaled rows [first, first + kept height)
        r, chunk = 0, max(8, ROWS_BYTES // (4 * C * W))
        for probs in scaled_rows():
            kept = torch.cat([kept, probs], 1)
            last = first + kept.shape[1] - 1
            while r < H:
                end = min(H, r + chunk)
                src = (torch.arange(r, end) + 0.5) * Hs / H - 0.5
                if math.floor(float(src[-1])) + 1 > last and last < Hs - 1:
                    break
                lo = src.floor().clamp(0, Hs - 1).long()
                hi = (lo + 1).clamp(max=Hs - 1)
                f = (src - lo).clamp(0, 1).view(1, -1, 1)
                rows = kept[:, lo - first] * (1 - f) + kept[:, hi - first] * f
                rows = F.interpolate(rows[None], size=(end - r, W), mode="bilinear", align_corners=False)[0] \
                    if Ws != W else rows
                yield _classes(predictor, rows)
                r = end
            need = max(0, math.floor(float((r + 0.5) * Hs / H - 0.5)) - first)  # rows still needed from here
            kept, first = kept[:, need:], first + need

    def tiles_of_mask():
        "The mask's TIFF tiles, a row of them at a time, while counting classes and keeping the overview."
        band, filled = np.zeros((TILE, W), np.uint8), 0
        y = 0
        for rows in native_rows():
            at = 0
            while at < len(rows):
                take = min(TILE - filled, len(rows) - at)
                band[filled:filled + take] = rows[at:at + take]
                filled, at = filled + take, at + take
                if filled == TILE or y + filled == H:
                    yield from _emit(band[:filled], y, result)
                    y, filled = y + filled, 0

    out.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(out, tiles_of_mask(), shape=(H, W), dtype=np.uint8, tile=(TILE, TILE), compression="zlib",
                     metadata={"axes": "YX"})
    return result


def into_folder(predictor: Predictor, name: str, path: Path, out: Path, overlay, measure_objects: bool = False
                ) -> tuple[dict, str, pd.DataFrame | None]:
    """A large image predicted into a prediction folder (seg/prediction/output.py): masks/<name>.tif, its preview an
    overview of image and mask; its record for prediction.json, a note, and with `measure_objects` its objects
    measured a strip at a time (seg/prediction/large_measure.py; a run on objects: touching objects are one, not split
    at this size). No ROIs are written for it. ImageError for a file that cannot be read."""
    from seg.prediction.large_measure import objects_large
    result = predict_large(predictor, path, out / "masks" / f"{name}.tif")
    overview = overview_image(path, predictor.model.input)
    mask = result.overview[:overview.shape[0], :overview.shape[1]]
    Image.fromarray(preview(overview, mask, None, overlay)).save(out / "previews" / f"{name}.png")
    codes = predictor.model.mask_codes
    table = objects_large(out / "masks" / f"{name}.tif", codes, name, path) if measure_objects else None
    found = (f"{len(table):,} objects measured a strip at a time" if table is not None else "objects not measured")
    note = (f"{name}: {result.width:,} x {result.height:,} pixels, read by regions and predicted in {result.tiles:,} "
            f"tiles; its mask is masks/{name}.tif (tiled); {found}"
            + ("; touching objects are one object (not split apart at this size)"
               if table is not None and predictor.model.objects else "")
            + "; no ROIs are written for an image this large.")
    record = {"name": name, "image": str(path), "mask": f"masks/{name}.tif", "preview": f"previews/{name}.png",
              "width": result.width, "height": result.height, "tiled": True, "large": True,
              "class_pixels": dict(zip(codes, result.class_pixels)), "truth": None,
              **({"objects_found": measure_counts(table, codes)} if table is not None else {})}
    return record, note, table


def whole_image_scaling(seen: Input, image: Large) -> Input:
    """What the model sees of a large image's tiles: as of any image, but where each image is scaled by its own
    percentiles (scaling "image"), by the whole image's (measured on its overview), never each tile's own: a tile of
    background would otherwise be stretched into noise."""
    if seen.rgb or seen.scaling != "image":
        return seen
    a = image.overview(1024)
    a = a[..., None] if a.ndim == 2 else a
    lows, highs = zip(*(percentiles(a[..., i].astype(np.float32)) for i in seen.pick))
    return replace(seen, scaling="dataset", low=tuple(lows), high=tuple(highs))


def overview_image(path: Path, seen: Input, side: int = 1024) -> np.ndarray:
    "uint8 RGB of the whole image at most `side` pixels on its long side, as `seen` shows an image to a person."
    image = Large.open(path)
    return image.shown(side) if seen.rgb else seen.show(seen.prepare(image.overview(side)))


def _classes(predictor: Predictor, probs: torch.Tensor) -> np.ndarray:
    "Class indices (rows, width) of blended probabilities; for a run on objects, background or object."
    best, classes = probs[0].clone(), torch.zeros(probs.shape[1:], dtype=torch.uint8)
    for c in range(1, len(probs)):  # as argmax(0) (the first of equals wins), a class at a time: argmax over the
        better = probs[c] > best     # first axis of a wide tensor is ten times slower on the CPU (profiled)
        best = torch.where(better, probs[c], best)
        classes[better] = c
    classes = classes.numpy()
    if predictor.model.objects:
        classes = (classes > 0).astype(np.uint8)  # interior and boundary are the object (no split at this size)
    return classes


def _emit(band: np.ndarray, y: int, result: LargeResult):
    "The tiles of a band of mask rows starting at row y; counts and overview updated."
    counts = np.bincount(band.ravel(), minlength=len(result.class_pixels))
    for k in range(len(result.class_pixels)):
        result.class_pixels[k] += int(counts[k])
    s = result.step
    first = (-y) % s  # the first row of the band on the overview's grid
    result.overview[(y + first) // s:(y + first) // s + len(band[first::s])] = band[first::s, ::s]
    for x in range(0, band.shape[1], TILE):
        part = band[:, x:x + TILE]
        if part.shape != (TILE, TILE):
            part = np.pad(part, ((0, TILE - part.shape[0]), (0, TILE - part.shape[1])))
        yield part
