"""Datasets as this viewer may see them, read once and again only when a file under them changes;
thumbnails; the demo dataset."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from seg import Dataset, Pair
from seg.data.demo import ensure_demo
from seg.data.discovery import signature
from seg.data.overlay import fit
from seg.data.stacks import labelled
from seg.server.sharing import Access
from ui.access import access, require_writable


@st.cache_resource(show_spinner="Writing the demo dataset ...")
def demo_path(objects: bool = False) -> Path:
    "The demo dataset; `objects`: its twin with one id per cell."
    return ensure_demo(objects)


@st.cache_resource(max_entries=8, show_spinner="Reading and checking every file ...")
def _open(path: str, codes: str, objects: bool | None, signature: str, seen: str, _access: Access) -> Dataset:
    return Dataset.open(path, codes=codes or None, access=_access, objects=objects)


def open_dataset(path: Path, codes: str = "", objects: bool | None = None) -> Dataset:
    """The dataset as this viewer may see it (`seen`: what it may read), read once and again only when a file
    under it changes. `objects`: the masks read as one id per object (True), classes (False), or decided."""
    a = access()
    return _open(str(path), codes, objects, signature(path), repr(a), a)


def shown(path: Path, channel: int | None = None):
    """The image as a person sees it: 8-bit RGB, many channels as a composite (seg/data/images.py), or with
    `channel` that channel alone in gray, stretched between its 0.1 and 99.9 percentiles."""
    from seg.data.channels import raw_channels
    from seg.data.display import as_rgb
    from seg.data.images import load_image
    if channel is None:
        return load_image(path)
    return as_rgb(raw_channels(path)[..., channel])


@st.cache_data(max_entries=4000, show_spinner=False)
def _thumbnail(_dataset: Dataset, _pair: Pair, key: str, side: int, channel: int | None):
    return fit(shown(_pair.image, channel), _dataset.mask(_pair), side)


def thumbnail(dataset: Dataset, pair: Pair, side: int, channel: int | None = None):
    """An image (`shown`) and its class-index mask shrunk to `side`. Cached by file, modification time and
    mask encoding, so paging back is instant and an edited file is read again."""
    stamp = "|".join(f"{labelled(f, str(f))}:{f.stat().st_mtime_ns}" for f in (pair.image, pair.mask))  # a slice
    return _thumbnail(dataset, pair, f"{stamp}|{dataset.encoding.to_json()}", side, channel)


@st.cache_data(max_entries=4000, show_spinner=False)
def _object_thumbnail(_dataset: Dataset, _pair: Pair, key: str, side: int, channel: int | None):
    return fit(shown(_pair.image, channel), _dataset.ids(_pair), side)


def object_thumbnail(dataset: Dataset, pair: Pair, side: int, channel: int | None = None):
    "An image and its id map (one id per object) shrunk to `side`, for a dataset read as objects; cached as above."
    stamp = "|".join(f"{labelled(f, str(f))}:{f.stat().st_mtime_ns}" for f in (pair.image, pair.mask))  # a slice
    return _object_thumbnail(dataset, pair, f"{stamp}|{dataset.objects.regions}", side, channel)


def augment_preview(dataset: Dataset, pair: Pair, settings, n: int = 8) -> list:
    """`n` random augmentations of `pair` as training sees them (seg/data/dataloaders.py; fastai imported when
    first needed): not in a read-only app, where the page disables the button and this refuses a forged press."""
    require_writable("previewing augmentations (it computes on the server)")
    from seg.data.dataloaders import augment_preview as preview
    return preview(dataset, pair, settings, n=n)
