"""A run's report: one HTML file from the CLI and the Train page, opened offline in Chromium on a file://
page with every section drawn; whatever a user supplied shown as text."""

import base64
import hashlib
import re

import pytest
from apps import open_app
from playwright.sync_api import expect
from served import screenshot
from training import RUN, cli

from seg.runs import Run
from seg.runs.manage import set_about

SECTIONS = ["summary", "settings", "dataset", "curves", "scores", "samples", "versions"]
EVIL = "<img src=x onerror=\"document.title='pwned'\"> cells & <b>nuclei</b>"


@pytest.fixture(scope="module")
def report(finished, tmp_path_factory):
    "The CLI's report of a copy of the session's run, given a title and note with HTML in them."
    home = tmp_path_factory.mktemp("report")
    run = finished.into(home)
    set_about(Run(run), title=EVIL, note="line one\n<script>document.title='pwned'</script>")
    out = home / "report.html"
    rc, said, err = cli("report", run, "--out", out)
    assert rc == 0, err
    assert "report written" in said
    return out


def test_the_report_holds_every_section_and_nothing_from_the_network(report):
    text = report.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f"<section id={section}>" in text
    assert "<script src" not in text and "http://" not in text.split("<script>")[0]  # Plotly is inside the file
    assert "<img src=x" not in text and "&lt;img src=x" in text  # the title as text
    assert "Dice at the images&#x27; own size" in text and "<td>background</td>" in text and "<td>cell</td>" in text


def script_src(text: str) -> list[str]:
    "The sources the report's Content-Security-Policy allows scripts from."
    policy = re.search(r"<meta http-equiv='Content-Security-Policy' content=\"([^\"]*)\">", text).group(1)
    directives = dict((d.split()[0], d.split()[1:]) for d in policy.split(";") if d.strip())
    assert directives["default-src"] == ["'none'"]
    return directives["script-src"]


def test_the_report_runs_only_its_own_scripts(report):
    "Every inline script is allowed by its hash, and nothing else: no 'unsafe-inline', no 'unsafe-eval'."
    text = report.read_text(encoding="utf-8")
    allowed = script_src(text)
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", text, re.S)
    assert len(scripts) == 4  # Plotly itself and one call drawing each of the three charts
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in scripts}
    assert set(allowed) == hashes
    assert "'unsafe-inline'" not in allowed and "'unsafe-eval'" not in allowed


@pytest.mark.e2e
def test_the_report_opens_offline_in_chromium(report, browser):
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(report.as_uri())
    for section in SECTIONS:
        expect(page.locator(f"section#{section}")).to_be_visible()
    # three interactive charts drawn by the Plotly inside the file: loss, scores, batch loss
    expect(page.locator("#curves .js-plotly-plot .main-svg").first).to_be_visible(timeout=30_000)
    assert page.locator("#curves .js-plotly-plot").count() == 3
    expect(page.locator("#curves g.trace.scatter").first).to_be_visible()
    # scores per class, the validation images worst first (the session's run has 2), the versions
    expect(page.locator("#scores td", has_text="cell").first).to_be_visible()
    assert page.locator("#samples figure img").count() == 2
    assert page.locator("#samples figcaption").first.inner_text().split("Dice ")[1] <= \
        page.locator("#samples figcaption").nth(1).inner_text().split("Dice ")[1]
    expect(page.locator("#versions td", has_text="fastai")).to_be_visible()
    # the title and note are text: no element made of them, no script ran
    expect(page.locator("h1")).to_have_text(EVIL)
    assert page.locator("#summary h1 *, #summary .note *, #summary img").count() == 0
    assert page.title() == f"{EVIL}: segboard report"  # no script set it to 'pwned'
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    screenshot(page.locator("#curves"), "report.png")
    # the chart's own "Download plot as png" (drawn through a blob: image, which the policy allows)
    page.locator("#curves .js-plotly-plot").first.hover()
    with page.expect_download() as png:
        page.locator("#curves .modebar-btn[data-title^='Download plot']").first.click()
    assert png.value.suggested_filename.endswith(".png")
    assert not errors, errors  # a Content-Security-Policy refusal would be a console error
    # and the policy holds: a script the report did not carry does not run
    assert page.evaluate("""() => { const s = document.createElement('script'); s.textContent =
        "document.title = 'ran'"; document.body.append(s); return document.title }""") != "ran"
    assert errors and "Content Security Policy" in errors[0], errors


def test_the_train_page_offers_the_report(finished, home):
    finished.into(home)
    at = open_app("train", run=RUN)
    assert not at.exception
    assert any(getattr(b, "label", "") == "Report (HTML, opens offline)"
               for b in at.get("download_button")), [e.type for e in at.get("download_button")]


def test_a_report_needs_a_file_and_a_run(finished, report, tmp_path):
    rc, _, err = cli("report", finished.run, "--out", tmp_path)
    assert rc == 2 and "is a folder" in err
    mine = tmp_path / "notes.html"  # a user's own file is never written over; an earlier report is replaced
    mine.write_text("<html>my notes</html>")
    rc, _, err = cli("report", finished.run, "--out", mine, "--no-samples")
    assert rc == 2 and "did not write" in err and mine.read_text() == "<html>my notes</html>"
    rc, _, _ = cli("report", finished.run, "--out", report, "--no-samples")
    assert rc == 0 and "image | truth | prediction" in report.read_text()
    rc, _, err = cli("report", tmp_path, "--out", tmp_path / "r.html")
    assert rc == 2 and "not a run folder" in err
