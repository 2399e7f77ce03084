"""The mask editor's messages from the browser, checked before anything is decoded or computed.

A message is untrusted input: any client that holds the link can send any JSON through Streamlit's
WebSocket, whatever editor.js would send. `change` and `click` turn one into a checked record or raise
`MessageError` with one line to show; nothing else can come out of them (no OverflowError, no MemoryError,
no array allocated from a number the message gave). Limits: what the image shown allows, and
MAX_MESSAGE_ITEMS items in all."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seg.labels import rle

# A mask of the largest image the editor shows, as runs, is at most 2 items a pixel; one of 50 M pixels
# changed pixel by pixel would already be 100 M Python ints (GBs): no drawing makes that, so more is refused.
MAX_MESSAGE_ITEMS = 20_000_000


class MessageError(ValueError):
    "A message the editor would never send (damaged, or forged): one line saying what was wrong."


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


def _whole(v, what: str) -> int:
    "A whole number from JSON: an int, or a float with no fraction (JavaScript has one number type)."
    if type(v) is int:
        return v
    if type(v) is float and math.isfinite(v) and v.is_integer():
        return int(v)
    raise MessageError(f"The editor's {what} is not a whole number.")


def change(message, id: str, height: int, width: int, objects: bool, values: int, extra: int | None = None
           ) -> Change | None:
    """The whole mask of a `change` message for image `id` (`height` x `width`), or None when the message
    is about another image (an earlier one, still in flight). Values: below `values` (the classes), or any
    uint16 id for `objects`; `extra`: one more value allowed (the strokes' UNMARKED)."""
    if not isinstance(message, dict):
        raise MessageError("The editor's message is not an object.")
    if message.get("id") != id:
        return None
    if (message.get("width"), message.get("height")) != (width, height):
        raise MessageError(f"The editor sent a mask of another size than the image's ({width} x {height} px).")
    runs = message.get("runs")
    if not isinstance(runs, list) or len(runs) > MAX_MESSAGE_ITEMS:
        raise MessageError("The editor's mask is not a list of runs of a size the image allows.")
    dtype = np.uint16 if objects else np.uint8
    try:
        if extra is None:
            mask = rle.decode(runs, height, width, dtype, values=None if objects else values)
        else:
            mask = rle.decode(runs, height, width, dtype)
            if ((mask >= values) & (mask != extra)).any():
                raise rle.RLEError(f"A value outside 0 to {values - 1}.")
    except rle.RLEError as e:
        raise MessageError(f"The editor's mask was refused: {e}") from None
    return Change(id, mask)


def click(message, id: str, height: int, width: int, values: int) -> Click | None:
    """The Object tool's click on image `id`, or None when it is about another image: x and y whole numbers
    inside the image, the class value below `values`."""
    if not isinstance(message, dict):
        raise MessageError("The editor's message is not an object.")
    if message.get("id") != id:
        return None
    x, y, value = (_whole(message.get(k), k) for k in ("x", "y", "value"))
    if not (0 <= x < width and 0 <= y < height):
        raise MessageError(f"The click is outside the image ({width} x {height} px).")  # never echo a number sent
    if not 0 <= value < values:
        raise MessageError(f"The click's class is not one of the {values} classes.")
    return Click(id, x, y, value)
