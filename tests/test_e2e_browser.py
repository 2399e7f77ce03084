"""The real app in a real browser: `streamlit run` on a free port, Debian's Chromium driven by
Playwright. Takes the README's screenshots (written with `make screenshots`)."""

import re
import time

import pytest
from playwright.sync_api import expect
from served import screenshot, serve

pytestmark = pytest.mark.e2e


def test_app_opens_on_the_demo_dataset_with_its_gallery(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    expect(page.get_by_text("Ready to train: 64 pairs")).to_be_visible(timeout=90_000)
    expect(page.get_by_role("heading", name="Gallery")).to_be_visible()
    gallery = page.locator("[data-testid='stImage'] img")
    expect(gallery.nth(11)).to_be_visible(timeout=30_000)  # the first gallery page: 12 thumbnails
    expect(page.get_by_text("000.png").first).to_be_visible()
    expect(page.locator("[data-testid='stSidebar']").get_by_text("Dataset: demo dataset")).to_be_visible()
    page.wait_for_timeout(1500)  # let the Plotly charts finish drawing
    assert len(screenshot(page, "data.png")) > 50_000
    assert not errors, errors
    page.close()


def test_a_folder_with_problems_shows_them(server, browser, tmp_path):
    from makers import dataset
    dataset(tmp_path / "bad", n=4)
    (tmp_path / "bad" / "masks" / "01.png").write_bytes(b"garbage")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    expect(page.get_by_text("Ready to train")).to_be_visible(timeout=90_000)
    page.get_by_text("Folder on the server").click()
    box = page.get_by_label("Folder path on the server")
    box.fill(str(tmp_path / "bad"))
    box.press("Enter")
    expect(page.get_by_text("training is blocked until they are fixed")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("masks/01.png")).to_be_visible()
    expect(page.locator("[data-testid='stSidebar']").get_by_text("Dataset: none chosen yet")).to_be_visible()
    page.wait_for_timeout(500)
    screenshot(page, "data-problems.png")
    page.close()


def test_a_zip_uploaded_from_the_browser(server, browser, tmp_path):
    import zipfile

    from makers import dataset
    src = dataset(tmp_path / "pipes", n=7, mask_values=(0, 255), codes=["pipe", "crack"])
    archive = tmp_path / "pipes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in src.rglob("*"):
            zf.write(f, f.relative_to(tmp_path))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    expect(page.get_by_text("Ready to train")).to_be_visible(timeout=90_000)
    page.get_by_text("Upload a zip").click()
    page.locator("input[type='file']").set_input_files(str(archive))
    expect(page.get_by_text("Ready to train: 7 pairs, classes pipe, crack")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid='stSidebar']").get_by_text("Dataset: ")).to_be_visible()
    page.close()


def test_train_on_the_demo_watch_reload_stop(server, browser):
    "Start a run on the demo dataset, see the loss chart grow, reload, still see the run, stop it."
    page = browser.new_page(viewport={"width": 1400, "height": 1900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    expect(page.get_by_text("Ready to train: 64 pairs")).to_be_visible(timeout=90_000)
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Train").click()
    expect(page.get_by_role("heading", name="Train")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Estimated time: about")).to_be_visible()
    # smaller and lighter than the defaults (256 px, resnet34), so the first epoch ends in seconds on a CPU
    size = page.get_by_role("slider", name=re.compile("Image size"))
    size.focus()
    for _ in range(4):  # 256 -> 128 px, one step of 32 a key
        page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(400)
    expect(size).to_have_attribute("aria-valuetext", "128", timeout=30_000)
    page.get_by_role("combobox", name=re.compile("Backbone")).click()
    page.get_by_role("option", name="resnet18").click()
    expect(page.get_by_role("combobox", name=re.compile("Backbone"))).to_have_value("resnet18", timeout=30_000)
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Training loss per batch")).to_be_visible(timeout=120_000)
    points = "el => (el.data && el.data[0]) ? el.data[0].x.length : 0"  # Plotly keeps the traces on its div
    chart = page.locator(".js-plotly-plot").first
    first = chart.evaluate(points)
    deadline = time.time() + 120
    while chart.evaluate(points) <= first and time.time() < deadline:  # the chart grows, no click needed
        page.wait_for_timeout(500)
    assert chart.evaluate(points) > first
    expect(page.locator("[data-testid='stSidebar']").get_by_text("Training: ")).not_to_have_text("Training: nothing")
    # After the first epoch: metrics and the validation predictions; the README's screenshot.
    expect(page.get_by_text("image | truth | prediction")).to_be_visible(timeout=180_000)
    page.wait_for_timeout(1500)
    screenshot(page, "train.png")

    page.reload()  # a new session: the run is read back from its folder
    expect(page.get_by_text("Training loss per batch")).to_be_visible(timeout=60_000)
    expect(page.locator(".stMarkdownBadge", has_text="running")).to_be_visible()
    page.get_by_role("button", name="Stop").click()
    expect(page.locator(".stMarkdownBadge", has_text="stopped")).to_be_visible(timeout=120_000)
    expect(page.get_by_text("Stopped on request")).to_be_visible()
    assert not errors, errors
    page.close()


def test_predict_side_by_side_and_download_masks(server, browser, app_home, tmp_path, finished):
    "A finished run, then the Predict page: validation images worst first beside the truth, the masks zip."
    import zipfile

    name = finished.into(app_home, "20260101-120000-cells").name
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/predict?run={name}")
    expect(page.get_by_role("heading", name="Predict")).to_be_visible(timeout=90_000)
    page.get_by_role("button", name="Predict", exact=True).click()
    expect(page.get_by_text("image | truth | prediction | errors")).to_be_visible(timeout=120_000)
    expect(page.get_by_text("Scores per class")).to_be_visible()
    expect(page.locator("[data-testid='stImage']")).to_have_count(2)  # 12 pairs, 20% validation
    expect(page.get_by_text("Confusion (share of each true class)")).to_be_visible()
    expect(page.get_by_text("Size distribution")).to_be_visible()
    page.wait_for_timeout(1500)
    screenshot(page, "predict.png", full_page=True)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Masks (zip of PNGs)").click()
    path = tmp_path / "masks.zip"
    download.value.save_as(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert len(names) == 2 and all(n.startswith("masks/") and n.endswith(".png") for n in names)
    assert not errors, errors
    page.close()


def test_a_link_to_a_page_opens_in_the_frame_on_a_fresh_server(browser, tmp_path):
    "The first visit after a start is a link to a page: the page still comes with the sidebar and the menu."
    with serve(tmp_path / "home", tmp_path) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/predict?run=20260101-000000-nothing")
        expect(page.get_by_role("heading", name="Predict")).to_be_visible(timeout=90_000)
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar.get_by_text("Device: ")).to_be_visible(timeout=30_000)
        expect(sidebar.get_by_role("link", name="Train")).to_be_visible()
        expect(sidebar.get_by_role("link", name="common")).to_have_count(0)  # not the pages/ folder's own menu
        assert "/predict" in page.url and "run=" in page.url
        page.close()
