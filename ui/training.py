"""The device and the runs on it: starting a run (`python -m seg train` in its own process), watching and
stopping it, the learning-rate finder, and the planner's plan for a time budget."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import streamlit as st

from seg import runs
from seg.cli.options import run_argv
from seg.data.discovery import signature
from seg.errors import AccessError
from seg.model.device import Device, detect
from seg.model.pretrained import choose_pretrained
from seg.model.settings import DataSettings, TrainSettings
from seg.server import workspace
from seg.server.sharing import Access
from ui.access import access, alive, confined, require_writable, weights_file
from ui.datasets import _open
from ui.state import DataChoice
from ui.text import md


@st.cache_resource(show_spinner=False)
def device() -> Device:
    return detect()


def device_label() -> str:
    return device().label


def device_text(d: dict) -> str:
    "A run's recorded device, as the sidebar writes this machine's."
    return Device(d["kind"], d["name"], d.get("memory_gb"), d.get("threads")).label


@st.fragment(run_every=3)
def training_caption() -> None:
    "The sidebar's word on the device, refreshed on its own: a run may start or end on any page."
    now = runs.training_now(device().kind)
    st.caption(f"Training: {md(Path(now).name)}" if now else "Training: nothing")
    alive()


def pretrained_note(settings: TrainSettings) -> str:
    return choose_pretrained(settings).message


def pretrained_on_disk(arch: str) -> bool:
    "Whether ImageNet weights for `arch` are on disk (the torch cache): the toggle's default follows it."
    return choose_pretrained(TrainSettings(arch=arch)).used


def find_lr(choice: DataChoice, data: DataSettings, train: TrainSettings) -> dict:
    from seg.training.lr_finder import find_lr as run_finder
    require_writable("the learning-rate finder")
    return run_finder(choice.path, confined(data), train, codes=choice.codes or None)


# ---- the planner ------------------------------------------------------------------------------------

@st.cache_resource(max_entries=8, show_spinner="Timing a few batches on this device ...")
def _pace(path: str, codes: str, objects: bool | None, signature: str, seen: str, arch: str, valid_pct: float,
          seed: int, _access: Access) -> float:
    from seg.training.planner import measure_pace
    return measure_pace(_open(path, codes, objects, signature, seen, _access), device(), arch, valid_pct, seed)


@st.cache_data(max_entries=32, show_spinner="Planning ...")
def _plan(path: str, codes: str, objects: bool | None, signature: str, seen: str, budget: str, arch: str,
          pretrained: bool, weights: str, valid_pct: float, seed: int, _access: Access):
    from seg.training.planner import BUDGETS, plan
    pace = _pace(path, codes, objects, signature, seen, arch, valid_pct, seed, _access)
    settings = TrainSettings(arch=arch, pretrained=pretrained, weights=weights or None)
    dataset = _open(path, codes, objects, signature, seen, _access)
    return plan(dataset, BUDGETS[budget], device(), settings, valid_pct, seed, pace=pace)


def plan(choice: DataChoice, budget: str, train: TrainSettings, valid_pct: float):
    """The planner's settings for `budget` (a key of planner.BUDGETS), this dataset and this device. It times
    batches on the device (taking its lock: RunError while a run trains): not for a read-only viewer."""
    require_writable("planning a run (it times batches on this device)")
    a = access()
    try:
        weights = weights_file(train.weights or "") or ""
    except AccessError:  # said on the page under the box; the plan goes without it
        weights = ""
    return _plan(str(choice.path), choice.codes, choice.settings.objects, signature(choice.path), repr(a),
                 budget, train.arch, train.pretrained, weights, valid_pct, choice.settings.seed, a)


# ---- runs -------------------------------------------------------------------------------------------

def start_run(choice: DataChoice, data: DataSettings, train: TrainSettings, device_kind: str,
              plan=None, trials: bool = True, *, minutes: float | None = None, from_run: Path | None = None
              ) -> runs.Run:
    """Start `python -m seg train` in its own process with these settings, reading only this viewer's
    folders; the run folder is under runs/. With a plan, the run has its budget (`--budget`, the plan
    handed over: not timed again); with `minutes` and no plan, the run plans for them itself. A budgeted run
    tries candidates around its plan first unless `trials` is off. `from_run`: the run whose weights it
    starts from. An uploaded dataset is kept first (it would go with the session; the run needs its
    validation set)."""
    require_writable("training")
    if train.weights:
        train = replace(train, weights=weights_file(train.weights))
    path = workspace.keep_dataset(choice.path) if choice.source == "upload" else choice.path
    if plan is not None:
        from seg.training.planner import UNTIL_STOPPED_MIN
        minutes = plan.budget_min or UNTIL_STOPPED_MIN
    options = run_argv(confined(data), train, codes=choice.codes, from_run=from_run, budget=minutes,
                       plan=plan.to_json() if plan is not None else None, trials=trials)
    run_dir = runs.runs_dir() / runs.new_name(choice.path if choice.source != "demo" else Path("demo"))
    return runs.start(path, run_dir, options, device_kind)


def stop_run(run: runs.Run) -> None:
    require_writable("stopping a run")
    run.request_stop()


def run_history() -> list[runs.Run]:
    "Every run under runs/, newest first (each read in full: a few ms for a run of thousands of batches)."
    return runs.list_runs()


def trained_runs() -> list[runs.Run]:
    "Runs that have weights to predict with, newest first; finished ones before a run still training."
    have = [r for r in run_history() if r.weights("best") or r.weights("last")]
    return sorted(have, key=lambda r: r.status().active)  # stable: newest first within each group


def watched(name: str) -> runs.Run:
    "The run this session watches, kept so each refresh reads only the events written since the last."
    run = st.session_state.get("watched")
    if run is None or run.name != name:
        run = st.session_state["watched"] = runs.Run(runs.runs_dir() / name)
    return run


# ---- a run's title, note, report; deleting it ---------------------------------------------------------

def save_about(run: runs.Run, title: str, note: str) -> None:
    from seg.runs.manage import set_about
    require_writable("changing a run's title or note")
    set_about(run, title=title, note=note)


def report_html(run: runs.Run) -> str:
    """The run's report (seg/run_report.py). In a read-only app without predicting the validation images
    again (that computes on the server): the training's last sample sheet instead."""
    from seg.run_report import build
    from ui.access import read_only
    return build(run.path, samples=not read_only())


def delete_run(run: runs.Run) -> None:
    "Delete the run (all or nothing; refused while it trains): RunError says why not."
    from seg.runs.manage import delete
    require_writable("deleting a run")
    delete(run)
    st.session_state.pop("watched", None)

