"""What the pages share: cached calls into `seg` and the state that one page hands to the next.

State in one place: `st.session_state["data"]` is the dataset the user chose on the Data page, with
the training data settings; the Train page reads it from here.
"""

from __future__ import annotations

import runpy
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import streamlit as st

from seg import Dataset, Pair, runs, workspace
from seg.device import Device, detect
from seg.learner import choose_pretrained
from seg.overlay import fit
from seg.scratch import Scratch, sweep
from seg.settings import DataSettings, TrainSettings
from seg.sharing import AccessError, Sharing

_frame = threading.local()  # per script thread: did app.py start this run?
LR_FIND_ITERATIONS = 60  # fastai's 100 take minutes on a CPU; 60 still give the valley


def frame(ran: bool) -> None:
    "app.py marks the runs it starts, so a page can tell when Streamlit ran it alone."
    _frame.ran = ran


def require_frame() -> None:
    """A link to a page (/train?run=...) opened first after the server starts makes Streamlit run the page
    file on its own, in its older pages/-folder mode: no frame, no sidebar, for every session after (and
    Streamlit's AppTest starts every run so). Switch the server to `st.navigation` (the flag Streamlit
    itself clears when st.navigation is called), run the frame now, which runs this page inside it with
    this run's clicks, and end the frameless run."""
    if getattr(_frame, "ran", False):
        return
    from streamlit.runtime.pages_manager import PagesManager
    PagesManager.uses_pages_directory = False
    runpy.run_path(str(Path(__file__).resolve().parent.parent / "app.py"), run_name="__main__")
    st.stop()


# ---- sharing: password, read-only mode, allowed folders, private uploads -----------------------------

def _secrets() -> dict:
    "The sharing keys of .streamlit/secrets.toml; none when there is no such file."
    from streamlit.errors import StreamlitSecretNotFoundError
    try:
        return {k: st.secrets[k] for k in ("password", "read_only", "roots") if k in st.secrets}
    except StreamlitSecretNotFoundError as e:
        if any(Path(f).expanduser().exists() for f in st.get_option("secrets.files")):
            # a secrets file that does not parse may hold a password: refuse rather than share unguarded
            raise AccessError(f"The app's secrets file could not be read, so the app stays closed: {e}") from None
        return {}


def sharing() -> Sharing:
    return Sharing.configured(_secrets())


def signed_in() -> bool:
    "True when no password is set or this session gave it."
    try:
        password = sharing().password
    except AccessError as e:
        st.error(str(e))
        st.stop()
    return not password or st.session_state.get("signed_in", False)


def sign_in() -> None:
    "The password form: the only thing a visitor sees before giving the password."
    import time
    st.title("segboard")
    with st.form("sign_in"):
        typed = st.text_input("Password", type="password", key="password_typed")
        if st.form_submit_button("Sign in", type="primary"):
            if sharing().check_password(typed):
                st.session_state["signed_in"] = True
                st.session_state.pop("password_typed", None)
                st.rerun()
            time.sleep(1)  # a guesser gets one try a second per session
            st.error("Wrong password. Ask whoever shared the link.")


def read_only() -> bool:
    return sharing().read_only


def allowed(typed: str) -> Path:
    """A folder or file path typed into the app (quotes from "Copy as path" removed), resolved and
    checked against the allowed folders; AccessError names them."""
    path = sharing().confine(typed.strip().strip("\"'"))
    sessions = workspace.sessions_dir().resolve()
    own = st.session_state.get("scratch")
    if (path == sessions or sessions in path.parents) and not (own and (path == own.path or own.path in path.parents)):
        raise AccessError(f"{typed} holds other people's uploads, private to their sessions.")
    return path


def scratch() -> Scratch:
    "This session's private folder for uploads; removed when the session ends (seg/scratch.py)."
    folder = st.session_state.get("scratch")
    if folder is None or not folder.path.exists():
        sweep(workspace.sessions_dir())  # folders of sessions long gone
        folder = st.session_state["scratch"] = Scratch(workspace.sessions_dir())
    return folder


def alive() -> None:
    "Called every few seconds while the browser is connected: keeps this session's uploads."
    folder = st.session_state.get("scratch")
    if folder is not None:
        folder.touch()


@dataclass
class DataChoice:
    "The dataset chosen on the Data page and how training will read it."

    path: Path
    source: str  # "demo", "folder" or "upload"
    codes: str = ""  # class names typed by the user, comma-separated; "" = from codes.txt or the masks
    settings: DataSettings = field(default_factory=DataSettings)

    @property
    def name(self) -> str:
        return "demo dataset" if self.source == "demo" else self.path.name


def chosen_dataset() -> DataChoice | None:
    return st.session_state.get("data")


def linked_folder() -> str:
    "The folder named in the page's address (`?data=/path`): survives a refresh, travels in a link."
    return st.query_params.get("data", "")


def link_folder(path: Path | None) -> None:
    if path is None:
        st.query_params.pop("data", None)
    elif st.query_params.get("data") != str(path):
        st.query_params["data"] = str(path)


def choose(choice: DataChoice | None) -> None:
    "Hand the dataset to the other pages (None: no usable dataset); redraw the frame when it changed."
    if st.session_state.get("data") != choice:
        st.session_state["data"] = choice
        st.rerun()


@st.cache_resource(show_spinner=False)
def device() -> Device:
    return detect()


def device_label() -> str:
    return device().label


def device_text(d: dict) -> str:
    "A run's recorded device, as the sidebar writes this machine's."
    return Device(d["kind"], d["name"], d.get("memory_gb"), d.get("threads")).label


def train_settings() -> TrainSettings:
    "The Train page's settings, kept across page switches (Streamlit drops the state of unseen widgets)."
    return st.session_state.get("train", TrainSettings())


@st.fragment(run_every=3)
def training_caption() -> None:
    "The sidebar's word on the device, refreshed on its own: a run may start or end on any page."
    now = runs.training_now(device().kind)
    st.caption(f"Training: {Path(now).name}" if now else "Training: nothing")
    alive()


def keep_settings(data: DataSettings, train: TrainSettings) -> None:
    "Settings changed on the Train page go back to the one place each lives."
    choice = chosen_dataset()
    if choice and choice.settings != data:
        choice.settings = data
    st.session_state["train"] = train


def widget_defaults(values: dict) -> None:
    "Start each widget from `values` unless it already holds the user's choice."
    for key, value in values.items():
        if key not in st.session_state:
            st.session_state[key] = value


LRS = [float(f"{m}e{e}") for e in range(-6, 0) for m in (1, 2, 5)]  # the learning-rate slider's steps


def nearest_lr(value: float) -> float:
    from math import log10
    return min(LRS, key=lambda s: abs(log10(s) - log10(value)))


def pretrained_note(settings: TrainSettings) -> str:
    return choose_pretrained(settings).message


def find_lr(choice: DataChoice, data: DataSettings, train: TrainSettings) -> dict:
    from seg.training import find_lr as run_finder
    sharing().require_writable("the learning-rate finder")
    return run_finder(choice.path, data, train, codes=choice.codes or None, num_it=LR_FIND_ITERATIONS)


def take_lr(value: float) -> None:
    "The learning-rate slider's value becomes the nearest of its steps to the finder's suggestion."
    st.session_state["lr"] = nearest_lr(value)


# ---- the planner ------------------------------------------------------------------------------------

PLANNED = {"epochs": "epochs", "lr": "lr", "train_size": "size", "train_bs": "bs", "loss": "loss",
           "train_augment": "augment"}  # Train page widget -> the plan's field


@st.cache_resource(max_entries=8, show_spinner="Timing a few batches on this device ...")
def _pace(path: str, codes: str, signature: str, arch: str, valid_pct: float, seed: int) -> float:
    from seg.planner import measure_pace
    return measure_pace(_open(path, codes, signature), device(), arch, valid_pct, seed)


@st.cache_data(max_entries=32, show_spinner="Planning ...")
def _plan(path: str, codes: str, signature: str, budget: str, arch: str, pretrained: bool, weights: str,
          valid_pct: float, seed: int):
    from seg.planner import BUDGETS, plan
    pace = _pace(path, codes, signature, arch, valid_pct, seed)
    settings = TrainSettings(arch=arch, pretrained=pretrained, weights=weights or None)
    return plan(_open(path, codes, signature), BUDGETS[budget], device(), settings, valid_pct, seed, pace=pace)


def plan(choice: DataChoice, budget: str, train: TrainSettings, valid_pct: float):
    "The planner's settings for `budget` (a key of planner.BUDGETS), this dataset and this device."
    return _plan(str(choice.path), choice.codes, workspace.signature(choice.path), budget, train.arch,
                 train.pretrained, train.weights or "", valid_pct, choice.settings.seed)


def apply_plan(plan) -> None:
    "Put the plan's values in the Train page's widgets (before they are drawn)."
    for key, name in PLANNED.items():
        value = getattr(plan, name)
        st.session_state[key] = max(value) if name == "size" else nearest_lr(value) if name == "lr" else value


def to_manual() -> None:
    "A setting moved by hand: the plan no longer holds."
    st.session_state["budget"] = "manual"


def start_run(choice: DataChoice, data: DataSettings, train: TrainSettings, device_kind: str,
              plan=None) -> runs.Run:
    """Start `python -m seg train` in its own process with these settings; the run folder is under runs/.
    An uploaded dataset is kept first (it would go with the session; the run needs its validation set)."""
    sharing().require_writable("training")
    if train.weights:
        train = replace(train, weights=str(allowed(train.weights)))
    path = workspace.keep_dataset(choice.path) if choice.source == "upload" else choice.path
    h, w = data.hw
    options = ["--epochs", train.epochs, "--lr", train.lr, "--bs", data.bs, "--size", h, w, "--arch", train.arch,
               "--pretrained" if train.pretrained else "--no-pretrained", "--valid-pct", data.valid_pct,
               "--seed", data.seed, "--augment" if data.augment else "--no-augment", "--loss", train.loss]
    if train.weights:
        options += ["--weights", train.weights]
    if train.find_lr:
        options += ["--find-lr"]
    if plan is not None:
        import json
        options += ["--plan", json.dumps(plan.to_json())]
    if choice.codes:
        options += ["--codes", choice.codes]
    run_dir = runs.runs_dir() / runs.new_name(choice.path if choice.source != "demo" else Path("demo"))
    return runs.start(path, run_dir, [str(o) for o in options], device_kind)


def stop_run(run: runs.Run) -> None:
    sharing().require_writable("stopping a run")
    run.request_stop()


def run_history() -> list[runs.Run]:
    "Every run under runs/, newest first (each read in full: a few ms for a run of thousands of batches)."
    return runs.list_runs()


def watched(name: str) -> runs.Run:
    "The run this session watches, kept so each refresh reads only the events written since the last."
    run = st.session_state.get("watched")
    if run is None or run.name != name:
        run = st.session_state["watched"] = runs.Run(runs.runs_dir() / name)
    return run


@st.cache_resource(show_spinner="Writing the demo dataset ...")
def demo_path() -> Path:
    return workspace.ensure_demo()


@st.cache_resource(max_entries=8, show_spinner="Reading and checking every file ...")
def _open(path: str, codes: str, signature: str) -> Dataset:
    return Dataset.open(path, codes=codes or None)


def open_dataset(path: Path, codes: str = "") -> Dataset:
    "The dataset, read once and again only when a file under it changes."
    return _open(str(path), codes, workspace.signature(path))


@st.cache_data(max_entries=4000, show_spinner=False)
def _thumbnail(_dataset: Dataset, _pair: Pair, key: str, side: int):
    return fit(*_dataset.read(_pair), side)


def thumbnail(dataset: Dataset, pair: Pair, side: int):
    """An image and its class-index mask shrunk to `side`. Cached by file, modification time and
    mask encoding, so paging back is instant and an edited file is read again."""
    stamp = "|".join(f"{f}:{f.stat().st_mtime_ns}" for f in (pair.image, pair.mask))
    return _thumbnail(dataset, pair, f"{stamp}|{dataset.encoding.to_json()}", side)


# ---- Predict page -----------------------------------------------------------------------------------

def trained_runs() -> list[runs.Run]:
    "Runs that have weights to predict with, newest first; finished ones before a run still training."
    have = [r for r in run_history() if r.weights("best") or r.weights("last")]
    return sorted(have, key=lambda r: r.status().active)  # stable: newest first within each group


@st.cache_resource(max_entries=2, show_spinner="Loading the model ...")
def _model(path: str, weights: str, stamp: int):
    from seg.inference import Model
    return Model.load(path)


def model(run: runs.Run):
    "The run's model, loaded again only when its weights file changes (a run still training)."
    weights = run.weights("best") or run.weights("last")
    return _model(str(run.path), str(weights), weights.stat().st_mtime_ns)


def save_uploads(files) -> Path:
    "Images uploaded in the browser, in a folder of their own under the workspace."
    from seg.uploads import save_images
    sharing().require_writable("uploading")
    return save_images([(f.name, f.getvalue()) for f in files], scratch().path)


def unpack(upload) -> Path:
    "A zipped dataset uploaded in the browser, unpacked into this session's folder."
    from seg.uploads import extract_zip
    sharing().require_writable("uploading")
    return extract_zip(upload, scratch().path)


def predict(run: runs.Run, what: str, folder: str, progress) -> Path:
    """Predict the run's validation set ("valid") or a folder into a new folder under predictions/,
    measuring every object; returns that folder."""
    import time

    from seg.prediction import predict as run_prediction
    from seg.prediction import validation
    sharing().require_writable("predicting")
    source = validation(run) if what == "valid" else allowed(folder)
    out = workspace.predictions_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{run.name}"
    n = 1
    while out.exists():  # two predictions in the same second keep both
        n += 1
        out = out.with_name(f"{out.name.rsplit('~', 1)[0]}~{n}")
    run_prediction(run.path, source, out, measure_objects=True, model=model(run), progress=progress)
    return out


def predictions(run: runs.Run) -> list[Path]:
    "The run's predictions under predictions/, newest first: made in any session, by anyone."
    from seg.prediction import list_predictions
    return list_predictions(workspace.predictions_dir(), run.path)


def read_prediction(path: Path):
    from seg.prediction import Prediction
    return Prediction(path)


@st.cache_data(max_entries=8, show_spinner=False)
def measurements(path: str, pixel_size: float | None, unit: str):
    "The prediction's objects with sizes in the unit chosen (in pixels for no pixel size)."
    from seg.measure import in_units
    from seg.prediction import Prediction
    table = Prediction(path).measurements()
    return None if table is None else in_units(table, pixel_size, unit)


def score(value) -> str:
    "A score for a metric: three decimals, or a dash where there is none (a class absent everywhere)."
    return "-" if value is None or value != value else f"{value:.3f}"


def run_label(run: runs.Run) -> str:
    s = run.summary()
    dice = f" · best Dice {score(s['best_dice'])}" if s.get("best_dice") is not None else ""
    return f"{run.name} · {s['status']}{dice}"
