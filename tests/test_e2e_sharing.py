"""Sharing in a real browser: a colleague with the link and the password watches a run and browses
predictions in a read-only app, changing nothing; five viewers at once on a live run."""

import json
import statistics
import time

import pytest
from playwright.sync_api import expect
from served import serve
from training import TINY, cli, demo, kill

from seg import runs

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse 42"


def snapshot(root):
    return {p: p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A workspace with a finished run, its prediction, and a run training now (started as the app starts one),
    shared by the module's tests: a test's server keeps the run (`keep_runs`), the fixture ends it."""
    tmp_path = tmp_path_factory.mktemp("live")
    home = tmp_path / "home"
    data = demo(tmp_path / "cells", n=12, size=96)
    done = home / "runs" / "20260101-120000-cells"
    rc, _, err = cli("train", data, "--run-dir", done, "--epochs", 1, *TINY)
    assert rc == 0, err
    rc, _, err = cli("predict", done, "--valid", "--out", home / "predictions" / "20260101-130000-cells", "--measure")
    assert rc == 0, err  # in this process: no second fastai import
    run = runs.start(data, home / "runs" / runs.new_name(data), ["--epochs", "500", *TINY])
    yield home, done, run
    kill(json.loads((run.path / "launch.json").read_text())["pid"])


def progress(page) -> str:
    return page.locator("[data-testid='stProgress']").first.inner_text(timeout=30_000)


def test_a_colleague_with_the_link_and_the_password_changes_nothing(live, browser, tmp_path):
    home, done, run = live
    kept = snapshot(done) | snapshot(home / "predictions")
    env = {"SEGBOARD_PASSWORD": PASSWORD, "SEGBOARD_READ_ONLY": "1"}
    with serve(home, tmp_path, env=env, keep_runs=True) as url:
        page = browser.new_page(viewport={"width": 1300, "height": 1400})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/train?run={run.name}")
        field = page.get_by_label("Password", exact=True)
        expect(field).to_be_visible(timeout=90_000)
        expect(page.get_by_role("heading", name="Train")).to_have_count(0)
        expect(page.locator("[data-testid='stSidebarNav']")).to_have_count(0)  # no menu before the password
        field.fill("correct horse")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Wrong password")).to_be_visible(timeout=30_000)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        # the run, live: the page the link named, after the password
        expect(page.get_by_role("heading", name="Train")).to_be_visible(timeout=60_000)
        expect(page.locator(".stMarkdownBadge", has_text="running")).to_be_visible(timeout=60_000)
        first = progress(page)
        deadline = time.time() + 60
        while progress(page) == first and time.time() < deadline:
            page.wait_for_timeout(500)
        assert progress(page) != first
        expect(page.get_by_role("button", name="Start training")).to_have_count(0)
        expect(page.get_by_role("button", name="Stop")).to_be_disabled()
        expect(page.get_by_text("Read-only: this app is shared for browsing")).to_be_visible()

        # predictions to browse, none to make
        page.locator("[data-testid='stSidebar']").get_by_role("link", name="Predict").click()
        expect(page.get_by_text("Prediction shown")).to_be_visible(timeout=60_000)
        page.get_by_role("combobox").first.click()  # the model: the finished run
        page.get_by_role("option", name="20260101-120000-cells").click()
        expect(page.locator("[data-testid='stImage']").first).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Predict", exact=True)).to_have_count(0)
        # the masks to take away, but no model bundle: each one is a fastai export and an ONNX conversion on the
        # server (an attack downloaded it five times: 11 CPU-s, then 2-6 each, and 350 MB held per download)
        expect(page.get_by_role("button", name="Masks (zip of PNGs)")).to_be_enabled()
        expect(page.get_by_role("button", name="Model bundle (zip)")).to_be_disabled()

        # no upload on the Data page
        page.locator("[data-testid='stSidebar']").get_by_role("link", name="Data").click()
        expect(page.get_by_role("heading", name="Data")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Upload a zip")).to_have_count(0)
        assert PASSWORD not in page.content()
        assert not errors, errors
        run.poll()
        assert run.status().status == "running" and not run.stop_requested()  # nobody could touch it
    log = "".join(p.read_text() for p in tmp_path.glob("streamlit-*.log"))
    assert PASSWORD not in log  # never printed or logged
    assert snapshot(done) | snapshot(home / "predictions") == kept


UPDATES = 5  # progress changes each viewer must see


def test_five_viewers_on_a_live_run(live, browser, tmp_path, capsys):
    """Five browsers at once on a live run: each view keeps moving (until each has seen UPDATES changes of the
    progress, however long that takes on this machine), no errors. Prints how fast."""
    home, _, run = live
    with serve(home, tmp_path, keep_runs=True) as url:
        run.poll()
        t = [b["t"] for b in run.batches()][-50:]  # the run's pace before the five opened
        alone = f"{(len(t) - 1) / (t[-1] - t[0]):.2f}" if len(t) > 1 and t[-1] > t[0] else "not measured"
        pages, errors = [], []
        for _ in range(5):
            page = browser.new_context(viewport={"width": 1200, "height": 1000}).new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{url}/train?run={run.name}")
            pages.append(page)
        for page in pages:
            expect(page.locator(".stMarkdownBadge", has_text="running")).to_be_visible(timeout=120_000)
            expect(page.locator("[data-testid='stProgress']")).to_be_visible(timeout=120_000)
        run.poll()
        batches_before, started = len(run.batches()), time.time()
        seen = [[(time.time(), progress(p))] for p in pages]
        while min(len(v) for v in seen) <= UPDATES:
            assert time.time() - started < 180, [len(v) - 1 for v in seen]  # a view that stopped moving
            for views, page in zip(seen, pages):
                text = progress(page)
                if text != views[-1][1]:
                    views.append((time.time(), text))
            pages[0].wait_for_timeout(250)
        elapsed = time.time() - started
        run.poll()
        batch_rate = (len(run.batches()) - batches_before) / elapsed
        for page in pages:
            expect(page.locator("[data-testid='stException']")).to_have_count(0)
        assert not errors, errors
    changes = [len(v) - 1 for v in seen]
    gaps = [b[0] - a[0] for v in seen for a, b in zip(v, v[1:])]
    with capsys.disabled():
        print(f"\nfive viewers: {UPDATES} updates each in {elapsed:.0f} s (seen per viewer {changes}), median "
              f"{statistics.median(gaps):.2f} s between updates (max {max(gaps):.2f} s); "
              f"the run trained {batch_rate:.2f} batches/s meanwhile ({alone} before they opened; the five "
              f"browsers run on the same cores)")
