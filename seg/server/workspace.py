"""Where segboard keeps what it makes: the demo dataset, runs (`runs/`), the Predict page's predictions
(`predictions/`), the Label page's labels sets (`labels/`), each viewer's uploads (`sessions/<id>/`, removed
with the session) and the uploaded datasets a run was trained on (`datasets/`, kept: the run's validation
set lives there).

`SEGBOARD_HOME` moves it all; the default is `workspace/` in the current folder, beside the app.
Nothing here is ever written into a user's dataset folder.

Below seg.data in the layers (tests/test_layers.py): this module says where things are kept, seg/server/sharing.py
who may read them, and seg.data reads datasets through that `Access` (every reading function takes one). Writing
the demo (`seg.data.demo.ensure_demo`) and a dataset folder's signature (`seg.data.discovery.signature`) are
data's, so server imports nothing from data. (The other way round, server above data with a Protocol standing
in for Access in data, would repeat Access's interface in data and still leave the demo in server.)"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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


def cache_dir() -> Path:
    """What segboard keeps to save time and can make again (formats.json, runtimes/): `SEGBOARD_CACHE` moves it
    (a home on a network drive with the cache on a local disk, or several homes sharing one: every entry is keyed
    by what it was made from); the default is `cache/` in the home."""
    return Path(os.environ.get("SEGBOARD_CACHE") or home() / "cache").expanduser().resolve()


def formats_file() -> Path:
    """The number formats' timings per device, backbone, size and batch (seg/training/format_choice.py), kept
    between runs."""
    return cache_dir() / "formats.json"


def runtimes_dir() -> Path:
    """Models prepared for a faster runtime (seg/prediction/runtimes.py: an INT8 one takes seconds to quantise),
    one file per weights (by their content), kept between predictions."""
    return cache_dir() / "runtimes"


def lock_dir() -> Path:
    "Where the one-run-per-device locks live (`SEGBOARD_LOCK_DIR`): outside the workspace, shared by every home."
    import tempfile
    return Path(os.environ.get("SEGBOARD_LOCK_DIR") or Path(tempfile.gettempdir()) / f"segboard-{os.getuid()}")


def private_dirs() -> tuple[Path, ...]:
    """segboard's own bookkeeping, never read as a dataset through the app: every session's uploads, the runs,
    the predictions, the kept uploaded datasets, the device locks and the cache (where `SEGBOARD_CACHE` puts it,
    and the home's, which may hold one from before). (The app shows runs and predictions through their own pages;
    a viewer's own uploads are let in by `sharing.Access.own`.)"""
    return tuple(d.resolve() for d in (sessions_dir(), runs_dir(), predictions_dir(), datasets_dir(), uploads_dir(),
                                       lock_dir(), cache_dir(), home() / "cache", exports_dir()))


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
