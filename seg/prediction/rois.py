"""Objects out to Fiji, QuPath and napari (`seg predict --rois`, the Predict page's "ROIs" option), per image:

    rois/<stem>.zip       ImageJ/Fiji ROI set (drag it onto Fiji, or the ROI Manager's More > Open): one traced
                          ROI an object (as Fiji's Wand and Analyze Particles make), named "<class> <object>" as
                          measurements.csv numbers them; an object in parts gives its largest part, holes are
                          left out (an ImageJ traced ROI has none)
    rois/<stem>.geojson   QuPath (File > Import objects, or drag it onto the image): one detection a Feature,
                          Polygon or MultiPolygon with its holes, classified by class, with the object's number
    labels/<stem>.tif     napari and Fiji label image: uint16 (uint32 past 65,535 objects), one id an object (a run
                          on objects: instances' ids; a run on classes: numbered class by class)

Coordinates are pixel corners from the image's top-left corner, y down (seg/objects/outlines.py), as both tools
read them: an outline's area is the object's pixel count. Physical units stay in measurements.csv.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from skimage.measure import label

from seg.objects.outlines import polygons


def objects_of(mask: np.ndarray, codes: list[str], ids: np.ndarray | None = None) -> list[tuple[str, np.ndarray]]:
    """(class name, id map of its objects) per foreground class: a run on objects' ids, or each class's 8-connected
    regions numbered from 1 (as measurements.csv numbers them)."""
    if ids is not None:
        return [(codes[1], ids)]
    return [(name, label(mask == k, connectivity=2)) for k, name in enumerate(codes) if k > 0]


def write(folder: Path, stem: str, found: list[tuple[str, np.ndarray]], colors: list[tuple[int, int, int]]) -> dict:
    """rois/<stem>.zip, rois/<stem>.geojson and labels/<stem>.tif under `folder`; their paths (relative) and the
    objects written."""
    import roifile
    import tifffile

    (folder / "rois").mkdir(exist_ok=True)
    (folder / "labels").mkdir(exist_ok=True)
    rois, features = [], []
    shape = found[0][1].shape
    labels = np.zeros(shape, np.uint32)
    offset = 0
    for (name, ids), color in zip(found, colors):
        for i, parts in polygons(ids).items():
            shell = parts[0][0]
            roi = roifile.ImagejRoi.frompoints(np.asarray(shell, np.int32), name=f"{name} {i}")
            roi.roitype = roifile.ROI_TYPE.TRACED  # an outline along pixel edges, as Fiji's Wand and Analyze Particles
            rois.append(roi)
            features.append(_feature(name, i, parts, color))
        labels[ids > 0] = ids[ids > 0] + offset
        offset += int(ids.max()) if ids.size else 0
    zipped, geo, tif = f"rois/{stem}.zip", f"rois/{stem}.geojson", f"labels/{stem}.tif"
    (folder / zipped).unlink(missing_ok=True)  # roiwrite adds to an existing zip
    if rois:
        roifile.roiwrite(folder / zipped, rois, mode="w")
    (folder / geo).write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    dtype = np.uint16 if offset <= np.iinfo(np.uint16).max else np.uint32
    tifffile.imwrite(folder / tif, labels.astype(dtype), compression="zlib")
    return {"rois": zipped if rois else None, "geojson": geo, "labels": tif, "outlines": len(features)}


def _feature(name: str, number: int, parts: list, color) -> dict:
    "A QuPath detection: its rings closed (GeoJSON repeats the first vertex), outer ring first."
    polys = [[[list(p) for p in ring] + [list(ring[0])] for ring in part] for part in parts]
    geometry = ({"type": "Polygon", "coordinates": polys[0]} if len(polys) == 1 else
                {"type": "MultiPolygon", "coordinates": polys})
    return {"type": "Feature", "geometry": geometry,
            "properties": {"objectType": "detection", "name": f"{name} {number}",
                           "classification": {"name": name, "color": [int(c) for c in color]},
                           "measurements": {"object": number}}}
