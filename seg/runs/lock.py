"""One run per device: the training process (and the learning-rate finder, and the planner's timing) holds
an OS file lock on `<lock dir>/<device>.lock` for its whole life; the kernel releases it when the process
dies, even by kill -9. The file names the holder: {"run", "pid", "what"}."""

from __future__ import annotations

import json
import os
from pathlib import Path

from seg.errors import RunError
from seg.server import workspace


def lock_dir() -> Path:
    d = workspace.lock_dir()
    d.mkdir(parents=True, exist_ok=True)
    return d


class DeviceLock:
    """Held by the training process for its whole life (an OS file lock: released by the kernel when the
    process dies, even by kill -9). The file names the run that holds it."""

    def __init__(self, device: str):
        self.path = lock_dir() / f"{device}.lock"
        self.fd = None

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def acquire(self, run_dir: Path, what: str = "training") -> None:
        import fcntl
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            h = self.holder()
            raise RunError(f"The {self.path.stem.upper()} is busy: {h.get('what', 'a run')} in "
                           f"{h.get('run', '?')} (pid {h.get('pid', '?')}) is using it. One run at a time "
                           f"per device: stop that run or wait for it to end.") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"run": str(run_dir), "pid": os.getpid(), "what": what}).encode())
        self.fd = fd

    def busy(self) -> dict | None:
        "The holder, if a live process holds the lock; None when free."
        import fcntl
        if not self.path.exists():
            return None
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        except BlockingIOError:
            return self.holder() or {"run": "?"}
        finally:
            os.close(fd)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


