"""Drawing masks over images in class colours: for the gallery, the close look and the
augmentation preview. Class 0 (background) is left clear."""

from __future__ import annotations

import numpy as np
from PIL import Image

from seg.data.codes import Codes


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
    """Both shrunk so the longer side is at most `side` (the mask by nearest neighbour: classes never blend;
    an int32 id map too, ids never blend)."""
    h, w = mask.shape
    scale = side / max(h, w)
    if scale >= 1:
        return image, mask
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    im = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
    m = np.asarray(Image.fromarray(mask).resize(size, Image.Resampling.NEAREST))
    return im, m


# Error map colours: right foreground, false positive, false negative, one class taken for another.
ERROR_COLORS = {"right": (34, 197, 94), "false positive": (239, 68, 68), "false negative": (59, 130, 246),
                "wrong class": (245, 158, 11)}


def error_map(image: np.ndarray, truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    "The image dimmed to gray, with each pixel the model got wrong (or right, on foreground) in colour."
    gray = image.astype(np.float32).mean(axis=2, keepdims=True) * 0.45
    out = np.repeat(gray, 3, axis=2)
    cases = {"right": (truth == pred) & (truth > 0), "false positive": (pred > 0) & (truth == 0),
             "false negative": (truth > 0) & (pred == 0), "wrong class": (truth > 0) & (pred > 0) & (truth != pred)}
    for name, where in cases.items():
        out[where] = out[where] * 0.3 + np.array(ERROR_COLORS[name], np.float32) * 0.7
    return out.astype(np.uint8)


def side_by_side(panels: list[np.ndarray], gap: int = 4) -> np.ndarray:
    "Panels of the same height in a row, white gaps between."
    h = panels[0].shape[0]
    spacer = np.full((h, gap, 3), 255, np.uint8)
    row = []
    for i, p in enumerate(panels):
        row += [spacer, p] if i else [p]
    return np.concatenate(row, axis=1)


def object_colors(n: int) -> np.ndarray:
    "A colour per id 0..n (0 unused): golden-ratio hues, so neighbours rarely look alike."
    import colorsys
    hues = (np.arange(n + 1) * 0.618033988749895) % 1
    return np.array([[int(c * 255) for c in colorsys.hsv_to_rgb(h, 0.75, 1.0)] for h in hues], np.uint8)


def draw_objects(image: np.ndarray, ids: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    "Every object of an id map filled in its own colour and outlined, so touching objects stay apart."
    from skimage.segmentation import find_boundaries
    colors = object_colors(int(ids.max()) if ids.size else 0)
    fg = (ids > 0)[..., None]
    fill = colors[ids].astype(np.float32)
    out = np.where(fg, image.astype(np.float32) * (1 - alpha) + fill * alpha, image.astype(np.float32))
    edge = find_boundaries(ids, mode="inner") & (ids > 0)
    out[edge] = colors[ids[edge]]
    return out.astype(np.uint8)

