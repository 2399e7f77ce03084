"""What the Label page keeps between its runs: the labels sets of the workspace, the image shown, the
strokes of assisted labelling and its classifier, and the version each editor started from."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import streamlit as st

from seg.errors import LabelsError
from seg.labels.assist import UNMARKED, Assistant
from seg.labels.store import LabelSet
from seg.server import workspace
from seg.server.sharing import Access
from ui import access


def sets() -> list[str]:
    "The names of the workspace's labels sets, sorted."
    d = workspace.labels_dir()
    return sorted(p.name for p in d.iterdir() if (p / "set.json").is_file()) if d.is_dir() else []


def open_set(name: str) -> LabelSet:
    return LabelSet(workspace.labels_dir() / name)


def create(name: str, classes: str, source: str, objects: bool = False) -> LabelSet:
    "A new set; the source folder typed is confined like every path the app opens. LabelsError says why not."
    access.require_writable("making a labels set")
    folder = access.allowed(source) if source.strip() else None
    if folder is not None and not folder.is_dir():
        raise LabelsError(f"{folder} is not a folder.", "Give the folder that holds the images to label.")
    names = [c.strip() for c in classes.split(",") if c.strip()]
    return LabelSet.create(workspace.labels_dir(), name.strip(), names, folder, objects)  # no folder: uploads


def create_from_form() -> None:
    """The new-set form's button (a callback: the set chooser, drawn above it, then opens the new set); what
    went wrong is kept for the page to show."""
    from seg.errors import SettingsError
    state = st.session_state
    try:
        made = create(state.get("new_set_name", ""), state.get("new_set_classes", ""), state.get("new_set_source", ""),
                      bool(state.get("new_set_objects")))
    except LabelsError as e:
        state["label_error"] = f"{e.problem} Fix: {e.fix}"
    except SettingsError as e:  # a folder outside what this viewer may read
        state["label_error"] = str(e)
    else:
        state["label_set"] = made.path.name


def editor_version(s: LabelSet, key: str) -> int:
    """A token that changes when the editor must take the stored mask anew: another image, another person's
    save, a fill accepted. This session's own saves leave it: the editor holds what it saved."""
    marks = st.session_state.setdefault("label_tokens", {})
    return marks.setdefault((str(s.path), key), 0)


def renew(s: LabelSet, key: str) -> None:
    marks = st.session_state.setdefault("label_tokens", {})
    marks[(str(s.path), key)] = marks.get((str(s.path), key), 0) + 1


def base(s: LabelSet, key: str) -> int:
    "The stored version this session's editing of an image started from (a save moves it on)."
    bases = st.session_state.setdefault("label_bases", {})
    return bases.setdefault((str(s.path), key), s.mask_version(key))


def saved(s: LabelSet, key: str, version: int) -> None:
    st.session_state.setdefault("label_bases", {})[(str(s.path), key)] = version


def strokes(s: LabelSet, key: str, shape: tuple[int, int]) -> np.ndarray:
    "This session's strokes on an image (assisted labelling), UNMARKED where none are drawn."
    kept = st.session_state.setdefault("label_kept_strokes", {})
    a = kept.get((str(s.path), key))
    return a if a is not None and a.shape == shape else np.full(shape, UNMARKED, np.uint8)


def keep_strokes(s: LabelSet, key: str, a: np.ndarray) -> None:
    st.session_state.setdefault("label_kept_strokes", {})[(str(s.path), key)] = a


def assistant(s: LabelSet) -> Assistant:
    "The set's pixel classifier in this session: it learns from every image's strokes so far."
    kept = st.session_state.setdefault("label_assistants", {})
    return kept.setdefault(str(s.path), Assistant())


def zipped(s: LabelSet) -> bytes:
    "The set in the Data page's layout (images/, masks/, codes.txt) and its records, as a zip."
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for sub in ("images", "masks", "records"):
            for f in sorted((s.path / sub).iterdir()):
                if f.is_file() and not f.is_symlink() and not f.name.startswith("."):  # the set's own files only
                    z.write(f, f"{s.path.name}/{sub}/{f.name}")
        z.write(s.path / "codes.txt", f"{s.path.name}/codes.txt")
    return buf.getvalue()


def count(mask: np.ndarray | None) -> int:
    "The objects in an id mask."
    return 0 if mask is None else int(np.count_nonzero(np.unique(mask)))


def add_window(s: LabelSet, image: Path, box) -> str:
    "The window `box` of the large image copied into the set (seg/labels/windows.py): its key. Never read-only."
    from seg.labels.windows import add_window
    access.require_writable("copying a window into a labels set")
    return add_window(s, image, box, access.access())


def window_mask(s: LabelSet, image: Path, box: tuple[int, int, int, int]) -> np.ndarray:
    """Class indices of the window `box` of the large image `image` (resolved), as drawn on the page: its mask where
    the window is in the set (seg/labels/windows.py; a set of objects: each object as its class), else nothing."""
    from seg.labels.windows import copied
    key = copied(s, image, box)
    mask = s.mask(key) if key else None
    if mask is None or mask.shape != tuple(box[2:]):
        return np.zeros(box[2:], np.uint8)
    return (mask > 0).astype(np.uint8) if s.objects else mask


def relative(s: LabelSet, image: Path) -> str:
    "An image's name as shown: its path under the set's source folder."
    src = s.source
    return str(image.relative_to(src)) if src is not None and image.is_relative_to(src) else image.name


def accept(s: LabelSet, image: Path, key: str, mask: np.ndarray) -> None:
    """A fill accepted (a button's callback): saved as assisted, then shown in the editor to correct. In a set
    of objects each connected region of the fill becomes an object (touching ones: part them in the editor)."""
    access.require_writable("saving a mask")
    if s.objects:
        from seg.labels.start import regions
        mask = regions(mask)
    out = s.save(image, mask, "assisted", access=access.access(), base=base(s, key))
    saved(s, key, out.version)
    renew(s, key)
    st.session_state.pop("label_fill", None)
    st.session_state["label_mode"] = "Draw"
    if out.warning:
        st.session_state["label_warning"] = out.warning


def models_for(s: LabelSet) -> list:
    "Trained runs whose masks have the set's number of classes, newest first."
    from seg.labels.start import fits
    from ui.training import trained_runs
    out = []
    for run in trained_runs():
        try:
            if fits(run.config(), s.classes):
                out.append(run)
        except (OSError, ValueError):  # a run without its config yet
            continue
    return out


def start_from(s: LabelSet, key: str, run, path: Path) -> None:
    """The run's prediction of the image at `path` (read as the run's model takes it: its channels), to correct:
    the editor takes it (saved only once changed)."""
    from seg.labels.start import predicted
    from ui.predictions import model
    access.require_writable("predicting an image")
    m = model(run)
    image = m.input.load(s.readable(path, access.access()))  # checked again as it is read
    st.session_state.setdefault("label_start", {})[(str(s.path), key)] = \
        (run.name, predicted(m, image, objects=s.objects))
    renew(s, key)


def started(s: LabelSet, key: str):
    "(run name, predicted mask) this image was started from and not saved yet, or None."
    return st.session_state.get("label_start", {}).get((str(s.path), key))


def start_saved(s: LabelSet, key: str) -> None:
    st.session_state.get("label_start", {}).pop((str(s.path), key), None)


def with_object(image: np.ndarray, mask: np.ndarray | None, click, objects: bool = False) -> np.ndarray:
    """`mask` (zeros if none) with the object under the Object tool's click set to the click's class. In a
    set of `objects` the region becomes a new object where it covers the background (the objects drawn
    around it keep their pixels), or with the background class, the object clicked is removed."""
    from seg.labels.assist import region_at
    out = np.zeros(image.shape[:2], np.uint16 if objects else np.uint8) if mask is None else mask.copy()
    if objects and click.value == 0:
        if out[click.y, click.x]:
            out[out == out[click.y, click.x]] = 0
        return out
    region = region_at(image, (click.y, click.x))
    if objects:
        out[region & (out == 0)] = min(int(out.max()) + 1, 65535)
    else:
        out[region] = click.value
    return out


def correctable(run):
    "Whether an image (its path) is one of the run's dataset's: its mask can be corrected and trained on."
    root = Path(run.config().get("dataset", {}).get("root", "") or "/nonexistent").resolve()
    return lambda image: root.is_dir() and Path(image).resolve().is_relative_to(root)


def correct(run, image: str) -> None:
    """Open an image of the run's dataset on the Label page, started from the run's prediction: in the labels
    set tied to that dataset (`<dataset>-corrections`, `-2` ... where another folder of that name has one;
    made on first use with the run's classes)."""
    import re

    from seg.labels.start import mask_classes
    from seg.labels.store import key_of
    access.require_writable("correcting a prediction")
    cfg = run.config()
    root = Path(cfg["dataset"]["root"]).resolve()
    base = re.sub(r"[^\w .-]", "-", f"{root.name}-corrections")[:60].lstrip(".- ") or "corrections"
    for n in range(1, 1000):  # the set of this folder; another folder of the same name has a set of its own
        path = workspace.labels_dir() / (base if n == 1 else f"{base}-{n}")
        if not (path / "set.json").is_file():
            s = LabelSet.create(workspace.labels_dir(), path.name, mask_classes(cfg), root,
                                objects=bool(cfg.get("objects")))
            break
        s = LabelSet(path)
        if s.source is not None and s.source.resolve() == root:
            break
    else:
        raise LabelsError(f"No labels set could be made for {root.name}'s corrections.",
                          "Delete old corrections sets under the workspace's labels/.")
    sources = s.sources(access.access())
    key = key_of(Path(image).resolve(), s.source)
    at = next((i for i, f in enumerate(sources) if key_of(f.resolve(), s.source) == key), 0)
    st.session_state["label_set"] = s.path.name
    st.session_state[f"label_at:{s.path.name}"] = at
    st.session_state["label_mode"] = "Draw"
    start_from(s, key, run, Path(image))


def corrections(s: LabelSet) -> dict[str, int]:
    "The runs this set's masks were corrected from, with how many masks each (their latest save)."
    out: dict[str, int] = {}
    for key in s.labelled():
        if run := s.corrected_from(key):
            out[run] = out.get(run, 0) + 1
    return out


def retrain(s: LabelSet, run_name: str, minutes: float):
    """A run from `run_name`'s weights on its dataset with the set's corrections (seg/labels/corrections.py),
    planned for `minutes` without trials, started as the Train page starts runs (its settings:
    `retrain_settings`); the dataset is written once per version of the set, under datasets/."""
    from seg import runs
    from seg.labels.corrections import for_run, retrain_settings
    from ui.state import DataChoice
    from ui.training import device, start_run
    access.require_writable("training")
    run = runs.Run(runs.runs_dir() / run_name)
    out = workspace.datasets_dir() / f"{s.path.name}-v{s.version}"
    if not out.exists():
        for_run(run.path, s, out, access.access())
    data, train = retrain_settings(run.config())
    new = start_run(DataChoice(out, "folder"), data, train, device().kind, trials=False, minutes=minutes,
                    from_run=run.path)
    st.session_state["label_retrained"] = {"set": s.path.name, "before": run_name, "after": new.name,
                                           "data": str(out)}
    return new


@st.cache_data(max_entries=4, show_spinner="Scoring both models on the images nobody corrected ...")
def before_after(before: str, after: str, data: str) -> dict:
    from seg.labels.corrections import before_after as compare
    return compare(Path(before), Path(after), Path(data))


@st.cache_data(max_entries=4, show_spinner="Ranking the images by the model's uncertainty ...")
def _queue(set_path: str, version: int, run_path: str, stamp: int, _access: Access, readable: str
           ) -> list[tuple[str, float]]:
    from seg.labels.queue import images_of, rank
    ranked, _ = rank(Path(run_path), images_of(Path(set_path), _access))
    return [(r.image, r.uncertainty) for r in ranked]


def queue(s: LabelSet, run) -> list[tuple[str, float]]:
    """The set's images without a mask that this viewer may read, the model's least sure first: (image path,
    uncertainty 0 to 1). It computes: a read-only app refuses it."""
    access.require_writable("ranking images by a model")
    weights = run.weights("best") or run.weights("last")
    mine = access.access()
    return _queue(str(s.path), s.version, str(run.path), weights.stat().st_mtime_ns if weights else 0, mine,
                  repr(mine))
