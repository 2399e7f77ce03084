"""The mask editor on the Label page: a Streamlit components v2 element (editor.js, editor.css: shipped with
the app, nothing fetched, no iframe). `edit()` shows an image with its mask and returns the mask as the
person left it after their last action, or None on a run where nothing changed.

The mask travels both ways run-length encoded (seg/labels/rle.py): class indices exactly, never the colours
of a drawn canvas. Class names reach the page as data and are set as text, never as HTML."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from seg.labels import messages, rle
from seg.labels.assist import UNMARKED
from seg.labels.messages import Change, Click, MessageError
from ui.text import md

__all__ = ["Change", "Click", "edit", "image_url"]

HERE = Path(__file__).parent


@st.cache_resource
def _component():
    return st.components.v2.component("segboard_mask_editor", js=(HERE / "editor.js").read_text(),
                                      css=(HERE / "editor.css").read_text())


@st.cache_data(max_entries=16, show_spinner=False)  # each save reruns the page: encode an image once, not per stroke
def image_url(image: np.ndarray) -> str:
    "An RGB image as a data URL: PNG up to a megapixel, JPEG above (what is shown, never what is saved)."
    buf = io.BytesIO()
    big = image.shape[0] * image.shape[1] > 1_000_000
    Image.fromarray(image).save(buf, format="JPEG" if big else "PNG", quality=92)
    return f"data:image/{'jpeg' if big else 'png'};base64,{base64.b64encode(buf.getvalue()).decode()}"


def edit(key: str, id: str, image: np.ndarray, mask: np.ndarray | None, classes: list[str],
         colors: list[tuple[int, int, int]], version: int, strokes: bool = False, opacity: float = 0.5,
         status: str = "", objects: bool = False, writable: bool = True) -> Change | Click | None:
    """Show `image` (RGB, uint8) with `mask` (class indices; for `strokes`, UNMARKED where nothing is drawn)
    to edit; `version` changes when the mask given should replace what the editor holds (another image, a
    fill accepted, someone else's save). The person's change, once per action: the whole mask, or a click
    of the Object tool (the page finds the object and gives the editor the mask with it, a new `version`).
    `objects`: the mask holds one id per object (uint16, 0 the background; `classes` the background and the
    objects' name): each object is shown in a colour of its own, a stroke or polygon begun on the background
    makes a new object and one begun on an object grows it; a change is uint16 ids, a click's value 1.
    Not `writable` (a read-only app): the mask is shown and nothing the browser sends is read.
    Every message is checked before it is decoded (seg/labels/messages.py); a bad one is a line on the page."""
    h, w = image.shape[:2]
    data = {"id": id, "image": image_url(image), "width": w, "height": h,
            "runs": rle.encode(mask) if mask is not None else None,
            "classes": [{"name": str(n), "color": [int(v) for v in c]} for n, c in zip(classes, colors)],
            "strokes": strokes, "objects": objects, "opacity": opacity, "version": version, "status": status}
    try:
        result = _component()(data=data, key=key, on_change_change=lambda: None, on_click_change=lambda: None)
    except (ValueError, RecursionError):  # JSON Streamlit could not read: nested too deep, a number of 5,000 digits
        st.warning("The editor sent a message that could not be read; nothing was saved. Draw again.")
        return None
    if not writable:
        return None  # a viewer's strokes and clicks are neither decoded nor computed: nothing would be saved
    extra = UNMARKED if strokes else None
    try:
        click = messages.click(getattr(result, "click", None), id, h, w, len(classes)) \
            if getattr(result, "click", None) is not None else None
        if click is not None:
            return click
        change = getattr(result, "change", None)
        if change is None:
            return None
        return messages.change(change, id, h, w, objects, len(classes), extra)
    except MessageError as e:  # forged or damaged: one line, never a crash
        st.warning(md(f"{e} Nothing was saved; draw again."))
        return None
