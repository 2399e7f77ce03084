"""Objects out to Fiji, QuPath and napari (issue 31), read back with the tools' own readers: roifile for the ImageJ
ROI set, shapely for every polygon, tifffile for the label image."""

import json

import numpy as np
import pytest
import roifile
import shapely
import tifffile
from PIL import Image
from shapely.geometry import shape
from training import cli

from seg.objects.outlines import area, polygons


def hard_ids() -> np.ndarray:
    "Objects that make outlines hard: a hole, parts that touch at a corner, a pinched C, one pixel, the edge."
    ids = np.zeros((40, 48), np.uint16)
    ids[2:12, 2:12] = 1
    ids[5:8, 5:8] = 0  # a hole
    ids[14, 14] = ids[15, 15] = 2  # two parts touching at a corner
    ids[20:26, 2:8] = 3
    ids[21:25, 3:7] = 0
    ids[21, 7] = 0  # a C whose ends touch at a corner: a hole pinched against the shell
    ids[22, 7] = 3
    ids[22, 6] = 0
    ids[30, 30] = 4  # one pixel
    ids[34:40, 40:48] = 5  # cut by the image's edge
    rng = np.random.default_rng(3)
    blob = rng.random((10, 10)) > 0.45  # ragged: corners, holes and parts everywhere
    ids[2:12, 30:40][blob] = 6
    return ids


def test_every_outline_is_valid_and_covers_the_object_s_pixels_exactly():
    ids = hard_ids()
    found = polygons(ids)
    assert sorted(found) == [1, 2, 3, 4, 5, 6]
    for i, parts in found.items():
        geoms = [shapely.Polygon(part[0], part[1:]) for part in parts]
        for g in geoms:
            assert g.is_valid, (i, shapely.is_valid_reason(g))
        union = shapely.unary_union(geoms)
        assert union.area == pytest.approx((ids == i).sum()), i
        assert sum(area(part[0]) + sum(area(h) for h in part[1:]) for part in parts) == (ids == i).sum()
        inside = [(x + 0.5, y + 0.5) for y, x in zip(*np.nonzero(ids == i))]
        assert all(union.contains(shapely.Point(p)) for p in inside), i  # every pixel centre inside
    assert len(found[2]) == 2  # corner-touching pixels: two parts
    assert len(found[1][0]) == 2  # the square with its hole


def test_random_id_maps_give_valid_exact_outlines():
    rng = np.random.default_rng(0)
    for _ in range(20):
        ids = (rng.random((24, 24)) > 0.5) * rng.integers(1, 4, (24, 24))
        for i, parts in polygons(ids.astype(np.uint16)).items():
            geoms = [shapely.Polygon(p[0], p[1:]) for p in parts]
            assert all(g.is_valid for g in geoms)
            assert shapely.unary_union(geoms).area == pytest.approx((ids == i).sum())


def test_predict_rois_reads_back_in_roifile_shapely_and_tifffile(finished, tmp_path):
    out = tmp_path / "pred"
    rc, stdout, err = cli("predict", finished.run, "--valid", "--out", out, "--rois", "--measure")
    assert rc == 0, stdout + err
    meta = json.loads((out / "prediction.json").read_text())
    import pandas as pd
    table = pd.read_csv(out / "measurements.csv", dtype={"image": str})
    for record in meta["images"]:
        stem = record["name"]
        mask = np.asarray(Image.open(out / record["mask"]))
        labels = tifffile.imread(out / "labels" / f"{stem}.tif")
        assert labels.shape == mask.shape and labels.dtype == np.uint16
        assert ((labels > 0) == (mask > 0)).all()
        n = int(len(np.unique(labels)) - 1)
        mine = table[table.image == stem]
        assert n == len(mine) == record["outlines"]
        features = json.loads((out / "rois" / f"{stem}.geojson").read_text())["features"]
        assert len(features) == n
        for f in features:
            g = shape(f["geometry"])
            assert g.is_valid and f["properties"]["classification"]["name"] == "cell"
            number = f["properties"]["measurements"]["object"]
            assert g.area == pytest.approx(int(mine[mine.object == number].area_px.iloc[0]))
        if n:
            rois = roifile.roiread(out / "rois" / f"{stem}.zip")
            rois = rois if isinstance(rois, list) else [rois]
            assert len(rois) == n
            assert {r.name for r in rois} == {f"cell {k}" for k in mine.object}
            assert all(r.roitype == roifile.ROI_TYPE.TRACED for r in rois)
