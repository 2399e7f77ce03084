"""Whether a run's process lives: a pid alive (a zombie is not), and the process the app launched for a run
(launch.json) still the run's, not a program that took its pid since. Read on this host only: another host's
processes are judged by their heartbeat (seg/runs/folder.py)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path


def read_launch(folder: Path) -> dict:
    """A run folder's launch.json ({"pid", "cmd", "host", "started"}; "started" the file's time where an older one
    lacks it); {} when there is none or it cannot be read."""
    f = Path(folder) / "launch.json"
    try:
        return {"started": f.stat().st_mtime, **json.loads(f.read_text())}
    except (OSError, ValueError, TypeError):  # TypeError: JSON that is not an object
        return {}


def launched_alive(launch: dict) -> bool | None:
    """Whether the process of `launch` (a run's launch.json: pid, cmd, host) still lives: None when there is no
    pid or it was launched on another host, whose processes this one cannot see. A pid now used by another
    program (its command line ends otherwise) is not the run's."""
    if not launch.get("pid") or launch.get("host", socket.gethostname()) != socket.gethostname():
        return None
    if not pid_alive(launch["pid"]):
        return False
    argv = cmdline(launch["pid"])
    if argv is None:  # no /proc (macOS): the pid alone
        return True
    args = launch.get("cmd", [])[1:]  # after the interpreter, which a wrapper may have replaced
    # no argv yet: the program is being loaded (Popen returns once exec began, before the kernel shows the
    # new argv; 19 of 300 reads right after Popen here, 270 of 300 with both cores busy). It was judged
    # "ended before it printed a word", and the Train page stopped following a run that went on training
    return not args or not argv or argv[-len(args):] == args


def cmdline(pid: int) -> list[str] | None:
    "The argv the kernel shows for `pid` (empty while the program is being loaded); None without /proc."
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return None


def pid_alive(pid: int) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (ended, not yet reaped by its parent, as with Popen in the app) is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
