"""Starting a training process from the app: `python -m seg train` in its own session, its output in
`output.log` (unbuffered), its pid, command, host and start time in `launch.json`; and which run uses a
device now."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from seg.errors import RunError
from seg.runs.events import STARTING_S
from seg.runs.folder import Run, runs_dir
from seg.runs.lock import DeviceLock
from seg.util import PROJECT


def training_now(device: str, root: Path | None = None) -> str | None:
    """The folder of the run using the device: the lock's holder, or a run the app launched a moment ago
    whose process has not yet taken the lock (its imports take a few seconds)."""
    held = DeviceLock(device).busy()
    if held:
        return held.get("run", "?")
    for launch in (Path(root) if root else runs_dir()).glob("*/launch.json"):
        run = Run(launch.parent)
        # a start can take minutes on a busy machine (imports, the planner's timing): its process still lives
        if time.time() - launch.stat().st_mtime < STARTING_S or run.launched_alive():
            run.poll()
            if run.status().status == "starting":
                return str(run.path)
    return None


def start(data: Path, run_dir: Path, options: list[str], device: str = "cpu") -> Run:
    """Start `python -m seg train` as its own process (it outlives the app's session and the server).
    Raises RunError when the device is busy or the folder is taken."""
    held = training_now(device, Path(run_dir).parent)
    if held:
        raise RunError(f"A run is already training on the {device.upper()}: {Path(held).name}. "
                       f"One run at a time per device: stop it or wait for it to end.")
    run_dir = Path(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunError(f"{run_dir} already holds a run; choose a new name.")
    run_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "seg", "train", str(data), "--run-dir", str(run_dir), *options]
    env = {**os.environ,  # so `-m seg` resolves whatever the server's cwd
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")])),
           # every line reaches output.log as it is printed, not in a buffer a killed process loses; a crash
           # in native code (a segfault, an abort) writes the Python stack there too
           "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    with open(run_dir / "output.log", "ab") as log:
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, env=env)  # own session: a server's Ctrl-C spares it
    (run_dir / "launch.json").write_text(json.dumps({"pid": p.pid, "cmd": cmd, "host": socket.gethostname(),
                                                     "started": round(time.time(), 3)}))
    return Run(run_dir)
