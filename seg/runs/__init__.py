"""Runs: a training process and its folder, the contract between it and whoever watches.

- folder  the run folder read back: config, events, status (a dead process is `failed`), progress, weights
- process whether a run's process lives (a pid, the process launched for a run)
- events  the append-only event log the process writes, and its timings
- launch  starting `python -m seg train` as its own process from the app; which run uses a device now
- lock    one run per device: an OS file lock the process holds for its life
- manage  a run's title and note (about.json), and deleting a run, all or nothing
- compare runs side by side: the settings that differ, curves, final scores, the best
- charts  the curves drawn (Plotly figures, no Streamlit): for the Train and Compare pages and the run report

The names most callers need are here: `from seg import runs; runs.Run(path)`.
"""

from seg.errors import RunError
from seg.runs.events import FINAL, HEARTBEAT_S, EventLog
from seg.runs.folder import Run, Status, list_runs, new_name, runs_dir
from seg.runs.launch import start, training_now
from seg.runs.lock import DeviceLock, lock_dir
from seg.runs.process import pid_alive

__all__ = ["FINAL", "HEARTBEAT_S", "DeviceLock", "EventLog", "Run", "RunError", "Status", "list_runs", "lock_dir",
           "new_name", "pid_alive", "runs_dir", "start", "training_now"]
