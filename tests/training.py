"""Helpers for tests that train for real: a tiny dataset, the CLI in a subprocess, waiting on a run, ending
the runs a test started; and the run trained once per session for every test that only needs one."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from conftest import ROOT

from seg.runs import Run

TINY = ["--size", "64", "--bs", "4", "--arch", "resnet18", "--no-augment"]


def demo(path, n=10, size=64):
    from seg.data.demo import write_demo
    return write_demo(path, n=n, size=size, seed=1)


def seg(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "seg", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def cli(*args) -> tuple[int, str, str]:
    "`python -m seg ...` through the same main() in this process: (exit code, stdout, stderr)."
    import contextlib
    import io

    from seg.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    assert "Traceback" not in out.getvalue() + err.getvalue()
    return rc, out.getvalue(), err.getvalue()


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "seg", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for(run: Run, what, timeout=180.0):
    "Poll the run folder as the app does until `what(run)` holds."
    end = time.time() + timeout
    while time.time() < end:
        run.poll()
        if what(run):
            return run
        time.sleep(0.2)
    raise AssertionError(f"timed out; events: {run.events[-3:]}, status {run.status()}")


def kill(pid: int, timeout: float = 30.0) -> None:
    """SIGKILL a run's process and wait until it is gone and its device lock free. Both lag the kill: the process
    turns zombie first and the kernel drops its file lock a moment later (a training started in this process
    right after the kill was refused as "The CPU is busy", the holder a zombie, freed 0.05 s later)."""
    from seg.runs import pid_alive
    from seg.runs.lock import DeviceLock
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    end = time.time() + timeout
    while pid_alive(pid) or (DeviceLock("cpu").busy() or {}).get("pid") == pid:
        assert time.time() < end, f"pid {pid} or its device lock still there {timeout:g} s after SIGKILL"
        time.sleep(0.05)


def end_runs(root):
    "A failed test must not leave a 100-epoch run holding the device for the next ones."
    for launch in Path(root).glob("*/launch.json"):
        kill(json.loads(launch.read_text())["pid"])


RUN = "20260101-120000-demo"  # the shared run's folder name


@dataclass(frozen=True)
class Finished:
    """The run trained once per test session (conftest's `finished` fixture): read it, or copy it into a
    test's workspace; never write into it."""

    data: Path  # the demo dataset: 12 pairs of 128 px (10 train, 2 validation)
    run: Path  # 3 epochs at 64 px, resnet18, lr 3e-3 (TINY): it finds cells
    stdout: str  # what `python -m seg train` printed

    def into(self, home: Path, name: str = RUN) -> Path:
        "A copy in `home/runs/`, as if trained there."
        return copy_run(self.run, Path(home) / "runs" / name)


def copy_run(src, dst) -> Path:
    """A run folder copied for a test, its weights hard-linked (100 MB each; a suite of copies filled a disk):
    nothing writes into a weights file in place (seg replaces one whole, which leaves the original alone; a test
    that damages one unlinks it first), while other files are copied (tests append to events.jsonl)."""
    import shutil

    def copy(s, d):
        if str(s).endswith(".pth"):
            try:
                os.link(s, d)
                return d
            except OSError:
                pass
        return shutil.copy2(s, d)
    return Path(shutil.copytree(src, dst, copy_function=copy))


def train_finished(root: Path) -> Finished:
    data = demo(root / "demo", n=12, size=128)
    run = root / "runs" / RUN
    rc, out, err = cli("train", data, "--run-dir", run, "--epochs", 3, "--lr", 3e-3, *TINY)  # in this process
    assert rc == 0, out + err
    return Finished(data, run, out)
