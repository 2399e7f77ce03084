"""A viewer's private scratch folder: where one session's uploads are unpacked, out of the sight of
every other session, and removed when the session ends.

A session's end is not announced reliably (a closed laptop, a killed server), so two ways remove it:
the folder goes when its `Scratch` object is garbage collected (the app keeps it in the session's
state, which the server drops when the session ends), and `sweep` removes the folders whose owner
has not touched them for `STALE_S` (a connected app touches its folder every few seconds)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
import weakref
from pathlib import Path

STALE_S = 15 * 60  # no sign of life for this long: the session is gone
ALIVE = ".alive"


class Scratch:
    def __init__(self, root: Path):
        self.path = Path(root) / uuid.uuid4().hex
        self.path.mkdir(parents=True)
        self.touch()
        self._remove = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def touch(self) -> None:
        "A sign of life, so `sweep` leaves the folder alone."
        try:
            (self.path / ALIVE).touch()
        except OSError:  # removed under us (a sweep after a long sleep): start afresh
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / ALIVE).touch()

    def remove(self) -> None:
        self._remove()

    def __deepcopy__(self, memo):  # Streamlit copies session state in some paths; one owner only
        return self

    def __reduce__(self):
        raise TypeError("a session's scratch folder is not pickled")


def sweep(root: Path, stale_s: float = STALE_S) -> list[Path]:
    "Remove the scratch folders under `root` whose owner has not touched them for `stale_s`."
    removed = []
    if not Path(root).is_dir():
        return removed
    now = time.time()
    for d in Path(root).iterdir():
        alive = d / ALIVE
        try:
            stamp = os.stat(alive).st_mtime if alive.exists() else os.stat(d).st_mtime
        except OSError:
            continue
        if d.is_dir() and now - stamp > stale_s:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed
