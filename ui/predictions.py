"""Models and predictions for the Predict page: a run's model loaded once per weights file, a prediction
made into its own folder under predictions/, and the predictions anyone made, read back."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from seg import runs
from seg.server import workspace
from ui.access import access, allowed, require_writable


@st.cache_resource(max_entries=2, show_spinner="Loading the model ...")
def _model(path: str, weights: str, stamp: int):
    from seg.prediction.model import Model
    return Model.load(path)


def model(run: runs.Run):
    "The run's model, loaded again only when its weights file changes (a run still training)."
    weights = run.weights("best") or run.weights("last")
    return _model(str(run.path), str(weights), weights.stat().st_mtime_ns)


def _new(parent: Path, name: str) -> Path:
    "parent/TIME-name, a folder not there yet: two made in the same second keep both (~2, ~3, ...)."
    out = parent / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    n = 1
    while out.exists():
        n += 1
        out = out.with_name(f"{out.name.rsplit('~', 1)[0]}~{n}")
    return out


def predict(run: runs.Run, what: str, folder: str, progress) -> Path:
    """Predict the run's validation set ("valid") or a folder into a new folder under predictions/,
    measuring every object and writing them for Fiji, QuPath and napari; returns that folder."""
    from seg.prediction.output import predict as run_prediction
    from seg.prediction.output import validation
    require_writable("predicting")
    source = validation(run) if what == "valid" else allowed(folder)
    out = _new(workspace.predictions_dir(), run.name)
    run_prediction(run.path, source, out, measure_objects=True, rois=True, model=model(run), progress=progress,
                   access=access())
    return out


def model_bundle(run: runs.Run) -> bytes:
    """The Predict page's model bundle (seg/prediction/bundle.py), made when its download is clicked: not in a
    read-only app (the page disables the button; this refuses a click forged past it)."""
    from seg.prediction.bundle import bundle
    require_writable("making a model bundle (a fastai export and an ONNX conversion on the server)")
    return bundle(run.path)


def export(run: runs.Run, name: str) -> dict:
    """The run's model in the format `name` (seg/prediction/exports.py), checked, in a new folder under exports/;
    returns the writer's result (its "folder" and the check's outcome)."""
    from seg.errors import PredictError
    from seg.prediction.exports import FORMATS
    from seg.util import one_line
    require_writable("exporting a model (it converts and tests it on the server)")
    out = _new(workspace.exports_dir(), f"{run.name}-{name}")
    try:
        return FORMATS[name].write(run.path, out)
    except PredictError:
        raise
    except Exception as e:  # a converter's or the checker's own failure: said on the page, the app goes on
        kept = f" The files written so far are in {out}." if out.is_dir() and any(out.iterdir()) else ""
        raise PredictError(f"The export of {run.name} failed: {one_line(e)}.{kept}") from e


def export_zip(folder: str) -> bytes:
    from seg.prediction.exports import zip_folder
    return zip_folder(Path(folder))


def predictions(run: runs.Run) -> list[Path]:
    "The run's predictions under predictions/, newest first: made in any session, by anyone."
    from seg.prediction.folder import list_predictions
    return list_predictions(workspace.predictions_dir(), run.path)


def read_prediction(path: Path):
    from seg.prediction.folder import Prediction
    return Prediction(path)


@st.cache_data(max_entries=8, show_spinner=False)
def measurements(path: str, pixel_size: float | None, unit: str):
    "The prediction's objects with sizes in the unit chosen (in pixels for no pixel size)."
    from seg.prediction.folder import Prediction
    from seg.prediction.measure import in_units
    table = Prediction(path).measurements()
    return None if table is None else in_units(table, pixel_size, unit)


def output_file(pred, name: str) -> Path:
    """A file a prediction folder's prediction.json names (masks/NAME.tif), confined to that folder: AccessError for
    a name that leads out of it (prediction.json is a file on disk; its names are not trusted)."""
    from seg.errors import AccessError
    folder = Path(pred.path).resolve()
    path = (folder / str(name)).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        raise AccessError(f"{name} is not a file of the prediction {folder.name}.")
    return path


def mask_window(mask: Path, box):
    "Class indices of a box of a large prediction's tiled mask (only its tiles decoded)."
    from seg.data.large import Large
    return Large.open(mask).region(*box)


def overlay(pred):
    "The prediction's classes drawn over an image in their colours."
    from seg.data.codes import Codes
    from seg.data.overlay import Overlay
    return Overlay(Codes.given(pred.codes), 0.55)
