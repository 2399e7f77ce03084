"""What the pages share: cached calls into `seg` and the state that one page hands to the next.

State in one place: `st.session_state["data"]` is the dataset the user chose on the Data page, with
the training data settings; the Train page reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from seg import Dataset, Pair, runs, workspace
from seg.device import Device, detect
from seg.learner import choose_pretrained
from seg.overlay import fit
from seg.settings import DataSettings, TrainSettings

LR_FIND_ITERATIONS = 60  # fastai's 100 take minutes on a CPU; 60 still give the valley


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
    return run_finder(choice.path, data, train, codes=choice.codes or None, num_it=LR_FIND_ITERATIONS)


def take_lr(value: float) -> None:
    "The learning-rate slider's value becomes the nearest of its steps to the finder's suggestion."
    st.session_state["lr"] = nearest_lr(value)


def start_run(choice: DataChoice, data: DataSettings, train: TrainSettings, device_kind: str) -> runs.Run:
    "Start `python -m seg train` in its own process with these settings; the run folder is under runs/."
    h, w = data.hw
    options = ["--epochs", train.epochs, "--lr", train.lr, "--bs", data.bs, "--size", h, w, "--arch", train.arch,
               "--pretrained" if train.pretrained else "--no-pretrained", "--valid-pct", data.valid_pct,
               "--seed", data.seed, "--augment" if data.augment else "--no-augment", "--loss", train.loss]
    if train.weights:
        options += ["--weights", train.weights]
    if choice.codes:
        options += ["--codes", choice.codes]
    run_dir = runs.runs_dir() / runs.new_name(choice.path if choice.source != "demo" else Path("demo"))
    return runs.start(choice.path, run_dir, [str(o) for o in options], device_kind)


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
