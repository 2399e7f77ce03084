"""A run's title and note, and deleting it: all or nothing, never while it trains, from the CLI and the Train
page (AppTest); the folder's name never changes."""

import json
import os
import socket
import time

import pytest
from apps import open_app
from training import RUN, cli

from seg.errors import RunError
from seg.runs import Run, list_runs
from seg.runs.manage import DELETING, about, delete, label, set_about


def test_title_and_note_are_kept_beside_the_folder_name(finished, home):
    path = finished.into(home)
    run = Run(path)
    assert label(run) == RUN and about(run) == {"title": "", "note": "", "changed": ""}
    set_about(run, title="  lr 3e-3\n  <b>x</b> ", note=" first try\nsecond line ")
    assert about(run)["title"] == "lr 3e-3 <b>x</b>"  # one line, kept as written (pages show it as text)
    assert about(run)["note"] == "first try\nsecond line"
    assert label(run) == f"lr 3e-3 <b>x</b> ({RUN})"
    assert run.path.name == RUN and (path / "best.pth").exists()
    set_about(run, note="")  # None keeps, '' clears
    assert about(run)["title"] == "lr 3e-3 <b>x</b>" and about(run)["note"] == ""
    with pytest.raises(RunError, match="at most 80"):
        set_about(run, title="x" * 81)
    row = next(r for r in list_runs(home / "runs") if r.name == RUN).summary()
    assert row["title"] == "lr 3e-3 <b>x</b>"


def test_delete_is_all_or_nothing_and_never_while_training(finished, home):
    path = finished.into(home)
    # a run that says it is running, with a live process on this machine: refused, nothing touched
    busy = finished.into(home, "20260101-130000-busy")
    (busy / "events.jsonl").write_text(json.dumps({"type": "status", "t": time.time(), "status": "running",
                                                   "pid": os.getpid(), "host": socket.gethostname()}) + "\n")
    with pytest.raises(RunError, match="is running: stop it first"):
        delete(Run(busy))
    assert (busy / "best.pth").exists()
    delete(Run(path))
    assert not path.exists() and not list((home / "runs").glob(f"{DELETING}*"))
    # a removal cut short leaves a hidden folder: no list shows it, the next listing finishes it
    left = home / "runs" / f"{DELETING}{RUN}-1"
    (left / "samples").mkdir(parents=True)
    (left / "config.json").write_text("{}")
    assert [r.name for r in list_runs(home / "runs")] == [busy.name]
    assert not left.exists()
    with pytest.raises(RunError, match="not a run folder"):
        delete(Run(home / "runs" / "nothing"))
    export = home / "exports" / "x"  # a folder with a config.json (an export) is not a run
    export.mkdir(parents=True)
    (export / "config.json").write_text("{}")
    with pytest.raises(RunError, match="not a run folder"):
        delete(Run(export))
    assert export.exists()


def test_the_cli_renames_notes_and_deletes(finished, home):
    path = finished.into(home)
    assert cli("rename", path, "baseline")[0] == 0
    assert cli("note", path, "3 epochs, 64 px")[0] == 0
    rc, out, _ = cli("runs", home / "runs")
    assert rc == 0 and "baseline" in out
    rc, out, _ = cli("runs", home / "runs", "--json")
    assert json.loads(out)[0]["note"] == "3 epochs, 64 px"
    rc, _, err = cli("delete", path)  # no terminal to ask: refused without --yes
    assert rc == 2 and "--yes" in err and path.exists()
    rc, out, _ = cli("delete", path, "--yes")
    assert rc == 0 and not path.exists()
    rc, _, err = cli("rename", path, "x")
    assert rc == 2 and "not a run folder" in err


def test_the_train_page_titles_notes_and_deletes_a_run(finished, home):
    path = finished.into(home)
    finished.into(home, "20260101-110000-older")
    at = open_app("train", run=RUN)
    assert not at.exception
    title = next(t for t in at.text_input if t.label == "Title")
    title.set_value("<img src=x onerror=alert(1)> baseline")
    next(t for t in at.text_area if t.label == "Note").set_value("the *first* one")
    next(b for b in at.button if b.label == "Save title and note").click().run()
    assert about(Run(path))["title"] == "<img src=x onerror=alert(1)> baseline"
    assert at.selectbox(key="shown_run").format_func(RUN) == f"<img src=x onerror=alert(1)> baseline ({RUN})"
    # deleting: the button waits for the folder name typed
    delete_button = at.button(key="delete_run")
    assert delete_button.disabled
    at.text_input(key="delete_confirm").set_value(RUN).run()
    at.button(key="delete_run").click().run()
    assert not at.exception and not path.exists()
    assert at.selectbox(key="shown_run").value == "20260101-110000-older"


def test_a_process_just_launched_is_starting_before_the_kernel_shows_its_argv(tmp_path, monkeypatch):
    """Right after Popen returns, /proc/<pid>/cmdline of the new program may still be empty (19 of 300 reads
    here, 270 of 300 with both cores busy): the app judged such a run `failed`, "ended before it printed a
    word", and the Train page stopped following it while it trained (two browser tests' runs, under load).
    40 launches read at once as the app reads them, and one read while the kernel shows no argv yet (as it
    does during the exec: given here), are `starting`; a pid whose argv is another program's is not."""
    import subprocess
    import sys

    from seg.runs import process

    def launch(run_dir, cmd) -> subprocess.Popen:
        run_dir.mkdir()
        (run_dir / "output.log").write_bytes(b"")  # as runs.start opens it: nothing printed yet
        p = subprocess.Popen(cmd, start_new_session=True)
        (run_dir / "launch.json").write_text(json.dumps({"pid": p.pid, "cmd": cmd, "host": socket.gethostname(),
                                                        "started": time.time()}))
        return p

    cmd = [sys.executable, "-c", "import time; time.sleep(30)"]
    seen = []
    for i in range(40):
        p = launch(tmp_path / f"r{i}", cmd)
        try:
            seen.append(Run(tmp_path / f"r{i}").status().status)
        finally:
            p.kill()
            p.wait()
    assert seen == ["starting"] * 40, seen
    p = launch(tmp_path / "loading", cmd)
    try:
        assert Run(tmp_path / "loading").status().status == "starting"
        monkeypatch.setattr(process, "cmdline", lambda pid: [])  # the kernel between exec and the new argv
        assert Run(tmp_path / "loading").status().status == "starting"
        monkeypatch.setattr(process, "cmdline", lambda pid: ["/usr/bin/vim", "notes.txt"])  # the pid now another's
        assert Run(tmp_path / "loading").status().status == "failed"
    finally:
        p.kill()
        p.wait()
