"""What one page hands to the next, in one place each: `st.session_state["data"]` is the dataset chosen
on the Data page with its training-data settings (the Train page reads and updates it);
`st.session_state["train"]` the Train page's own settings, kept across page switches."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from seg.model.settings import DataSettings, TrainSettings


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


def choose(choice: DataChoice | None) -> None:
    "Hand the dataset to the other pages (None: no usable dataset); redraw the frame when it changed."
    if st.session_state.get("data") != choice:
        st.session_state["data"] = choice
        st.rerun()


def linked_folder() -> str:
    "The folder named in the page's address (`?data=/path`): survives a refresh, travels in a link."
    return st.query_params.get("data", "")


def link_folder(path: Path | None) -> None:
    if path is None:
        st.query_params.pop("data", None)
    elif st.query_params.get("data") != str(path):
        st.query_params["data"] = str(path)


def train_settings() -> TrainSettings:
    "The Train page's settings, kept across page switches (Streamlit drops the state of unseen widgets)."
    return st.session_state.get("train", TrainSettings())


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


def take_lr(value: float) -> None:
    "The learning-rate slider's value becomes the nearest of its steps to the finder's suggestion."
    st.session_state["lr"] = nearest_lr(value)


PLANNED = {"epochs": "epochs", "lr": "lr", "train_size": "size", "train_bs": "bs", "loss": "loss",
           "train_augment": "augment"}  # Train page widget -> the plan's field


def apply_plan(plan) -> None:
    "Put the plan's values in the Train page's widgets (before they are drawn)."
    for key, name in PLANNED.items():
        value = getattr(plan, name)
        st.session_state[key] = max(value) if name == "size" else nearest_lr(value) if name == "lr" else value


def to_manual() -> None:
    "A setting moved by hand: the plan no longer holds."
    st.session_state["budget"] = "manual"
