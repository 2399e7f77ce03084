"""Sharing the app: the password gate, the read-only mode, the folders a typed path may name, and
uploads private to a session. The library's rules first, then the real pages in AppTest."""

import gc
import os
import sys
import time
from pathlib import Path

import pytest
from apps import open_app
from streamlit.testing.v1 import AppTest
from training import RUN, TINY, cli, copy_run, demo, seg

from seg.data.demo import ensure_demo
from seg.errors import AccessError
from seg.server import workspace
from seg.server.scratch import Scratch, sweep
from seg.server.sharing import Sharing

# ---- the rules --------------------------------------------------------------------------------------

def test_settings_from_the_environment_win_over_secrets(home):
    secrets = {"password": "from-file", "read_only": True, "roots": ["/data"]}
    s = Sharing.configured(secrets, env={})
    assert (s.password, s.read_only, s.roots) == ("from-file", True, (Path("/data"),))
    s = Sharing.configured(secrets, env={"SEGBOARD_PASSWORD": "from-env", "SEGBOARD_READ_ONLY": "0",
                                         "SEGBOARD_ROOTS": "/a:/b"})
    assert (s.password, s.read_only, s.roots) == ("from-env", False, (Path("/a"), Path("/b")))
    assert Sharing.configured({}, env={}) == Sharing()
    assert "from-env" not in repr(s) and "from-env" not in str(s)  # never in a log line or a traceback


def test_password_check():
    s = Sharing(password="s3cret ü")
    assert s.check_password("s3cret ü")
    assert not s.check_password("s3cret") and not s.check_password("") and not s.check_password("s3cret ü ")
    assert Sharing().check_password("anything")  # no password set: nothing to check


def test_paths_are_confined_to_the_roots_and_the_workspace(home, tmp_path):
    data, other = tmp_path / "data", tmp_path / "other"
    (data / "cells").mkdir(parents=True)
    other.mkdir()
    (data / "escape").symlink_to(other)
    free = Sharing()
    assert free.confine(other) == other  # not shared, no roots: the person at the server types anything
    s = Sharing(roots=(data,))
    assert s.confine(f"{data}/cells") == data / "cells"
    assert s.confine(home / "demo") == home / "demo"  # the workspace is always readable
    for bad in (other, f"{data}/../other", data / "escape", "/etc"):
        with pytest.raises(AccessError, match="outside the folders this app may read"):
            s.confine(bad)
    shared = Sharing(password="x")  # shared without roots: only the workspace
    with pytest.raises(AccessError, match="SEGBOARD_ROOTS"):
        shared.confine(data)
    with pytest.raises(AccessError, match="read-only"):
        Sharing(read_only=True).require_writable("training")
    Sharing(password="x").require_writable("training")


def test_a_session_folder_goes_with_its_session_or_when_stale(home):
    root = workspace.sessions_dir()
    mine = Scratch(root)
    (mine.path / "upload.png").write_bytes(b"x")
    path = mine.path
    del mine
    gc.collect()
    assert not path.exists()  # the session's state was dropped: its uploads with it
    fresh, stale = Scratch(root), Scratch(root)
    old = time.time() - 3600
    os.utime(stale.path / ".alive", (old, old))
    assert sweep(root, stale_s=600) == [stale.path]
    assert fresh.path.exists() and not stale.path.exists()
    stale.touch()  # its session comes back after all: a new, empty folder
    assert stale.path.is_dir()


def test_an_uploaded_dataset_a_run_trains_on_is_kept(home, tmp_path):
    upload = Scratch(workspace.sessions_dir())
    data = demo(upload.path / "0123abcd", n=4, size=32)
    kept = workspace.keep_dataset(data)
    assert kept == workspace.datasets_dir() / "0123abcd"
    upload.remove()
    assert not data.exists()
    assert sorted(p.name for p in (kept / "images").iterdir()) == ["000.png", "001.png", "002.png", "003.png"]
    assert workspace.keep_dataset(tmp_path) == tmp_path.resolve()  # a folder on the server stays where it is


# ---- the pages --------------------------------------------------------------------------------------

def app(secrets=None) -> AppTest:
    return open_app(secrets=secrets, started=False)


def test_the_password_guards_every_page(home):
    at = app({"password": "open sesame"})
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["segboard"] and at.text_input(key="password_typed")
    assert not at.sidebar.markdown and not at.segmented_control  # no page, no sidebar before the password
    at.switch_page("pages/train.py").run()
    assert [t.value for t in at.title] == ["segboard"]
    at.text_input(key="password_typed").set_value("open sesam")
    at.button[0].click().run()
    assert "Wrong password" in at.error[0].value and [t.value for t in at.title] == ["segboard"]
    at.text_input(key="password_typed").set_value("open sesame")
    at.button[0].click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Train"]  # the page asked for, after signing in
    assert "password_typed" not in at.session_state


def test_the_password_from_the_environment(home, monkeypatch):
    monkeypatch.setenv("SEGBOARD_PASSWORD", "env-pass")
    at = app()
    at.run()
    assert [t.value for t in at.title] == ["segboard"]
    at.text_input(key="password_typed").set_value("env-pass")
    at.button[0].click().run()
    assert [t.value for t in at.title] == ["Data"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, finished):
    "The session's finished run and one prediction of its validation set, made by the CLI's main() in this process."
    root = tmp_path_factory.mktemp("sharing")
    run = finished.into(root)
    rc, _, err = cli("predict", run, "--valid", "--out", root / "predictions" / f"20260101-130000-{RUN}", "--measure")
    assert rc == 0, err
    return root, finished.data


def test_read_only_browses_and_changes_nothing(home, trained, monkeypatch, tmp_path):
    root, data = trained
    for sub in ("runs", "predictions"):
        copy_run(root / sub, home / sub)
    monkeypatch.setenv("SEGBOARD_READ_ONLY", "1")
    monkeypatch.setenv("SEGBOARD_ROOTS", str(data.parent))
    # the demo is written before anyone opens the app (`make run`), so the first page finds it whichever test ran
    # first in this process (ui.datasets.demo_path is cached per process)
    ensure_demo()
    before = {p: p.stat().st_mtime_ns for p in home.rglob("*")}
    at = app()
    at.run()
    assert not at.exception
    assert "upload" not in at.segmented_control(key="source").options
    assert any("Read-only" in c.value for c in at.sidebar.caption)
    at.segmented_control(key="source").set_value("folder").run()
    at.text_input(key="folder").set_value(str(tmp_path)).run()
    assert "outside the folders this app may read" in at.error[0].value
    at.text_input(key="folder").set_value(str(data)).run()
    assert not at.error and at.session_state["data"].path == data  # inside a root: browsed as usual

    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.key == "start"]
    assert any("Read-only" in i.value for i in at.info)
    assert at.button(key="find_lr").disabled
    assert at.selectbox(key="shown_run").value == RUN  # the runs are there to look at

    at.switch_page("pages/predict.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.key == "predict"] and not at.segmented_control
    assert at.selectbox(key="shown_prediction").value == f"20260101-130000-{RUN}"
    assert {m.label for m in at.metric} >= {"Images", "Dice (foreground)", "Objects found"}
    assert len(at.image) == 2
    from seg.prediction.exports import FORMATS
    # every export is offered disabled (pressed anyway over the WebSocket: tests/test_e2e_attacks.py)
    assert all(at.button(key=f"export_{name}").disabled for name in FORMATS)
    after = {p: p.stat().st_mtime_ns for p in home.rglob("*")}
    assert after == before, sorted(str(p) for p in set(after) | set(before) if after.get(p) != before.get(p))


def test_predictions_are_listed_for_anyone_and_linked_by_address(home, trained):
    root, _ = trained
    for sub in ("runs", "predictions"):
        copy_run(root / sub, home / sub)
    at = app()
    at.run()
    at.switch_page("pages/predict.py").run()
    assert at.selectbox(key="shown_prediction").value == f"20260101-130000-{RUN}"
    assert at.query_params["prediction"] in ([f"20260101-130000-{RUN}"], f"20260101-130000-{RUN}")
    at.button(key="predict").click().run()  # a new one is shown at once, the old one stays listed
    assert not at.exception and not at.error
    assert len(at.selectbox(key="shown_prediction").options) == 2
    assert at.selectbox(key="shown_prediction").value != f"20260101-130000-{RUN}"


def test_another_sessions_uploads_cannot_be_named(home):
    other = Scratch(workspace.sessions_dir())
    demo(other.path / "abc", n=4, size=32)
    at = app()
    at.run()
    at.segmented_control(key="source").set_value("folder").run()
    at.text_input(key="folder").set_value(str(other.path / "abc")).run()
    assert not at.exception
    assert "private to their sessions" in at.error[0].value
    assert at.session_state["data"] is None



def test_share_prints_where_to_open_and_never_the_password(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('password = "pa55-word"\nread_only = true\nroots = ["/data"]\n')
    r = seg("share", "--port", 8123, "--secrets", secrets)
    assert r.returncode == 0, r.stderr
    assert "http://localhost:8123" in r.stdout and "password: set" in r.stdout and "read-only: on" in r.stdout
    assert "/data" in r.stdout and "pa55-word" not in r.stdout + r.stderr
    secrets.write_text('password = "unclosed\n')
    r = seg("share", "--secrets", secrets)
    assert r.returncode == 2 and "could not be read" in r.stderr and "Traceback" not in r.stderr


def test_serve_hands_its_secrets_file_to_the_app(tmp_path, monkeypatch):
    """The file `serve --secrets` reads to choose the address is the one the app reads, and the only one
    (`--secrets.files`): not the project's .streamlit/secrets.toml, nor ~/.streamlit/secrets.toml."""
    from seg.cli import parser
    from seg.cli.serving import serve_argv, sharing_of
    from seg.util import PROJECT
    monkeypatch.delenv("SEGBOARD_PASSWORD", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lab.toml").write_text('password = "pa55-word"\n')
    args = parser().parse_args(["serve", "--secrets", "lab.toml", "--port", "8123"])
    sharing, address = sharing_of(args)
    argv = serve_argv(args, address)
    assert sharing.password and address == "0.0.0.0"  # a password: the network
    assert argv[argv.index("--secrets.files") + 1] == str(tmp_path / "lab.toml")  # absolute: serve changes folder
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0" and argv[argv.index("--server.port") + 1] == "8123"
    default = serve_argv(parser().parse_args(["serve"]), "127.0.0.1")
    assert default[default.index("--secrets.files") + 1] == str(PROJECT / ".streamlit" / "secrets.toml")
    r = seg("serve", "--secrets", tmp_path / "typo.toml", timeout=60)  # refused, not served without the password
    assert r.returncode == 2 and "typo.toml is not a file" in r.stderr


@pytest.mark.e2e
def test_serve_says_password_set_and_the_app_asks_for_it(tmp_path):
    """`seg serve --secrets F` with a password in F (and none in the project's secrets): it prints "password: set"
    and the app it serves asks for that password."""
    import asyncio

    from served import free_port, serve
    from st_socket import Session, sign_in
    (tmp_path / "lab.toml").write_text('password = "pa55-word"\n')
    port = free_port()
    command = [sys.executable, "-m", "seg", "serve", "--secrets", tmp_path / "lab.toml", "--port", port,
               "--address", "127.0.0.1"]

    async def visit(url):
        async with Session(url) as s:
            return await sign_in(s, "pa55-word")

    with serve(tmp_path / "home", tmp_path, env={"SEGBOARD_PASSWORD": ""}, port=port, command=command) as url:
        printed = (tmp_path / f"streamlit-{port}.log").read_text()
        form, after = asyncio.run(visit(url))
    assert "password: set" in printed, printed
    assert "Password" in form.widgets  # asked first
    assert "Password" not in after.widgets and "Wrong password" not in after.text()  # and this one lets in


@pytest.mark.slow
def test_predicting_while_a_run_trains(home, trained):
    "One device, two users: a prediction in the app while another run trains; both go on, neither fails."
    from training import end_runs, wait_for

    from seg import runs
    root, data = trained
    copy_run(root / "runs", home / "runs")
    run = runs.start(data, home / "runs" / runs.new_name(data), ["--epochs", "300", *TINY])
    try:
        wait_for(run, lambda r: r.batches())
        at = app()
        at.switch_page("pages/predict.py").run()
        at.selectbox(key="predict_run").set_value(RUN).run()
        seen = len(run.batches())
        at.button(key="predict").click().run()
        assert not at.exception and not at.error
        assert {m.label: m.value for m in at.metric}["Images"] == "2"
        wait_for(run, lambda r: len(r.batches()) > seen + 3)
        assert run.status().status == "running"  # the training run did not notice
        run.request_stop()
        wait_for(run, lambda r: r.status().status == "stopped", timeout=120)
    finally:
        end_runs(home / "runs")
