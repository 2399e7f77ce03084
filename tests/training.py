"""Helpers for tests that train for real: a tiny dataset, the CLI in a subprocess, waiting on a run."""

import subprocess
import sys
import time

from conftest import ROOT

from seg.runs import Run

TINY = ["--size", "64", "--bs", "4", "--arch", "resnet18", "--no-augment"]


def demo(path, n=10, size=64):
    from seg.data.demo import write_demo
    return write_demo(path, n=n, size=size, seed=1)


def seg(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "seg", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


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
