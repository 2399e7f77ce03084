"""Class codes: the names of the classes a mask's indices stand for, and their colours.

`codes.txt` (fastai's CamVid convention) holds one class per line, index 0 first. A line may add
the class's colour in an RGB colour-coded mask: `crack 255 0 0` or `crack #ff0000`.

A line `objects: NAME` says the masks hold one id per object (instance masks, seg/objects/ids.py) and
names the objects (`objects: nucleus`); the only other line it allows is the background's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from seg.errors import CodesError

MAX_CLASSES = 32

# Overlay colours for classes 1.. (class 0, the background, is not drawn). Chosen to stay apart
# from each other and from grey microscopy backgrounds.
PALETTE = [
    (0, 0, 0), (255, 64, 64), (64, 200, 255), (255, 210, 0), (80, 220, 100), (200, 90, 255),
    (255, 140, 0), (0, 255, 200), (255, 100, 200), (160, 255, 60), (120, 120, 255),
]


def default_color(i: int) -> tuple[int, int, int]:
    if i < len(PALETTE):
        return PALETTE[i]
    h = (i * 0.618033988749895) % 1  # golden-ratio hues for the rest
    import colorsys
    return tuple(int(c * 255) for c in colorsys.hsv_to_rgb(h, 0.8, 1.0))


@dataclass(frozen=True)
class Codes:
    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...] | None = None  # colour table of RGB masks, if given
    source: str = "inferred"  # "codes.txt", "given" or "inferred"
    objects: bool = False  # codes.txt declared the masks instance masks (`objects: NAME`)

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self):
        return iter(self.names)

    def display_color(self, i: int) -> tuple[int, int, int]:
        "The colour a class is drawn in: its own colour table entry when it has one."
        if self.colors and i < len(self.colors) and i > 0:
            return self.colors[i]
        return default_color(i)

    @classmethod
    def inferred(cls, n: int) -> Codes:
        names = ["background", "foreground"] if n <= 2 else ["background"] + [f"class {i}" for i in range(1, n)]
        return cls(tuple(names), None, "inferred")

    @classmethod
    def given(cls, names) -> Codes:
        names = [n.strip() for n in (names.split(",") if isinstance(names, str) else names)]
        names = [n for n in names if n]
        _check_names(names, "the given class names")
        return cls(tuple(names), None, "given")

    @classmethod
    def read(cls, path: Path) -> Codes:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise CodesError(f"codes.txt cannot be read ({e}).",
                             "Save it as UTF-8 text, one class name a line.") from None
        return cls.parse(text)

    @classmethod
    def parse(cls, text: str) -> Codes:
        names, colors, objects = [], [], None
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = _OBJECTS.match(line)
            if m:
                objects = m.group(1).strip() or "object"
                continue
            name, color = _parse_line(line, n)
            names.append(name)
            colors.append(color)
        if objects is not None:
            if len(names) > 1 or any(colors):
                raise CodesError(f"codes.txt declares objects ({objects}) and also the classes "
                                 f"{', '.join(names)}: one id per object allows one class of objects.",
                                 "Keep the `objects:` line and at most the background's name, or remove "
                                 "the `objects:` line to read the masks as classes.")
            names = [names[0] if names else "background", objects]
            _check_names(names, "codes.txt")
            return cls(tuple(names), None, "codes.txt", objects=True)
        _check_names(names, "codes.txt")
        given = [c is not None for c in colors]
        if any(given) and not all(given):
            raise CodesError("codes.txt gives colours for some classes but not all.",
                             "Give every class its mask colour (`name R G B`), or none.")
        return cls(tuple(names), tuple(colors) if all(given) else None, "codes.txt")


_OBJECTS = re.compile(r"^objects\s*:\s*(.*)$", re.IGNORECASE)
_COLOR = re.compile(r"^(.*?)(?:\s+(\d{1,3})[\s,]+(\d{1,3})[\s,]+(\d{1,3})|\s+#([0-9a-fA-F]{6}))$")


def _parse_line(line: str, n: int) -> tuple[str, tuple[int, int, int] | None]:
    m = _COLOR.match(line)
    if not m or not m.group(1).strip():
        return line, None
    name = m.group(1).strip()
    if m.group(5):
        h = m.group(5)
        return name, (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    rgb = tuple(int(m.group(i)) for i in (2, 3, 4))
    if max(rgb) > 255:
        raise CodesError(f"codes.txt line {n}: colour {rgb} is out of range.", "Use values 0 to 255.")
    return name, rgb


def _check_names(names: list[str], where: str) -> None:
    if len(names) < 2:
        raise CodesError(f"{where} names {len(names)} class(es); segmentation needs at least 2 "
                         "(background and one object class).",
                         "List one class per line, background first.")
    if len(names) > MAX_CLASSES:
        raise CodesError(f"{where} names {len(names)} classes, more than {MAX_CLASSES}.",
                         "Merge classes; segboard handles up to 32.")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise CodesError(f"{where} names {', '.join(dup)} more than once.", "Give every class a distinct name.")
