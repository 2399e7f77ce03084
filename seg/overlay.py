"""Drawing masks over images in class colours: for the gallery, the close look and the
augmentation preview. Class 0 (background) is left clear."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .codes import Codes
from .dataset import Dataset
from .discovery import Pair


def hex_color(rgb) -> str:
    r, g, b = rgb
    return f"#{r:02x}{g:02x}{b:02x}"


class Overlay:
    def __init__(self, codes: Codes, alpha: float = 0.5):
        self.codes, self.alpha = codes, alpha
        n = max(len(codes), 256)
        self.lut = np.array([codes.display_color(i) if i < len(codes) else (255, 0, 255) for i in range(n)],
                            dtype=np.uint8)

    def colorize(self, mask: np.ndarray) -> np.ndarray:
        "The mask alone in class colours, background black; values that fit no class in magenta."
        return self.lut[mask]

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        fg = (mask > 0)[..., None]
        blend = image.astype(np.float32) * (1 - self.alpha) + self.colorize(mask).astype(np.float32) * self.alpha
        return np.where(fg, blend, image).astype(np.uint8)

    def legend(self) -> list[tuple[str, str]]:
        "(class name, hex colour) for classes 1.."
        return [(name, hex_color(self.codes.display_color(i))) for i, name in enumerate(self.codes.names) if i > 0]


def fit(image: np.ndarray, mask: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    "Both shrunk so the longer side is at most `side` (the mask by nearest neighbour: classes never blend)."
    h, w = mask.shape
    scale = side / max(h, w)
    if scale >= 1:
        return image, mask
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    im = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
    m = np.asarray(Image.fromarray(mask).resize(size, Image.Resampling.NEAREST))
    return im, m


def render_pair(dataset: Dataset, pair: Pair, alpha: float = 0.5, side: int | None = None) -> dict:
    "The image, the mask in colour and the overlay, as uint8 RGB arrays, shrunk to `side` if given."
    image, mask = dataset.read(pair)
    if side:
        image, mask = fit(image, mask, side)
    ov = Overlay(dataset.codes, alpha)
    return {"image": image, "mask": ov.colorize(mask), "overlay": ov(image, mask)}
