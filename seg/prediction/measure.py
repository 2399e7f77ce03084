"""Objects in a predicted mask: per class, the connected components (8-connected) and their size and
shape, from scikit-image's `regionprops`; in pixels, or in physical units given the pixel size.

Columns (`measurements.csv`, a contract read by scripts outside the project):
    image, class, object           which image, class name, object number within the class (1..); for a
                                   run on objects, its id in instances/<stem>.png
    centroid_x, centroid_y         in pixels, from the image's top left
    bbox_x, bbox_y, bbox_w, bbox_h in pixels
    area_px                        pixel count
    area                           in unit^2 (pixels without a pixel size)
    equivalent_diameter            diameter of the disc of the same area, in unit
    perimeter                      in unit (scikit-image's 4-connected estimate)
    major_axis, minor_axis         of the ellipse with the same second moments, in unit
    aspect_ratio                   major / minor axis (1 for a disc); empty for a line one pixel wide
    circularity                    4 pi area / perimeter^2, 1 for a disc, less for ragged shapes
    touches_border                 the object is cut by the image edge: its size is a lower bound
    unit                           "px" or the unit given (um, nm, mm ...)
    mean_<channel>                 the object's mean value in each channel of the image file as stored (not
    integrated_<channel>           the model's scaling), and its sum over the object's pixels; <channel> is red,
                                   green, blue for RGB, gray for one channel, ch1, ch2 ... for others
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from skimage.measure import label, regionprops

from seg.errors import SettingsError

COLUMNS = ["image", "class", "object", "centroid_x", "centroid_y", "bbox_x", "bbox_y", "bbox_w", "bbox_h",
           "area_px", "area", "equivalent_diameter", "perimeter", "major_axis", "minor_axis", "aspect_ratio",
           "circularity", "touches_border", "unit"]
LENGTHS = ["equivalent_diameter", "perimeter", "major_axis", "minor_axis"]


def check_pixel_size(pixel_size: float | None) -> None:
    if pixel_size is not None and not (0 < pixel_size < 1e6 and math.isfinite(pixel_size)):
        raise SettingsError(f"Pixel size {pixel_size}: use a positive number, the width of one pixel in your unit "
                         f"(for example 0.65 for 0.65 um per pixel).")


def objects(mask: np.ndarray, codes: list[str], image: str = "", skip: tuple[int, ...] = (0,),
            intensity: tuple[np.ndarray, list[str]] | None = None) -> pd.DataFrame:
    """One row per object of every class but `skip` (the background), sizes in pixels; `intensity`: the image's
    channels (H, W, C) as stored and their names, for each object's mean and integrated value per channel."""
    rows = []
    for k, name in enumerate(codes):
        if k not in skip:
            rows += _rows(label(mask == k, connectivity=2), name, image, intensity)
    return pd.DataFrame(rows, columns=_columns(intensity))


def objects_of_ids(ids: np.ndarray, name: str, image: str = "",
                   intensity: tuple[np.ndarray, list[str]] | None = None) -> pd.DataFrame:
    """One row per object of an id map (a run on objects: touching objects apart), numbered as in the
    id map written to instances/ (`object` is the id there); `intensity` as for `objects`."""
    return pd.DataFrame(_rows(ids, name, image, intensity), columns=_columns(intensity))


def _columns(intensity) -> list[str]:
    names = intensity[1] if intensity is not None else []
    return COLUMNS + [f"{kind}_{n}" for n in names for kind in ("mean", "integrated")]


def _rows(labels: np.ndarray, name: str, image: str, intensity=None) -> list[dict]:
    h, w = labels.shape
    rows = []
    values = None
    if intensity is not None and intensity[0].shape[:2] == labels.shape:
        values = intensity[0].astype(np.float64)
    for r in regionprops(labels, intensity_image=values):
        y0, x0, y1, x1 = r.bbox
        major, minor = float(r.axis_major_length), float(r.axis_minor_length)
        perimeter = float(r.perimeter)
        rows.append({
            "image": image, "class": name, "object": int(r.label),
            "centroid_x": float(r.centroid[1]), "centroid_y": float(r.centroid[0]),
            "bbox_x": x0, "bbox_y": y0, "bbox_w": x1 - x0, "bbox_h": y1 - y0,
            "area_px": int(r.area), "area": float(r.area),
            "equivalent_diameter": float(r.equivalent_diameter_area), "perimeter": perimeter,
            "major_axis": major, "minor_axis": minor,
            "aspect_ratio": major / minor if minor > 0 else float("nan"),
            "circularity": 4 * math.pi * r.area / perimeter**2 if perimeter > 0 else float("nan"),
            "touches_border": bool(x0 == 0 or y0 == 0 or x1 == w or y1 == h),
            "unit": "px",
        })
        if values is not None:
            means = np.atleast_1d(r.intensity_mean)
            for n, m in zip(intensity[1], means):
                rows[-1][f"mean_{n}"] = float(m)
                rows[-1][f"integrated_{n}"] = float(m) * int(r.area)
    return rows


def combine(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Many images' objects in one table (the columns even when there is no object at all; an intensity column
    that one image lacks is empty there)."""
    columns = list(dict.fromkeys(c for t in tables for c in t.columns)) or COLUMNS
    tables = [t for t in tables if not t.empty]
    return pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)


def in_units(table: pd.DataFrame, pixel_size: float | None, unit: str = "um") -> pd.DataFrame:
    "The same objects with lengths times the pixel size and areas times its square; pixels when None."
    check_pixel_size(pixel_size)
    out = table.copy()
    if pixel_size is None or out.empty:
        return out
    out["area"] = out["area_px"] * pixel_size**2
    for col in LENGTHS:
        out[col] = out[col] * pixel_size
    out["unit"] = unit
    return out


def counts(table: pd.DataFrame, codes: list[str]) -> dict[str, int]:
    "Objects per class, every foreground class listed (0 when none was found)."
    found = table.groupby("class").size().to_dict() if not table.empty else {}
    return {name: int(found.get(name, 0)) for name in codes[1:]}


def size_distribution(table: pd.DataFrame, column: str = "equivalent_diameter") -> pd.DataFrame:
    """Per class: count, mean, and the D10, D50 (median) and D90 of `column`: the sizes below which 10%,
    50% and 90% of the objects lie (a number-weighted particle size distribution)."""
    if table.empty:
        return pd.DataFrame(columns=["class", "count", "mean", "d10", "d50", "d90", "unit"])
    rows = []
    for name, group in table.groupby("class", sort=False):
        v = group[column].to_numpy(dtype=float)
        d10, d50, d90 = np.percentile(v, [10, 50, 90])
        rows.append({"class": name, "count": len(v), "mean": float(v.mean()), "d10": float(d10),
                     "d50": float(d50), "d90": float(d90), "unit": group["unit"].iloc[0]})
    return pd.DataFrame(rows)
