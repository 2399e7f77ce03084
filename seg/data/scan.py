"""What one pair's files hold, read once: the image's size, channels and number type, the mask's kind, histogram
and ids. `scan` never raises: a file that cannot be read is an error in the report it is given."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from seg.data.classes import ids_of
from seg.data.decoding import DECODING
from seg.data.discovery import Pair
from seg.data.display import channels_of, mode_note
from seg.data.images import header, is_lossy, load_mask, read
from seg.data.masks import histogram
from seg.data.report import Report
from seg.errors import ImageError
from seg.objects.ids import IdFacts

# bytes a pixel that checking a mask takes besides its values (ids labelled and sorted, a histogram):
# measured 38 to 53 (seg/objects/ids.py), held in `DECODING` with the mask's decoded bytes
MASK_WORK_BYTES = 48


@dataclass
class Scan:
    "What one pair's files hold, read once."

    pair: Pair
    size: tuple[int, int] = (0, 0)  # (width, height)
    channels: int = 0  # values a pixel the model may see (alpha left out)
    dtype: str = ""  # the image's number type (uint8, uint16, float32 ...)
    mode: str = ""  # Pillow's name for its layout (L, RGB, P ...), or C<n> for n channels (seg/data/images.py)
    image_note: str | None = None
    mask_kind: str = ""
    mask_lossy: bool = False
    hist: Counter = field(default_factory=Counter)
    class_pixels: list[int] = field(default_factory=list)
    ids: IdFacts | None = None  # the mask read as one id per object (seg/objects/ids.py), when it may be one
    ok: bool = True

    @property
    def pixels(self) -> int:
        return sum(self.class_pixels)


def scan(pair: Pair, report: Report, objects: bool) -> tuple[Scan, Report]:
    """`objects`: the user declared the masks instance masks (even two-valued ones are then summarised as ids).
    Each file's header is checked first; its decoded bytes (a mask's with the work of checking it) are held in
    `DECODING` until its pixels are dropped, so the threads together decode about MAX_DECODED_BYTES at most."""
    s = Scan(pair)
    try:
        with DECODING.hold(header(pair.image).nbytes):
            _image_facts(s)
    except ImageError as e:
        report.error(pair.image, e.problem, e.fix)
        s.ok = False
    try:
        h = header(pair.mask)
        with DECODING.hold(h.nbytes + MASK_WORK_BYTES * h.pixels):
            msize = _mask_facts(s, objects)
        if s.ok and msize != s.size:
            report.error(pair.mask, f"The mask is {msize[0]} x {msize[1]} but its image "
                         f"{pair.image.name} is {s.size[0]} x {s.size[1]}.",
                         "Export the mask at the image's size (masks must align pixel for pixel).")
            s.ok = False
    except ImageError as e:
        report.error(pair.mask, e.problem, e.fix)
        s.ok = False
    return s, report


def _image_facts(s: Scan) -> None:
    "The image's size, channels and note (its pixels are dropped on return)."
    a, mode = read(s.pair.image)
    s.size = (a.shape[1], a.shape[0])
    s.channels = channels_of(a, mode).shape[-1] if mode != "P" else 3
    s.dtype, s.mode = str(a.dtype), mode
    s.image_note = mode_note(a, mode)


def _mask_facts(s: Scan, objects: bool) -> tuple[int, int]:
    "The mask's kind and histogram, its ids' facts when it may hold ids; its (width, height)."
    raw = load_mask(s.pair.mask)
    s.mask_kind, s.mask_lossy = raw.kind, is_lossy(s.pair.mask)
    s.hist = histogram(raw)
    if raw.kind != "color" and (len(s.hist) > 2 or objects):  # ids, perhaps: objects per mask, sizes
        s.ids = IdFacts.of(ids_of(raw.values, regions=objects and len(s.hist) <= 2))
    return raw.values.shape[1], raw.values.shape[0]
