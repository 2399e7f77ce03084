"""The run's event log, `events.jsonl`: one JSON object a line, appended, each written whole; and the
timings watchers read it by."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from seg.util import json_safe

FINAL = ("completed", "stopped", "failed")
HEARTBEAT_S = 10.0  # a running process writes at least this often
SILENT_S = 120.0  # no word for this long from a process we cannot see: it is dead
STARTING_S = 60.0  # a process started by the app has this long to write its first event


class EventLog:
    "Appends one JSON line per event; a line is written whole or not at all as far as readers see."

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = threading.Lock()

    def write(self, type: str, **fields) -> dict:
        event = {"type": type, "t": round(time.time(), 3), **fields}
        line = json.dumps(json_safe(event), allow_nan=False, default=str) + "\n"
        with self.lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
        return event
