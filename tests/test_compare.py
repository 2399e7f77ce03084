"""Runs compared: the settings that differ, curves, final scores with the best marked; the Compare page in
AppTest and, with three real runs, in Chromium (the selection in the address)."""

import pytest
from conftest import ROOT
from playwright.sync_api import expect
from served import screenshot, serve
from streamlit.testing.v1 import AppTest
from training import RUN, TINY, cli

from seg.runs import Run, compare
from seg.runs.manage import set_about

pytestmark = pytest.mark.slow  # two more real runs trained for the comparison (about 45 s)

SECOND, THIRD = "20260101-130000-lr", "20260101-140000-ce"


@pytest.fixture(scope="module")
def three(finished, tmp_path_factory):
    """A home with three real runs: the session's, one at another learning rate for 2 epochs, one with plain
    cross-entropy at 96 px for 2 epochs."""
    home = tmp_path_factory.mktemp("compare")
    finished.into(home)
    for name, extra in ((SECOND, ["--lr", "1e-3"]), (THIRD, ["--loss", "ce", "--size", "96", "--lr", "3e-3"])):
        rc, out, err = cli("train", finished.data, "--run-dir", home / "runs" / name, *TINY, "--epochs", "2", *extra)
        assert rc == 0, out + err
    set_about(Run(home / "runs" / SECOND), title="slower <b>lr</b>", note="tried 1e-3")
    return home


def runs(home):
    out = [Run(home / "runs" / n) for n in (RUN, SECOND, THIRD)]
    for r in out:
        r.poll()
    return out


def test_the_settings_that_differ_and_the_best(three):
    rs = runs(three)
    labels, values = compare.differing(rs)
    assert {"epochs", "learning rate", "image size", "loss"} <= set(labels)
    assert values["epochs"] == [3, 2, 2] and values["image size"] == [64, 64, 96]
    assert values["learning rate"] == [0.003, 0.001, 0.003] and values["loss"][2] == "ce"
    assert "backbone" not in labels and compare.shared(rs)["backbone"] == "resnet18"
    finals = [compare.final(r) for r in rs]
    assert all(f["basis"] == "Dice at the images' own size" and 0 <= f["score"] <= 1 for f in finals)
    assert set(finals[0]["per_class"]) == {"background", "cell"}
    best = compare.best(finals)
    assert finals[best]["score"] == max(f["score"] for f in finals)
    curves = compare.curves(rs[0])
    assert [c["epoch"] for c in curves] == [1, 2, 3] and curves[0]["minutes"] < curves[-1]["minutes"]


def test_the_compare_page_takes_the_runs_from_the_address(three, monkeypatch):
    monkeypatch.setenv("SEGBOARD_HOME", str(three))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/compare.py")
    at.query_params["runs"] = f"{RUN},{THIRD},nonexistent"
    at.run()
    assert not at.exception
    assert at.multiselect(key="compare_runs").value == [RUN, THIRD]
    scores = at.dataframe[0].value  # final scores, then the settings that differ
    assert list(scores["run"]) == [RUN, THIRD] and (scores[""] == "best").sum() == 1
    settings = at.dataframe[1].value
    assert {"epochs", "image size", "loss"} <= set(settings.index)
    at.multiselect(key="compare_runs").select(SECOND).run()
    assert at.query_params["runs"] == f"{RUN},{THIRD},{SECOND}"
    assert "slower <b>lr</b>" in " ".join(at.dataframe[0].value["run"])
    gone = three / "runs" / THIRD  # deleted meanwhile (another page, a colleague): it leaves the choice
    gone.rename(gone.with_name(".moved"))
    try:
        at.run()
        assert not at.exception and at.multiselect(key="compare_runs").value == [RUN, SECOND]
    finally:
        gone.with_name(".moved").rename(gone)


@pytest.mark.e2e
def test_three_runs_compared_in_the_browser(three, browser, tmp_path):
    with serve(three, tmp_path) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/compare?runs={RUN},{SECOND},{THIRD}")
        expect(page.get_by_role("heading", name="Settings that differ")).to_be_visible(timeout=90_000)
        # the curves: two charts, each with the three runs' lines
        charts = page.locator("[data-testid='stPlotlyChart']")
        expect(charts).to_have_count(2, timeout=30_000)
        expect(charts.first.locator("g.trace.scatter")).to_have_count(6, timeout=30_000)  # valid + train per run
        expect(charts.nth(1).locator("g.trace.scatter")).to_have_count(3)
        expect(page.get_by_text("slower <b>lr</b>").first).to_be_visible()  # a title shown as text
        assert page.locator("b", has_text="lr").count() == 0
        expect(page.get_by_text("Best:")).to_be_visible()
        # the settings that differ are in a table (a canvas grid): the page says which by their labels
        grid = page.locator("[data-testid='stDataFrame']").nth(1)
        expect(grid).to_be_visible()
        page.get_by_text("minutes", exact=True).click()  # curves against wall time
        expect(charts.first.locator(".xtitle")).to_have_text("minutes", timeout=30_000)
        page.wait_for_timeout(1500)
        screenshot(page, "compare.png")
        assert not errors, errors
