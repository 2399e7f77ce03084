"""A run folder: the contract between a training process and whoever watches it. Every file a run writes:

    config.json    settings, codes, dataset fingerprint, versions, device, plan, budget, trials (written once,
                   when training proper starts: after a planned run's trials)
    events.jsonl   append-only, one JSON object a line, each with `type` and `t` (unix seconds):
                   status (running/completed/stopped/failed, message), batch, epoch, heartbeat, note,
                   lr (the planner's lr_find result), scores (best weights, validation, images' own size),
                   trials (running: the candidates; done: winner, reason, standings; skipped: the reason and
                   its figures, when no trials could run), trial (a candidate's turn: round, minutes, steps,
                   dice, soft_dice; or a round's end: kept), objects (a run on objects: the split and object
                   scores)
    objects.json   a run on objects: the split into objects tuned at the end and the object scores
                   (seg/training/split_tuning.py)
    trials.jsonl   a planned run's trials, one JSON object a line: turn (as the trial event), round (kept),
                   winner (candidate, standings); or one line, skipped (reason, and its figures: seconds,
                   needed, budget_min; or images; or gpus), when it tried none; seg/training/trials.py
    best.pth       state dict of the best epoch (by `dice`, else `valid_loss`); last.pth: the latest
    samples/       epoch-NN.png: validation images | truth | prediction after each epoch
    stop           exists when someone asked the run to stop (written by a watcher, as is about.json)
    about.json     {"title", "note", "changed"}: what a person called the run and wrote about it
                   (seg/runs/manage.py; the folder's name never changes)
    output.log     what the process printed (runs started by the app)
    launch.json    {"pid", "cmd", "host", "started"} of a process the app started, written as it starts (runs
                   started by the app); while that process lives and has written no event, the run is `starting`
    .lr_find/      a planned run's weights while its learning-rate finder runs; removed after
    .NAME.tmp      a file being written; renamed to NAME when whole (seg.util.atomic_write)

Outside the folder, while the process lives: `<lock dir>/<device>.lock` ({"run", "pid", "what"}; see
seg/runs/lock.py). The watcher only reads, and asks to stop by creating `stop`: a page refresh, a second
viewer or a server restart changes nothing for the run.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from seg.runs.events import FINAL, SILENT_S, STARTING_S
from seg.runs.process import launched_alive, pid_alive, read_launch
from seg.server import workspace

SILENT_END = ("The training process ended before it printed a word or wrote an event (output.log is empty): it "
              "was killed (out of memory, or by someone) or crashed before Python could say why. Start the run "
              "again; if it ends the same way, run its command (launch.json's cmd) in a terminal to see why.")


def runs_dir() -> Path:
    return workspace.runs_dir()


def new_name(dataset: Path) -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + (Path(dataset).name or "data")[:40]


@dataclass
class Status:
    status: str  # starting, running, completed, stopped, failed
    message: str = ""
    pid: int | None = None
    host: str = ""
    started: float | None = None
    ended: float | None = None
    plan: dict = field(default_factory=dict)  # epochs, batches_per_epoch, total_iterations

    @property
    def active(self) -> bool:
        return self.status in ("starting", "running")


class Run:
    "A run folder, read incrementally: `poll()` reads only the events appended since the last call."

    def __init__(self, path):
        self.path = Path(path).expanduser().resolve()
        self.events: list[dict] = []
        self._offset = 0

    # -- files
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def stop_path(self) -> Path:
        return self.path / "stop"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    def exists(self) -> bool:
        return self.config_path.exists() or self.events_path.exists() or (self.path / "output.log").exists()

    def config(self) -> dict:
        try:
            return json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def weights(self, which: str = "best") -> Path | None:
        p = self.path / f"{which}.pth"
        return p if p.exists() else None

    # -- events
    def poll(self) -> list[dict]:
        "New complete events since the last poll (a half-written last line waits for the next poll)."
        try:
            with open(self.events_path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n") + 1
        new = []
        for line in chunk[:end].splitlines():
            try:
                new.append(json.loads(line))
            except ValueError:
                continue  # a torn line after a crash: skip it, keep the rest
        self._offset += end
        self.events.extend(new)
        return new

    def of_type(self, type: str) -> list[dict]:
        return [e for e in self.events if e.get("type") == type]

    def epochs(self) -> list[dict]:
        return self.of_type("epoch")

    def batches(self) -> list[dict]:
        return self.of_type("batch")

    def full_size(self) -> dict | None:
        "The best weights' validation scores at the images' own size, written when the run ended."
        found = self.of_type("scores")
        return found[-1] if found else None

    def object_scores(self) -> dict | None:
        """A run on objects: the split tuned at its end and the object scores on the validation images (the
        `objects` event: split, images, true, found, ap50, ap, count_error_median); None before or without."""
        found = self.of_type("objects")
        return found[-1] if found else None

    def notes(self) -> list[str]:
        return [e["message"] for e in self.of_type("note")]

    def trials(self) -> dict | None:
        """A planned run's trials so far (`trial` and `trials` events): {"status": running/done, "rows": one per
        candidate (its latest turn, and the round it was out after), "winner", "reason"}; {"status": "skipped",
        "rows": [], "winner": None, "reason"} when the run decided to try none (the reason says why); None
        without trials."""
        said = self.of_type("trials")
        if not said:
            return None
        skipped = next((e for e in said if e.get("status") == "skipped"), None)
        if skipped is not None:
            return {"status": "skipped", "rows": [], "winner": None, "reason": skipped.get("reason")}
        rows = {c["label"]: {"candidate": c["label"], "round": None, "minutes": 0.0, "steps": 0, "dice": None,
                             "soft_dice": None, "out_after": None} for c in said[0].get("candidates", [])}
        for e in self.of_type("trial"):
            if "candidate" in e:
                rows[e["candidate"]["label"]] = {**rows.get(e["candidate"]["label"], {"out_after": None}),
                                                 "candidate": e["candidate"]["label"], "round": e["round"],
                                                 "minutes": e.get("minutes"), "steps": e.get("steps"),
                                                 "dice": e.get("dice"), "soft_dice": e.get("soft_dice")}
            elif "kept" in e:
                kept = {c["label"] for c in e["kept"]}
                for label, row in rows.items():
                    if row["out_after"] is None and row["round"] == e["round"] and label not in kept:
                        row["out_after"] = e["round"]
        done = next((e for e in said if e.get("status") == "done"), None)
        return {"status": "done" if done else "running", "rows": list(rows.values()),
                "winner": done["winner"]["label"] if done else None, "reason": done.get("reason") if done else None}

    def samples(self) -> list[Path]:
        return sorted(self.samples_dir.glob("epoch-*.png")) if self.samples_dir.exists() else []

    # -- status
    def status(self) -> Status:
        "The last status written, or `failed` when a running process died without a word."
        statuses = self.of_type("status")
        if not statuses:
            return self._not_started()
        first, last = statuses[0], statuses[-1]
        plan = next((e["plan"] for e in reversed(statuses) if e.get("plan")), {})  # a planned run's after its trials
        s = Status(last["status"], last.get("message", ""), first.get("pid"), first.get("host", ""),
                   first["t"], last["t"] if last["status"] in FINAL else None, plan)
        if s.status == "running" and not self._alive(s):
            s.status, s.ended = "failed", self.last_word()
            s.message = ("The training process ended without a word (killed, out of memory, or the machine "
                         "restarted). The weights of the last finished epoch are kept; start a new run "
                         "with --from this run to continue.")
        return s

    def last_word(self) -> float:
        return self.events[-1]["t"] if self.events else 0.0

    def _alive(self, s: Status) -> bool:
        if s.host == socket.gethostname() and s.pid:
            return pid_alive(s.pid)
        return time.time() - self.last_word() < SILENT_S  # another machine: trust the heartbeat

    def _not_started(self) -> Status:
        """No status event yet. A process the app launched that still lives is `starting` however long its
        start takes (imports, then a planned run's timing of this device: on a busy machine more than a
        minute goes by before its first line or event); one that ended is `failed`, with the last line it
        printed, or, when it printed nothing, what that means."""
        log = self.path / "output.log"
        if not log.exists():
            return Status("failed", "No events: this folder holds no run.")
        launch = read_launch(self.path)
        alive = launched_alive(launch)
        if alive:
            since = time.time() - launch.get("started", time.time())
            return Status("starting", f"The training process is starting ({since:.0f} s so far): loading, then "
                                      "for a time budget timing this device and planning.", launch.get("pid"))
        if alive is None and time.time() - log.stat().st_mtime < STARTING_S:  # launch.json comes just after
            return Status("starting", "The training process is starting.")
        tail = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        if tail:
            return Status("failed", tail[-1], launch.get("pid"))
        return Status("failed", SILENT_END, launch.get("pid"))

    def launched_alive(self) -> bool | None:
        """Whether the process the app launched for this run (launch.json) still lives (seg/runs/process.py):
        None when there is none, or it runs on another host."""
        return launched_alive(read_launch(self.path))

    def progress(self) -> dict:
        "Where a run is: epoch, iteration of the plan, seconds so far and, from the pace so far, left."
        s = self.status()
        total = s.plan.get("total_iterations") or 0
        batches = self.batches()
        done = batches[-1]["iteration"] if batches else 0
        epoch = batches[-1]["epoch"] if batches else 0
        now = s.ended or time.time()
        elapsed = now - s.started if s.started else 0.0
        left = None
        if s.active and done and total:
            pace = (now - s.started) / done  # includes validation and checkpoints, so the estimate holds
            left = max(0.0, pace * (total - done))
        return {"epoch": epoch, "epochs": s.plan.get("epochs"), "iteration": done, "total": total,
                "fraction": min(1.0, done / total) if total else 0.0, "elapsed": elapsed, "left": left}

    # -- control
    def request_stop(self) -> None:
        "Ask the process to stop after its current batch; it keeps the best weights."
        self.stop_path.write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))

    def stop_requested(self) -> bool:
        return self.stop_path.exists()

    def summary(self) -> dict:
        "One row for a table of runs."
        from seg.runs.manage import about
        cfg, s, said = self.config(), self.status(), about(self)
        epochs = self.epochs()
        last = epochs[-1] if epochs else {}
        best = max((e.get("dice") for e in epochs if e.get("dice") is not None), default=None)
        return {
            "run": self.name, "title": said["title"], "note": said["note"], "status": s.status,
            "dataset": Path(cfg.get("dataset", {}).get("root", "")).name,
            "epochs": f"{len(epochs)}/{s.plan.get('epochs', cfg.get('train', {}).get('epochs', '?'))}",
            "dice": last.get("dice"), "best_dice": best, "iou": last.get("iou"),
            "dice_full_size": (self.full_size() or {}).get("dice"),
            "ap50": (self.object_scores() or {}).get("ap50"),
            "valid_loss": last.get("valid_loss"),
            "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(s.started)) if s.started else "",
            "message": s.message,
        }


def list_runs(root: Path | None = None) -> list[Run]:
    "Run folders under `root` (default: the workspace's runs/), newest first."
    root = Path(root) if root else runs_dir()
    if not root.exists():
        return []
    from seg.runs.manage import finish_deletions
    finish_deletions(root)
    runs = [Run(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    runs = [r for r in runs if r.exists()]
    for r in runs:
        r.poll()
    return sorted(runs, key=lambda r: (r.status().started or r.path.stat().st_mtime), reverse=True)
