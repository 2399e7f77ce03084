"""Objects of a large image's mask measured a strip at a time (seg/prediction/large_measure.py): the table the whole
mask gives in memory (`measure.objects`), whatever the strips cut."""

import numpy as np
import pandas as pd
import pytest
import tifffile
from skimage.draw import disk, line

from seg.prediction.large_measure import objects_large
from seg.prediction.measure import objects

CODES = ["background", "cell", "crack"]


def _hard_mask(h=203, w=157, seed=3) -> np.ndarray:
    """Shapes a strip can cut badly: a U whose arms meet only below the seam, a chain of pixels touching only at their
    corners across seams, one-pixel lines, objects on every edge of the image, two classes touching, and noise."""
    rng = np.random.default_rng(seed)
    m = np.zeros((h, w), np.uint8)
    m[10:60, 10:14] = 1
    m[10:60, 30:34] = 1
    m[56:60, 10:34] = 1  # a U: its arms are two parts in every strip above its base
    for i in range(40):
        m[70 + i, 60 + i] = 2  # a diagonal line, 8-connected only
    rr, cc = line(120, 5, 190, 150)
    m[rr, cc] = 2
    for cy, cx, r in [(0, 80, 12), (h - 1, 40, 9), (100, 0, 7), (150, w - 1, 11), (130, 90, 15)]:
        rr, cc = disk((cy, cx), r, shape=m.shape)
        m[rr, cc] = 1
    m[125:135, 100:110] = 2  # another class inside a cell: both touch, neither joins the other
    noise = rng.random((h, w)) < 0.02
    m[noise & (m == 0)] = rng.integers(1, 3, int((noise & (m == 0)).sum()))
    return m


@pytest.mark.parametrize("rows", [1, 2, 3, 7, 64, 1000])
def test_objects_by_strips_are_the_whole_masks_objects(tmp_path, rows):
    m = _hard_mask()
    image = np.random.default_rng(1).integers(0, 4000, (2, *m.shape), np.uint16)  # two channels, 16-bit
    tifffile.imwrite(tmp_path / "mask.tif", m, tile=(64, 64), compression="zlib")
    tifffile.imwrite(tmp_path / "image.tif", image, tile=(64, 64), metadata={"axes": "CYX"})
    whole = objects(m, CODES, image="x", intensity=(np.moveaxis(image, 0, -1), ["ch1", "ch2"]))
    got = objects_large(tmp_path / "mask.tif", CODES, "x", tmp_path / "image.tif", rows=rows)
    assert len(whole) > 100 and list(got.columns) == list(whole.columns)
    pd.testing.assert_frame_equal(got, whole, check_dtype=False, rtol=1e-9, atol=1e-9)


def test_a_mask_without_objects_gives_the_columns_and_no_row(tmp_path):
    tifffile.imwrite(tmp_path / "mask.tif", np.zeros((90, 70), np.uint8), tile=(32, 32))
    got = objects_large(tmp_path / "mask.tif", CODES, "x", rows=8)
    assert got.empty and list(got.columns) == list(objects(np.zeros((9, 7), np.uint8), CODES).columns)
