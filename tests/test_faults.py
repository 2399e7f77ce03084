"""Faults a run must survive with its data intact and a clear status: the disk refusing the weights,
a damaged weights file, the server restarted and the browser closed while a run trains. (A training
process killed with SIGKILL: tests/test_train_cli.py.)"""

import json
import resource
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT
from playwright.sync_api import expect
from served import serve
from streamlit.testing.v1 import AppTest
from training import TINY, cli, copy_run, demo, kill, wait_for

from seg import runs
from seg.runs import Run


def files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_disk_full_while_saving_weights(tmp_path):
    "A file-size limit (as a full disk or a quota would) refuses the weights: the run fails saying so."
    data = demo(tmp_path / "demo")
    limit = 2 * 2**20  # the log, config and samples fit; a U-Net's weights (50 MB and more) do not

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    p = subprocess.run([sys.executable, "-m", "seg", "train", str(data), "--run-dir", str(tmp_path / "r"),
                        "--epochs", "3", *TINY], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       preexec_fn=small_files)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "Traceback" not in p.stdout
    run = Run(tmp_path / "r")
    run.poll()
    s = run.status()
    assert s.status == "failed"
    assert "The weights could not be saved" in s.message and "file-size limit" in s.message, s.message
    assert len(run.epochs()) == 1  # the first epoch's save failed: the run ended there, not two epochs later
    assert json.loads(run.config_path.read_text())["codes"]  # config and event log whole and readable
    for line in run.events_path.read_text().splitlines():
        json.loads(line)
    assert not list(run.path.glob(".*.tmp")) and not list(run.path.glob("*.pth"))  # no half-written weights
    assert run.samples()  # what it made before is kept


def test_a_damaged_weights_file(finished, tmp_path, monkeypatch):
    run = tmp_path / "20260101-000000-damaged"
    copy_run(finished.run, run)
    best = run / "best.pth"
    best.unlink()  # a hard link of last.pth: damage a copy of its own
    best.write_bytes((run / "last.pth").read_bytes()[:5000])
    before = files(run)
    rc, _, err = cli("predict", run, "--valid", "--out", tmp_path / "out")  # cli(): no traceback either
    assert rc == 2 and "could not be read as a state dict" in err and "damaged" in err and "best/last" in err
    assert not (tmp_path / "out").exists()
    rc, _, err = cli("predict", run, "--valid", "--weights", "last", "--out", tmp_path / "out")
    assert rc == 0, err  # the other weights still work
    # the app: the Predict page says the same, and nothing of the run changes
    home = tmp_path / "home"
    copy_run(run, home / "runs" / run.name)
    monkeypatch.setenv("SEGBOARD_HOME", str(home))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/predict.py").run()
    at.button(key="predict").click().run()
    assert not at.exception, at.exception
    assert "could not be read as a state dict" in at.error[0].value
    assert files(home / "runs" / run.name) == before and files(run) == before


def progress_text(page) -> str:
    return page.locator("[data-testid='stProgress']").first.inner_text(timeout=30_000)


def batches(run: Run) -> int:
    run.poll()
    return len(run.batches())


def goes_on(run: Run, timeout: float = 60) -> bool:
    "A new batch arrives (a batch takes a second or ten on a busy 2-core machine)."
    seen, deadline = batches(run), time.time() + timeout
    while batches(run) <= seen and time.time() < deadline:
        time.sleep(0.5)
    return batches(run) > seen


@pytest.mark.e2e
def test_browser_closed_and_server_restarted_mid_run(browser, tmp_path):
    "The run goes on without its viewer and its server; a new server shows it live and can stop it."
    home = tmp_path / "home"
    data = demo(tmp_path / "demo", n=10)
    run = runs.start(data, home / "runs" / runs.new_name(data), ["--epochs", "200", *TINY])  # as the app does
    try:
        wait_for(run, lambda r: r.batches())
        with serve(home, tmp_path, keep_runs=True) as url:
            page = browser.new_page(viewport={"width": 1300, "height": 1200})
            page.goto(f"{url}/train?run={run.name}")
            expect(page.locator(".stMarkdownBadge", has_text="running")).to_be_visible(timeout=90_000)
            expect(page.locator("[data-testid='stProgress']")).to_be_visible(timeout=30_000)
            page.close()  # the browser goes away mid-run
            assert goes_on(run)
        # the server is gone too: the run is not
        assert goes_on(run) and run.status().status == "running"
        with serve(home, tmp_path, keep_runs=True) as url:  # a restart: a new server, the same workspace
            page = browser.new_page(viewport={"width": 1300, "height": 1200})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{url}/train")
            expect(page.locator(".stMarkdownBadge", has_text="running")).to_be_visible(timeout=90_000)
            first = progress_text(page)
            deadline = time.time() + 60
            while progress_text(page) == first and time.time() < deadline:
                page.wait_for_timeout(500)
            assert progress_text(page) != first  # re-attached: the live view moves on its own
            page.get_by_role("button", name="Stop").click()
            expect(page.locator(".stMarkdownBadge", has_text="stopped")).to_be_visible(timeout=90_000)
            assert not errors, errors
        run.poll()
        assert run.status().status == "stopped"
        assert torch.load(run.path / "last.pth", weights_only=True)
        for line in run.events_path.read_text().splitlines():
            json.loads(line)
    finally:
        kill(json.loads((run.path / "launch.json").read_text())["pid"])
