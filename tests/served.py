"""The real app served for browser tests: `streamlit run app.py` on a free port with its own
SEGBOARD_HOME, and Debian's Chromium driven by Playwright (it cannot download its own browsers here)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

import pytest
from conftest import ROOT
from playwright.sync_api import expect, sync_playwright

# A check's default wait, Playwright's 5 s, is shorter than a served app takes to draw what a click asked
# for while the other worker trains: the Predict page's two images came 5 s after their caption once,
# with the suite in two workers (a check that holds returns at once; only a failing one waits this long).
expect.set_options(timeout=20_000)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"


def screenshot(target, name: str, **kw) -> bytes:
    """A page's or element's screenshot, for the docs: written to docs/screenshots/NAME only when
    SEGBOARD_SCREENSHOTS=1 (`make screenshots`); otherwise taken and dropped, so a test run changes no
    tracked file. The PNG's bytes either way."""
    data = target.screenshot(**kw)
    if os.environ.get("SEGBOARD_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / name).write_bytes(data)
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class URL(str):
    "The served app's address, and `pid`: the server process's (its memory is in /proc/<pid>/status)."
    pid: int


@contextmanager
def serve(home, log_dir, env=None, port=None, keep_runs=False, cwd=None, command=None):
    """`streamlit run app.py` (of the checkout `cwd`, default this one), or `command` (an argv that serves
    on `port`, e.g. `python -m seg serve`; its output is in the log); yields the URL (a `URL`). Runs outlive a
    server by design: unless `keep_runs`, the ones this server's home holds are killed at the end, so no
    test leaves one behind."""
    port = port or free_port()
    env = {**os.environ, "SEGBOARD_HOME": str(home), **(env or {})}
    log = open(log_dir / f"streamlit-{port}.log", "a+")
    command = command or [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                          "--server.address", "127.0.0.1", "--server.headless", "true"]
    proc = subprocess.Popen(list(map(str, command)), cwd=cwd or ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = URL(f"http://127.0.0.1:{port}")
    url.pid = proc.pid
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        log.seek(0)
        pytest.fail("streamlit did not start:\n" + log.read())
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
        if not keep_runs:
            from training import end_runs
            end_runs(home / "runs")


@contextmanager
def chromium():
    assert os.path.exists(CHROMIUM), "Debian's chromium is needed for browser tests: apt-get install chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield b
        finally:
            b.close()
