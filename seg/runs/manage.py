"""What a person changes about a finished run: its title and note (`about.json`), and deleting it.

The folder's name never changes: predictions, labels sets (`corrected from`), other runs (`--from`) and
shared links (`?run=`) find a run by it. A title is what the pages show beside that name.

Deleting is all or nothing: the folder is first renamed to a hidden name in the same runs folder (one
atomic step: from then on no list shows it), then removed; a removal cut short (a crash, a file held open)
leaves only a hidden `.deleting-*` folder, which the next `list_runs` finishes. Never while the run trains.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from seg.errors import RunError
from seg.runs.folder import Run
from seg.util import read_json, write_json

ABOUT = "about.json"
TITLE_MAX, NOTE_MAX = 80, 2000
DELETING = ".deleting-"


def about(run: Run) -> dict:
    "{'title': str, 'note': str, 'changed': ISO time}: empty strings when nobody wrote any."
    found = read_json(run.path / ABOUT)
    return {"title": str(found.get("title") or ""), "note": str(found.get("note") or ""),
            "changed": str(found.get("changed") or "")}


def title(run: Run) -> str:
    "The run's title, else its folder name."
    return about(run)["title"] or run.name


def label(run: Run) -> str:
    "How lists show a run: 'title (folder)' when it has a title, else the folder name."
    t = about(run)["title"]
    return f"{t} ({run.name})" if t else run.name


def set_about(run: Run, title: str | None = None, note: str | None = None) -> dict:
    """Change the title and/or the note (None: keep; '' clears). Any run, even one training: the training
    process never reads or writes about.json. Written whole (a reader sees the old or the new)."""
    if not run.exists():
        raise RunError(f"{run.path}: not a run folder.")
    now = about(run)
    if title is not None:
        title = " ".join(title.split())  # one line: it is a name
        if len(title) > TITLE_MAX:
            raise RunError(f"A title has at most {TITLE_MAX} characters ({len(title)} given).")
        now["title"] = title
    if note is not None:
        note = note.strip()
        if len(note) > NOTE_MAX:
            raise RunError(f"A note has at most {NOTE_MAX} characters ({len(note)} given).")
        now["note"] = note
    now["changed"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_json(run.path / ABOUT, now)
    return now


def delete(run: Run) -> None:
    """Remove the run folder, weights and all. Refused while the run trains or starts (RunError)."""
    written = ("events.jsonl", "output.log")  # what a training process writes; config.json alone is no proof
    if not run.path.is_dir() or not any((run.path / f).is_file() for f in written):  # (exports hold one too)
        raise RunError(f"{run.path}: not a run folder (no events.jsonl or output.log); nothing was deleted.")
    run.poll()
    status = run.status()
    if status.active:
        raise RunError(f"{run.name} is {status.status}: stop it first (nothing was deleted).")
    hidden = run.path.with_name(f"{DELETING}{run.name}-{time.time_ns()}")
    try:
        run.path.rename(hidden)
    except OSError as e:
        raise RunError(f"{run.path} could not be deleted: {e.strerror} (nothing was deleted).") from e
    shutil.rmtree(hidden, ignore_errors=True)  # what a held file keeps back goes at the next listing


def finish_deletions(root: Path) -> None:
    "Remove what an earlier delete could not (hidden `.deleting-*` folders)."
    for left in Path(root).glob(f"{DELETING}*"):
        shutil.rmtree(left, ignore_errors=True)
