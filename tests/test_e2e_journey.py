"""The whole journey of a user with images and no masks, in Chromium against the served app: make a labels
set from the folder, label a few images by clicking their objects, train on the set, start unlabelled images
from the model's prediction and correct them, retrain with the corrections, and see Dice on the images
nobody corrected before and after."""

import re
import time
from pathlib import Path

import numpy as np
import pytest
from makers import save
from playwright.sync_api import expect
from served import screenshot

from seg.labels.store import LabelSet
from seg.runs import Run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

W = H = 96
N = 8  # images in the folder: 5 labelled by hand, 2 corrected from the model, 1 left


def slides(folder, rng) -> list[list[tuple[int, int]]]:
    "N images of three bright discs each on a noisy dark background (no masks); each image's disc centres."
    centres = []
    yy, xx = np.mgrid[0:H, 0:W]
    for i in range(N):
        spots = [(int(rng.integers(16, 80)), int(rng.integers(16, 32))), (int(rng.integers(16, 80)), 48),
                 (int(rng.integers(16, 80)), int(rng.integers(64, 80)))]  # (x, y), apart in y
        disc = np.zeros((H, W), bool)
        for x, y in spots:
            disc |= (yy - y) ** 2 + (xx - x) ** 2 <= 9 ** 2
        image = np.clip(np.where(disc, 210, 70) + rng.normal(0, 12, (H, W)), 0, 255).astype(np.uint8)
        save(folder / f"slide{i}.png", np.repeat(image[..., None], 3, -1))
        centres.append(spots)
    return centres


def at(canvas, x: float, y: float) -> tuple[float, float]:
    "Where the image's pixel (x, y) is on the screen, the image fitted to the canvas."
    box = canvas.bounding_box()
    zoom = min(box["width"] / W, box["height"] / H)
    return (box["x"] + (box["width"] - W * zoom) / 2 + (x + 0.5) * zoom,
            box["y"] + (box["height"] - H * zoom) / 2 + (y + 0.5) * zoom)


def saved(s: LabelSet, version: int, timeout: float = 60.0) -> None:
    "Until the set holds `version` (each action in the editor saves)."
    end = time.time() + timeout
    while s.version < version:
        assert time.time() < end, f"version {version} never saved (at {s.version})"
        time.sleep(0.3)


def test_images_only_to_a_model_corrected_and_retrained(server, app_home, browser, tmp_path):
    rng = np.random.default_rng(11)
    folder = tmp_path / "slides"
    centres = slides(folder, rng)
    errors = []
    page = browser.new_page(viewport={"width": 1300, "height": 1700})
    page.on("pageerror", lambda e: errors.append(str(e)))

    # -- a labels set from the folder of images
    page.goto(f"{server}/label")
    expect(page.get_by_role("heading", name="Label")).to_be_visible(timeout=90_000)
    page.get_by_role("textbox", name="Name").fill("slides")
    page.get_by_role("textbox", name=re.compile("Folder of images")).fill(str(folder))
    page.get_by_role("button", name="Make the set").click()
    canvas = page.locator("canvas.sb-canvas")
    expect(canvas).to_be_visible(timeout=60_000)
    s = LabelSet(app_home / "labels" / "slides")

    # -- five images labelled: the Object tool on each disc, then the next image
    def label(i: int, version: int) -> int:
        page.locator(".sb-tools button[data-tool='object']").click()
        for x, y in centres[i]:
            page.mouse.click(*at(canvas, x, y))
            version += 1
            saved(s, version)
            expect(page.locator(".sb-status")).to_contain_text(f"Version {version}:", timeout=30_000)
        return version

    version = 0
    for i in range(5):
        expect(page.locator(".sb-status")).to_have_text("Not labelled yet", timeout=30_000)
        page.wait_for_timeout(500)  # the image drawn and fitted
        version = label(i, version)
        page.get_by_role("button", name="Next").click()
    assert s.labelled() == [f"slide{i}" for i in range(5)]
    assert all(set(np.unique(s.mask(f"slide{i}"))) == {0, 1} for i in range(5))

    # -- train on the set: chosen on the Data page, small and short on the Train page
    page.goto(server)  # the Data page
    page.get_by_text("A labels set", exact=True).click()
    expect(page.get_by_text("Ready to train: 5 pairs")).to_be_visible(timeout=60_000)
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Train").click()
    expect(page.get_by_role("heading", name="Train")).to_be_visible(timeout=30_000)
    size = page.get_by_role("slider", name=re.compile("Image size"))
    size.focus()
    while size.get_attribute("aria-valuetext") != "96":
        page.keyboard.press("ArrowLeft")
        page.wait_for_timeout(300)
    page.get_by_role("combobox", name=re.compile("Backbone")).click()
    page.get_by_role("option", name="resnet18").click()
    expect(page.get_by_role("combobox", name=re.compile("Backbone"))).to_have_value("resnet18", timeout=30_000)
    page.get_by_role("button", name="Start training").click()
    expect(page.locator(".stMarkdownBadge", has_text="completed")).to_be_visible(timeout=240_000)
    first = next((app_home / "runs").iterdir()).name

    # -- two unlabelled images started from the model's prediction and corrected (the discs clicked)
    page.goto(f"{server}/label")
    expect(canvas).to_be_visible(timeout=60_000)
    for i in (5, 6):
        page.get_by_role("combobox", name="Image").click()
        page.get_by_role("option", name=f"slide{i}.png", exact=True).click()
        page.get_by_role("button", name="Predict this image").click()
        expect(page.locator(".sb-status")).to_contain_text(f"The prediction of {first}", timeout=60_000)
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Clear", exact=True).click()  # what the model found, cleared ...
        version += 1
        saved(s, version)
        version = label(i, version)  # ... and the discs themselves
        assert s.corrected_from(f"slide{i}") == first
    screenshot(page, "label-correct.png", full_page=True)

    # -- retrain from the model with the corrections; Dice on the images nobody corrected, before and after
    expect(page.get_by_role("heading", name="Retrain with the corrections")).to_be_visible()
    page.get_by_role("spinbutton", name="Minutes").fill("0.5")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Retrain").click()
    expect(page.get_by_text("Watch it on the Train page")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Dice after")).to_be_visible(timeout=300_000)  # no click: the page watches the run
    page.wait_for_timeout(1000)
    value = "[data-testid='stMetricValue']"
    b, a = (float(page.locator("[data-testid='stMetric']", has_text=label).locator(value).inner_text())
            for label in ("Dice before", "Dice after"))
    print(f"Dice on the images nobody corrected: before {b:.3f}, after {a:.3f}")
    # the score rises; on a busy machine the half minute may not be enough: then the retrain keeps the model
    # it started from (never worse) and the page says so
    assert a > b or (a == b and page.get_by_text("No epoch of the retrain beat the model").is_visible()), (b, a)
    # the retrain continued from the model on a copy of the set: the corrections train, the images nobody
    # corrected judge, as many as the page says
    after = Run(next(r for r in (app_home / "runs").iterdir() if r.name != first))
    assert after.config()["from"] and after.config()["labels"] is None
    judged = [Path(p).stem for p in after.config()["dataset"]["valid_images"]]
    assert judged and not {"slide5", "slide6"} & set(judged)
    shown = page.locator("[data-testid='stMetric']", has_text="Images judged").locator(value).inner_text()
    assert shown == str(len(judged))
    assert not errors, errors
