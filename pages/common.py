"""What the pages share: cached calls into `seg` and the state that one page hands to the next.

State in one place: `st.session_state["data"]` is the dataset the user chose on the Data page, with
the training data settings; the Train page reads it from here.
"""

from __future__ import annotations

import html
import re
import runpy
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import streamlit as st

from seg import Dataset, Pair, runs
from seg.data.overlay import fit
from seg.model.device import Device, detect
from seg.model.pretrained import choose_pretrained
from seg.model.settings import DataSettings, TrainSettings
from seg.server import workspace
from seg.server.scratch import Scratch, sweep
from seg.server.sharing import Access, AccessError, Sharing
from seg.server.signin import LOCKOUT_S, Throttle

_frame = threading.local()  # per script thread: did app.py start this run?


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


# ---- what users and files supply, shown as text ---------------------------------------------------

# What can start a link, image, HTML, code, emphasis or formula; and Streamlit's `:name` directives (colours,
# icons), which swallow `:red` in a name like `b:red[x]`.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>&|~$]|:(?=[A-Za-z]))")


def md(text) -> str:
    """Text a user or a file supplied (a class, file, folder or run name, a note, a message quoting them) for
    a Markdown element (`st.markdown`, `caption`, `error`, a `help`), shown as written: nothing in it starts a
    link, an image, HTML, code, emphasis or a formula. Line breaks become spaces."""
    text = _MARKDOWN.sub(r"\\\1", re.sub(r"[\r\n]+", " ", str(text)))
    return "\\" + text if text[:1] in ("#", "-", "+", "=") else text  # no heading or list at the start


def code(text) -> str:
    "User-supplied text in a Markdown code span: monospace and literal, with a fence no backtick inside closes."
    text = re.sub(r"[\r\n]+", " ", str(text))
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text[:1] == "`" or text[-1:] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plot_text(text, limit: int = 32) -> str:
    """User-supplied text for a Plotly chart (trace names, axis categories), which reads a few HTML tags;
    cut to `limit` characters so a long name does not squeeze the chart."""
    text = str(text)
    return html.escape(text if len(text) <= limit else text[:limit - 1] + "…", quote=False)


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
    "The sharing settings, and whether this server listens beyond this machine (`server.address`)."
    return Sharing.configured(_secrets(), address=st.get_option("server.address") or "")


@st.cache_resource(show_spinner=False)
def throttle() -> Throttle:
    "Wrong passwords counted for the whole server, across sessions (seg/signin.py)."
    return Throttle()


def client_address() -> str | None:
    "The address the server sees this browser at; None for this machine."
    address = st.context.ip_address
    return address if isinstance(address, str) else None


def signed_in() -> bool:
    "True when no password is set or this session gave it."
    try:
        password = sharing().password
    except AccessError as e:
        st.error(md(str(e)))
        st.stop()
    return not password or st.session_state.get("signed_in", False)


def sign_in() -> None:
    """The password form: the only thing a visitor sees before giving the password. A try is checked only
    when the server-wide throttle lets it (every session counts, not only this one)."""
    st.title("segboard")
    with st.form("sign_in"):
        typed = st.text_input("Password", type="password", key="password_typed")
        if st.form_submit_button("Sign in", type="primary"):
            address = client_address()
            verdict = throttle().begin(address)
            if not verdict.allowed:
                st.error(verdict.message() + " Ask whoever shared the link if you have lost the password.")
            elif sharing().check_password(typed):
                throttle().succeeded(address)
                st.session_state["signed_in"] = True
                st.session_state.pop("password_typed", None)
                st.rerun()
            else:
                left = throttle().tries_left(address)
                warn = f" {left} more wrong tries from your address lock signing in for {LOCKOUT_S // 60} minutes."
                st.error("Wrong password. Ask whoever shared the link." + (warn if left <= 5 else ""))


def read_only() -> bool:
    return sharing().read_only


def access() -> Access:
    "What this viewer may read: the allowed folders, never segboard's own or another session's uploads."
    own = st.session_state.get("scratch")
    return sharing().access(own=(own.path,) if own else ())


def allowed(typed: str) -> Path:
    """A folder or file path typed into the app (or given in the address), checked as text, resolved and
    checked against what this viewer may read; AccessError says why not, in one sentence."""
    return access().check(typed)


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
    st.caption(f"Training: {md(Path(now).name)}" if now else "Training: nothing")
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
    from seg.training.lr_finder import find_lr as run_finder
    sharing().require_writable("the learning-rate finder")
    return run_finder(choice.path, confined(data), train, codes=choice.codes or None)


def confined(data: DataSettings) -> DataSettings:
    "The data settings with this viewer's allowed folders, so a run reads no file the viewer may not."
    return replace(data, within=tuple(map(str, access().roots)))


def weights_file(typed: str) -> str | None:
    """The ImageNet weights file typed on the Train page, confined like every other path: whether a file
    exists is told only for paths this viewer may read."""
    return str(allowed(typed)) if typed.strip() else None


def take_lr(value: float) -> None:
    "The learning-rate slider's value becomes the nearest of its steps to the finder's suggestion."
    st.session_state["lr"] = nearest_lr(value)


# ---- the planner ------------------------------------------------------------------------------------

PLANNED = {"epochs": "epochs", "lr": "lr", "train_size": "size", "train_bs": "bs", "loss": "loss",
           "train_augment": "augment"}  # Train page widget -> the plan's field


@st.cache_resource(max_entries=8, show_spinner="Timing a few batches on this device ...")
def _pace(path: str, codes: str, signature: str, seen: str, arch: str, valid_pct: float, seed: int,
          _access: Access) -> float:
    from seg.training.planner import measure_pace
    return measure_pace(_open(path, codes, signature, seen, _access), device(), arch, valid_pct, seed)


@st.cache_data(max_entries=32, show_spinner="Planning ...")
def _plan(path: str, codes: str, signature: str, seen: str, budget: str, arch: str, pretrained: bool, weights: str,
          valid_pct: float, seed: int, _access: Access):
    from seg.training.planner import BUDGETS, plan
    pace = _pace(path, codes, signature, seen, arch, valid_pct, seed, _access)
    settings = TrainSettings(arch=arch, pretrained=pretrained, weights=weights or None)
    dataset = _open(path, codes, signature, seen, _access)
    return plan(dataset, BUDGETS[budget], device(), settings, valid_pct, seed, pace=pace)


def plan(choice: DataChoice, budget: str, train: TrainSettings, valid_pct: float):
    """The planner's settings for `budget` (a key of planner.BUDGETS), this dataset and this device. It times
    batches on the device: not for a read-only viewer."""
    sharing().require_writable("planning a run (it times batches on this device)")
    a = access()
    try:
        weights = weights_file(train.weights or "") or ""
    except AccessError:  # said on the page under the box; the plan goes without it
        weights = ""
    return _plan(str(choice.path), choice.codes, workspace.signature(choice.path), repr(a), budget, train.arch,
                 train.pretrained, weights, valid_pct, choice.settings.seed, a)


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
        train = replace(train, weights=weights_file(train.weights))
    path = workspace.keep_dataset(choice.path) if choice.source == "upload" else choice.path
    data = confined(data)
    h, w = data.hw
    options = ["--epochs", train.epochs, "--lr", train.lr, "--bs", data.bs, "--size", h, w, "--arch", train.arch,
               "--pretrained" if train.pretrained else "--no-pretrained", "--valid-pct", data.valid_pct,
               "--seed", data.seed, "--augment" if data.augment else "--no-augment", "--loss", train.loss]
    if train.weights:
        options += ["--weights", train.weights]
    if train.find_lr:
        options += ["--find-lr"]
    for root in data.within:
        options += ["--within", root]
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
def _open(path: str, codes: str, signature: str, seen: str, _access: Access) -> Dataset:
    return Dataset.open(path, codes=codes or None, access=_access)


def open_dataset(path: Path, codes: str = "") -> Dataset:
    """The dataset as this viewer may see it (`seen`: what it may read), read once and again only when a file
    under it changes."""
    a = access()
    return _open(str(path), codes, workspace.signature(path), repr(a), a)


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
    from seg.prediction.inference import Model
    return Model.load(path)


def model(run: runs.Run):
    "The run's model, loaded again only when its weights file changes (a run still training)."
    weights = run.weights("best") or run.weights("last")
    return _model(str(run.path), str(weights), weights.stat().st_mtime_ns)


def save_uploads(files) -> Path:
    "Images uploaded in the browser, in a folder of their own under the workspace."
    from seg.data.uploads import save_images
    sharing().require_writable("uploading")
    return save_images([(f.name, f.getvalue()) for f in files], scratch().path)


def unpack(upload) -> Path:
    "A zipped dataset uploaded in the browser, unpacked into this session's folder."
    from seg.data.uploads import extract_zip
    sharing().require_writable("uploading")
    return extract_zip(upload, scratch().path)


def predict(run: runs.Run, what: str, folder: str, progress) -> Path:
    """Predict the run's validation set ("valid") or a folder into a new folder under predictions/,
    measuring every object; returns that folder."""
    import time

    from seg.prediction.output import predict as run_prediction
    from seg.prediction.output import validation
    sharing().require_writable("predicting")
    source = validation(run) if what == "valid" else allowed(folder)
    out = workspace.predictions_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{run.name}"
    n = 1
    while out.exists():  # two predictions in the same second keep both
        n += 1
        out = out.with_name(f"{out.name.rsplit('~', 1)[0]}~{n}")
    run_prediction(run.path, source, out, measure_objects=True, model=model(run), progress=progress, access=access())
    return out


def predictions(run: runs.Run) -> list[Path]:
    "The run's predictions under predictions/, newest first: made in any session, by anyone."
    from seg.prediction.output import list_predictions
    return list_predictions(workspace.predictions_dir(), run.path)


def read_prediction(path: Path):
    from seg.prediction.output import Prediction
    return Prediction(path)


@st.cache_data(max_entries=8, show_spinner=False)
def measurements(path: str, pixel_size: float | None, unit: str):
    "The prediction's objects with sizes in the unit chosen (in pixels for no pixel size)."
    from seg.prediction.measure import in_units
    from seg.prediction.output import Prediction
    table = Prediction(path).measurements()
    return None if table is None else in_units(table, pixel_size, unit)


def score(value) -> str:
    "A score for a metric: three decimals, or a dash where there is none (a class absent everywhere)."
    return "-" if value is None or value != value else f"{value:.3f}"


def run_label(run: runs.Run) -> str:
    s = run.summary()
    dice = f" · best Dice {score(s['best_dice'])}" if s.get("best_dice") is not None else ""
    return f"{run.name} · {s['status']}{dice}"
