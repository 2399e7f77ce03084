"""How a TIFF lays out its values: which axis holds the channels (named or guessed), whether the last channel is
alpha, what Pillow would call the layout, and an OME-TIFF's channel names. Read from the header alone;
seg/data/images.py decodes, seg/data/stacks.py finds stacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from seg.errors import ImageError

# The most channels one image may have (fluorescence panels reach 8 to 12; a TIFF with more unnamed planes is a
# stack). docs/data.md quotes it.
MAX_CHANNELS = 16


def layout(axes: str, shape: tuple) -> tuple[tuple[int, ...], int | None]:
    """The first series' shape as (H, W) or (H, W, C) once its length-1 axes are dropped, and where its channel
    axis lies in the squeezed shape (None: one channel). Named axes are followed: S (samples) and C (channels)
    are channels; Z and T make a stack, refused. Unnamed ones (tifffile's Q or I: a plain array was saved) are
    guessed: a third axis of at most MAX_CHANNELS values is channels, the last one when it is small (as
    numpy's (H, W, C)), else the first (planar); a third of more than MAX_CHANNELS values is a stack."""
    kept = [(a, int(n)) for a, n in zip(axes, shape) if n != 1]
    shape, axes = tuple(n for _, n in kept), "".join(a for a, _ in kept)
    if len(shape) == 2:
        return shape, None
    if len(shape) != 3:
        raise ImageError(f"The TIFF has shape {shape} (axes {axes}), not a 2-D image of one or more channels.",
                         "Save one 2-D image per file, its channels in it (axes YX, CYX or YXC).")
    named = [i for i, a in enumerate(axes) if a in "SC"]
    if len(named) == 1 and shape[named[0]] > MAX_CHANNELS:
        raise ImageError(f"The TIFF has {shape[named[0]]} channels (shape {shape}, axes {axes}): more than the "
                         f"{MAX_CHANNELS} an image may have.", f"Save at most {MAX_CHANNELS} channels per file.")
    if len(named) == 1:
        return shape, named[0]
    if any(a in "ZT" for a in axes):
        raise ImageError(f"The TIFF is a stack of {shape} values (axes {axes}), not one 2-D image.",
                         "Save one 2-D image per file (ImageJ: Image > Stacks > Stack to Images).")
    first, last = shape[0] <= MAX_CHANNELS, shape[-1] <= MAX_CHANNELS
    if last and (shape[-1] <= 4 or not first):
        return shape, 2
    if first:
        return shape, 0
    raise ImageError(f"The TIFF has {shape} values: a stack, or more than {MAX_CHANNELS} channels, not one image.",
                     f"Save one 2-D image per file of at most {MAX_CHANNELS} channels.")


def alpha(series) -> bool:
    "Whether the last sample is alpha, as the TIFF's ExtraSamples tag says (only then: never guessed)."
    extra = getattr(series.keyframe, "extrasamples", ()) or ()
    return bool(extra) and int(extra[-1]) in (1, 2)  # associated or unassociated alpha


def channel_names(path: Path) -> list[str]:
    "The channels' names an OME-TIFF gives (OME-XML's Channel Name), or []."
    import xml.etree.ElementTree as ET
    try:
        with tifffile.TiffFile(path) as tif:
            xml = tif.ome_metadata if tif.is_ome else None
        if not xml:
            return []
        root = ET.fromstring(xml)
    except (tifffile.TiffFileError, ET.ParseError, OSError, ValueError):
        return []
    image = next((el for el in root.iter() if el.tag.endswith("}Image") or el.tag == "Image"), None)
    channels = [el for el in (image.iter() if image is not None else []) if el.tag.endswith("Channel")]
    return [str(el.get("Name") or "") for el in channels]


def mode(a: np.ndarray, alpha: bool, rgb: bool = False) -> str:
    """Pillow's name for the layout where one fits (L, LA, RGB, RGBA: any depth, which the array holds), else
    `C<n>` for n channels each as much the image as the others (fluorescence): never gray + alpha unless the
    file says alpha; three channels are RGB when the file says so or they are 8-bit."""
    n = 1 if a.ndim == 2 else a.shape[-1]
    if n == 1:
        return "L"
    if alpha and n in (2, 4):
        return {2: "LA", 4: "RGBA"}[n]
    if n == 3 and (rgb or a.dtype == np.uint8):
        return "RGB"
    return f"C{n}"
