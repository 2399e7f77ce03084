"""Small helpers that several parts of segboard need, kept once: files written whole, JSON without NaN,
a training size as (height, width), the project's folder."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent  # the folder holding app.py and seg/


def atomic_write(path: Path, data: bytes | str | None = None, write=None) -> Path:
    """Write `path` under a temporary name beside it, then rename: a reader sees the old file or the whole
    new one, never half. Give `data`, or `write(tmp_path)` for writers that need a file (images, torch)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if write is not None:
            write(tmp)
        elif isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def link_or_copy(src: Path, dst: Path) -> None:
    "A hard link costs no space; a copy where links are not possible (another file system)."
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def json_safe(value):
    """NaN and infinities as null, numpy numbers as Python's, in nested dicts and lists: JSON has no NaN,
    and the browser's JSON.parse and other tools refuse it."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data, indent: int | None = 2) -> Path:
    "`data` as JSON (NaN as null), written whole."
    return atomic_write(path, json.dumps(json_safe(data), indent=indent, allow_nan=False, default=str))


def read_json(path: Path | None) -> dict:
    "A JSON object from `path`; empty when there is no such file or it is not JSON (a cache, say)."
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def remember_json(path: Path, data: dict) -> None:
    "Write a cache file whole; a cache that cannot be written is no error (it is timed again next time)."
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_json(path, data)
    except OSError:
        pass


def hw(size) -> tuple[int, int]:
    "A training size, a side or (height, width), as (height, width)."
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)



def duration(seconds: float | None) -> str:
    "A time for people: 45 s, 12 min, 2 h 5 min."
    if seconds is None:
        return "-"
    seconds = int(round(max(0, seconds)))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {round(seconds % 3600 / 60)} min"


def one_line(e: Exception) -> str:
    "An exception as one line: fastai puts the real cause on the second line of its wrapper's message."
    text = " ".join(part.strip() for part in str(e).splitlines() if part.strip())
    return f"{type(e).__name__}: {text}"[:500]
