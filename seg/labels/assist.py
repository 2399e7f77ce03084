"""Assisted labelling that needs no download: a few strokes per class, and a pixel classifier fills the
rest of the image (a random forest on multi-scale intensity, edge and texture features: scikit-image's
trainable segmentation, as ilastik does). It learns across the images labelled so far: strokes on a new
image add to what it knows. Clicking an object gives its region (`region_at`).

Strokes are a mask of class indices with UNMARKED where nothing is drawn; a fill is a mask of class
indices only (never a value between two classes), and keeps every stroke's class where it was drawn.
numpy, scikit-image and scikit-learn only."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNMARKED = 255  # a strokes mask's value where nothing is drawn (0 is a class: the background)
WORK_SIDE = 768  # features are computed with the longer side at most this (a 2,048 px image: 7x less memory)
SAMPLES = 4000  # stroke pixels kept per class per image (the forest trains in about a second on 2 cores)
TREES, DEPTH = 60, 12


def _gray_or_rgb(image: np.ndarray) -> tuple[np.ndarray, int | None]:
    "The image as float in [0, 1], and its channel axis (None for grey)."
    a = np.asarray(image)
    a = a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else max(1.0, float(a.max())))
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3 and np.allclose(a[..., 0], a[..., 1]) and np.allclose(a[..., 0], a[..., 2]):
        a = a[..., 0]  # grey saved as RGB: a third of the features, the same information
    return a, (-1 if a.ndim == 3 else None)


def scale_for(shape: tuple[int, ...]) -> float:
    "The factor features are computed at: images over WORK_SIDE are reduced, smaller ones kept."
    return min(1.0, WORK_SIDE / max(shape[:2]))


def features(image: np.ndarray) -> np.ndarray:
    """Per-pixel features (H', W', F) at `scale_for` the image's size: intensity, edges and texture at
    sigmas 1 to 16 (objects from a few pixels to a few dozen across)."""
    from skimage.feature import multiscale_basic_features
    from skimage.transform import rescale
    a, axis = _gray_or_rgb(image)
    s = scale_for(a.shape)
    if s < 1.0:
        a = rescale(a, s, anti_aliasing=True, channel_axis=axis, preserve_range=True).astype(np.float32)
    return multiscale_basic_features(a, sigma_min=1, sigma_max=16, channel_axis=axis).astype(np.float32)


def _reduce_strokes(strokes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    "Strokes at the features' size: the nearest stroke pixel (thin strokes survive; no class is averaged)."
    if strokes.shape[:2] == shape:
        return strokes
    rows = np.minimum((np.arange(shape[0]) + 0.5) * strokes.shape[0] / shape[0], strokes.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(shape[1]) + 0.5) * strokes.shape[1] / shape[1], strokes.shape[1] - 1).astype(int)
    return strokes[np.ix_(rows, cols)]


class NoStrokes(ValueError):
    "Nothing to learn from: fewer than two classes drawn so far."


@dataclass
class Assistant:
    """The pixel classifier of one labels set: `learn(key, image, strokes)` adds an image's strokes (again for
    the same key: they replace that image's earlier ones), `fill(image)` labels a whole image."""

    seed: int = 0
    samples: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    forest: object | None = None

    def classes(self) -> list[int]:
        "The classes drawn so far, over every image."
        return sorted({int(c) for _, y in self.samples.values() for c in np.unique(y)})

    def learn(self, key: str, image: np.ndarray, strokes: np.ndarray) -> None:
        """Add (or replace) the strokes of the image `key` and retrain. `strokes`: class indices, UNMARKED
        elsewhere, the image's height and width. NoStrokes while fewer than two classes are drawn in all."""
        if strokes.shape[:2] != np.asarray(image).shape[:2]:
            raise ValueError(f"strokes of {strokes.shape[:2]} for an image of {np.asarray(image).shape[:2]}")
        f = features(image)
        s = _reduce_strokes(np.asarray(strokes), f.shape[:2])
        rng = np.random.default_rng(self.seed)
        xs, ys = [], []
        for c in np.unique(s):
            if c == UNMARKED:
                continue
            where = np.flatnonzero(s.ravel() == c)
            if len(where) > SAMPLES:
                where = rng.choice(where, SAMPLES, replace=False)
            xs.append(f.reshape(-1, f.shape[-1])[where])
            ys.append(np.full(len(where), c, np.int32))
        if xs:
            self.samples[key] = (np.concatenate(xs), np.concatenate(ys))
        else:
            self.samples.pop(key, None)
        self._fit()

    def _fit(self) -> None:
        if len(self.classes()) < 2:
            self.forest = None
            raise NoStrokes("Draw strokes of at least two classes (the background is one) to fill the rest.")
        from sklearn.ensemble import RandomForestClassifier
        x = np.concatenate([x for x, _ in self.samples.values()])
        y = np.concatenate([y for _, y in self.samples.values()])
        self.forest = RandomForestClassifier(TREES, max_depth=DEPTH, class_weight="balanced", n_jobs=-1,
                                             random_state=self.seed).fit(x, y)

    def probabilities(self, image: np.ndarray) -> tuple[np.ndarray, list[int]]:
        "Each drawn class's probability (C, H, W) at the image's own size, and the classes in that order."
        from skimage.transform import resize
        if self.forest is None:
            raise NoStrokes("Draw strokes of at least two classes (the background is one) to fill the rest.")
        f = features(image)
        p = self.forest.predict_proba(f.reshape(-1, f.shape[-1])).reshape(*f.shape[:2], -1)
        h, w = np.asarray(image).shape[:2]
        if p.shape[:2] != (h, w):
            p = resize(p, (h, w), order=1, preserve_range=True, anti_aliasing=False)
        return np.moveaxis(p, -1, 0).astype(np.float32), [int(c) for c in self.forest.classes_]

    def fill(self, image: np.ndarray, strokes: np.ndarray | None = None) -> np.ndarray:
        """The image labelled: each pixel the most likely drawn class (uint8 class indices, nothing else),
        the strokes' own classes where they were drawn."""
        p, classes = self.probabilities(image)
        out = np.asarray(classes, np.uint8)[p.argmax(0)]
        if strokes is not None:
            drawn = strokes != UNMARKED
            out[drawn] = strokes[drawn]
        return out


def region_at(image: np.ndarray, point: tuple[int, int], tolerance: float | None = None) -> np.ndarray:
    """The object under `point` (row, column), as a boolean mask: a watershed on the lightly smoothed image's
    gradient from two seeds, the click and every pixel whose grey level is further than `tolerance` (0 to 1)
    from the clicked one's, so the object's edge falls where the gradient is steepest, not a grey level
    short of it; holes filled (a nucleus's darker spots are the nucleus). `tolerance` by default: four
    times the image's noise after smoothing, at least 0.02."""
    from scipy.ndimage import binary_erosion, binary_fill_holes
    from skimage.filters import gaussian, sobel
    from skimage.segmentation import watershed
    g, axis = _gray_or_rgb(image)
    if axis is not None:
        g = g.mean(-1)
    r, c = int(point[0]), int(point[1])
    if not (0 <= r < g.shape[0] and 0 <= c < g.shape[1]):
        raise ValueError(f"point {point} is outside the image of {g.shape[0]} x {g.shape[1]} px")
    a = gaussian(g, sigma=1.0, preserve_range=True)
    seed = float(np.median(a[max(0, r - 2): r + 3, max(0, c - 2): c + 3]))
    if tolerance is None:  # gaussian(sigma 1) leaves about 0.28 of white noise's spread
        tolerance = max(0.02, 4 * 0.28 * noise(g))
    # far pixels seed the outside two pixels back from where they start: the smoothing blurs an edge over
    # its neighbours, and the watershed, not a grey level, should decide which side they fall on
    far = binary_erosion(np.abs(a - seed) > tolerance, iterations=2)
    markers = np.where(far, 2, 0).astype(np.int32)
    markers[max(0, r - 1): r + 2, max(0, c - 1): c + 2] = 1
    return binary_fill_holes(watershed(sobel(a), markers) == 1)


def noise(g: np.ndarray) -> float:
    "White noise's spread in a grey image: from the median of neighbour differences (edges barely move it)."
    d = np.abs(np.diff(g, axis=1)).ravel()
    return 1.4826 * float(np.median(d)) / np.sqrt(2) if d.size else 0.0
