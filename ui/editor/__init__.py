"""The mask editor on the Label page: a Streamlit components v2 element (editor.js, editor.css: shipped with
the app, nothing fetched, no iframe). `edit()` shows an image with its mask and returns the mask as the
person left it after their last action, or None on a run where nothing changed.

The mask travels both ways run-length encoded (seg/labels/rle.py): class indices exactly, never the colours
of a drawn canvas. Class names reach the page as data and are set as text, never as HTML."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from seg.labels import rle

HERE = Path(__file__).parent


@st.cache_resource
def _component():
    return st.components.v2.component("segboard_mask_editor", js=(HERE / "editor.js").read_text(),
                                      css=(HERE / "editor.css").read_text())


@dataclass(frozen=True)
class Change:
    "A mask the person changed (the whole mask), for the image `id` it was drawn on."

    id: str
    mask: np.ndarray


@dataclass(frozen=True)
class Click:
    "The Object tool clicked the image `id` at (`x`, `y`): the object there should take class `value`."

    id: str
    x: int
    y: int
    value: int


@st.cache_data(max_entries=16, show_spinner=False)  # each save reruns the page: encode an image once, not per stroke
def image_url(image: np.ndarray) -> str:
    "An RGB image as a data URL: PNG up to a megapixel, JPEG above (what is shown, never what is saved)."
    buf = io.BytesIO()
    big = image.shape[0] * image.shape[1] > 1_000_000
    Image.fromarray(image).save(buf, format="JPEG" if big else "PNG", quality=92)
    return f"data:image/{'jpeg' if big else 'png'};base64,{base64.b64encode(buf.getvalue()).decode()}"


def edit(key: str, id: str, image: np.ndarray, mask: np.ndarray | None, classes: list[str],
         colors: list[tuple[int, int, int]], version: int, strokes: bool = False, opacity: float = 0.5,
         status: str = "", objects: bool = False) -> Change | Click | None:
    """Show `image` (RGB, uint8) with `mask` (class indices; for `strokes`, UNMARKED where nothing is drawn)
    to edit; `version` changes when the mask given should replace what the editor holds (another image, a
    fill accepted, someone else's save). The person's change, once per action: the whole mask, or a click
    of the Object tool (the page finds the object and gives the editor the mask with it, a new `version`).
    `objects`: the mask holds one id per object (uint16, 0 the background; `classes` the background and the
    objects' name): each object is shown in a colour of its own, a stroke or polygon begun on the background
    makes a new object and one begun on an object grows it; a change is uint16 ids, a click's value 1."""
    h, w = image.shape[:2]
    data = {"id": id, "image": image_url(image), "width": w, "height": h,
            "runs": rle.encode(mask) if mask is not None else None,
            "classes": [{"name": str(n), "color": [int(v) for v in c]} for n, c in zip(classes, colors)],
            "strokes": strokes, "objects": objects, "opacity": opacity, "version": version, "status": status}
    result = _component()(data=data, key=key, on_change_change=lambda: None, on_click_change=lambda: None)
    click = getattr(result, "click", None)
    if click and click.get("id") == id:
        try:
            x, y, value = int(click["x"]), int(click["y"]), int(click["value"])
        except (KeyError, TypeError, ValueError):
            return None
        return Click(id, x, y, value) if 0 <= x < w and 0 <= y < h and 0 <= value < len(classes) else None
    change = getattr(result, "change", None)
    if not change or change.get("id") != id or (change.get("width"), change.get("height")) != (w, h):
        return None  # nothing new, or a message about another image than the one shown now
    try:
        return Change(id, rle.decode(change["runs"], h, w, np.uint16 if objects else np.uint8))
    except (rle.RLEError, KeyError, TypeError):
        return None
