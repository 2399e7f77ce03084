"""Where segboard keeps what it makes: the demo dataset, unpacked uploads, runs
(`runs/`) and the Predict page's predictions (`predictions/`).

`SEGBOARD_HOME` moves it all; the default is `workspace/` in the current folder, beside the app.
Nothing here is ever written into a user's dataset folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .demo import write_demo
from .discovery import MAX_FILES


def home() -> Path:
    return Path(os.environ.get("SEGBOARD_HOME", "workspace")).expanduser().resolve()


def demo_dir() -> Path:
    return home() / "demo"


def uploads_dir() -> Path:
    return home() / "uploads"


def predictions_dir() -> Path:
    return home() / "predictions"


def ensure_demo() -> Path:
    "The demo dataset, written on first use (about 5 s); a complete one is left as it is."
    d = demo_dir()
    if not (d / "codes.txt").exists():
        write_demo(d)
    return d


def signature(root: Path) -> str:
    """Changes when a file under `root` is added, removed or changed; reads only names and stats, so
    it is cheap enough to check on every page view."""
    h = hashlib.sha256()
    root = Path(root).expanduser()
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        seen += len(filenames)
        if seen > MAX_FILES:  # `/` typed as the folder: discovery reports it, no need to stat it all
            break
        for f in sorted(filenames):
            try:
                st = os.stat(os.path.join(dirpath, f))
            except OSError:
                continue
            h.update(f"{dirpath}/{f}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]
