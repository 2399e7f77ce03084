"""What the pages share: cached calls into `seg` and the state that one page hands to the next.

State in one place: `st.session_state["data"]` is the dataset the user chose on the Data page, with
the training data settings; the Train page reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from seg import Dataset, Pair, workspace
from seg.dataloaders import DataSettings
from seg.device import detect
from seg.overlay import fit


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
def device_label() -> str:
    return detect().label


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
