"""Where segboard keeps what it makes: the demo dataset, runs (`runs/`), the Predict page's predictions
(`predictions/`), the Label page's labels sets (`labels/`), each viewer's uploads (`sessions/<id>/`, removed
with the session) and the uploaded datasets a run was trained on (`datasets/`, kept: the run's validation
set lives there).

`SEGBOARD_HOME` moves it all; the default is `workspace/` in the current folder, beside the app.
Nothing here is ever written into a user's dataset folder."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from seg.data.demo import write_demo
from seg.data.discovery import MAX_FILES
from seg.util import link_or_copy


def home() -> Path:
    return Path(os.environ.get("SEGBOARD_HOME", "workspace")).expanduser().resolve()


def demo_dir() -> Path:
    return home() / "demo"


def uploads_dir() -> Path:
    "Uploads unpacked before sessions had folders of their own (kept: runs may point into them)."
    return home() / "uploads"


def sessions_dir() -> Path:
    return home() / "sessions"


def runs_dir() -> Path:
    return home() / "runs"


def datasets_dir() -> Path:
    return home() / "datasets"


def predictions_dir() -> Path:
    return home() / "predictions"


def exports_dir() -> Path:
    "Models exported for other tools (BioImage Model Zoo packages) from the Predict page."
    return home() / "exports"


def labels_dir() -> Path:
    "The labels sets (seg/labels/store.py): masks people draw, shared by everyone who uses this app."
    return home() / "labels"


def formats_file() -> Path:
    "The number formats' timings per device, backbone, size and batch (seg/training/precision.py), kept between runs."
    return home() / "cache" / "formats.json"


def lock_dir() -> Path:
    "Where the one-run-per-device locks live (`SEGBOARD_LOCK_DIR`): outside the workspace, shared by every home."
    import tempfile
    return Path(os.environ.get("SEGBOARD_LOCK_DIR") or Path(tempfile.gettempdir()) / f"segboard-{os.getuid()}")


def private_dirs() -> tuple[Path, ...]:
    """segboard's own bookkeeping, never read as a dataset through the app: every session's uploads, the runs,
    the predictions, the kept uploaded datasets and the device locks. (The app shows runs and predictions
    through their own pages; a viewer's own uploads are let in by `sharing.Access.own`.)"""
    return tuple(d.resolve() for d in (sessions_dir(), runs_dir(), predictions_dir(), datasets_dir(), uploads_dir(),
                                       lock_dir(), home() / "cache", exports_dir()))


def ensure_demo(objects: bool = False) -> Path:
    """The demo dataset, written on first use (about 5 s); a complete one is left as it is. `objects`: the
    same images with one id per cell (demo-objects/)."""
    d = demo_dir() if not objects else home() / "demo-objects"
    if not (d / "codes.txt").exists():
        write_demo(d, objects=objects)
    return d


def keep_dataset(path: Path) -> Path:
    """An uploaded dataset a run is about to train on, copied out of its session's folder into
    `datasets/` (same name: the upload's content hash), so it outlives the session. Other paths are
    returned unchanged."""
    path = Path(path).resolve()
    if sessions_dir().resolve() not in path.parents:
        return path
    dest = datasets_dir() / path.name
    if not (dest / ".complete").exists():
        tmp = dest.with_name(dest.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(path, tmp, copy_function=link_or_copy)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        (dest / ".complete").touch()
    return dest


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
