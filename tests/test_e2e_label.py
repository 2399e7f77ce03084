"""The Label page's editor in Chromium: strokes drawn with the mouse are saved as exact class values (no
anti-aliasing), undo, fill and polygon; two people on one image lose nothing; class names stay text."""

import re
import time

import numpy as np
import pytest
from makers import save
from PIL import Image
from playwright.sync_api import expect
from served import screenshot

from seg.labels.store import LabelSet

pytestmark = pytest.mark.e2e

W, H = 160, 120


def labels_set(app_home, tmp_path, name, classes=("background", "cell", "rod")) -> LabelSet:
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(120, 10, (H, W, 3)), 0, 255).astype(np.uint8)
    save(tmp_path / name / "slide.png", image)
    return LabelSet.create(app_home / "labels", name, list(classes), source=tmp_path / name)


def open_editor(browser, server, name, errors):
    page = browser.new_page(viewport={"width": 1200, "height": 1400})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/label")
    expect(page.get_by_role("heading", name="Label")).to_be_visible(timeout=90_000)
    chooser = page.get_by_role("combobox", name=re.compile("Labels set"))
    expect(chooser).to_be_visible(timeout=60_000)
    if chooser.input_value() != name:
        chooser.click()
        page.get_by_role("option", name=name, exact=True).click()
        expect(chooser).to_have_value(name, timeout=30_000)
    canvas = page.locator("canvas.sb-canvas")
    expect(canvas).to_be_visible(timeout=60_000)
    page.wait_for_timeout(800)  # the image drawn and fitted
    return page, canvas


def at(canvas, x: float, y: float) -> tuple[float, float]:
    "Where the image's pixel (x, y) is on the screen, with the image fitted to the canvas (as it opens)."
    box = canvas.bounding_box()
    zoom = min(box["width"] / W, box["height"] / H)
    left = box["x"] + (box["width"] - W * zoom) / 2
    top = box["y"] + (box["height"] - H * zoom) / 2
    return left + (x + 0.5) * zoom, top + (y + 0.5) * zoom


def stroke(page, canvas, points):
    page.mouse.move(*at(canvas, *points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*at(canvas, *p), steps=8)
    page.mouse.up()


def saved(s: LabelSet, version: int, timeout=30.0) -> np.ndarray:
    "The mask once the set holds `version` (each action saves)."
    end = time.time() + timeout
    while time.time() < end:
        if s.mask_version("slide") >= version:
            return s.mask("slide")
        time.sleep(0.2)
    raise AssertionError(f"version {version} never saved (at {s.mask_version('slide')})")


def test_strokes_drawn_with_the_mouse_are_saved_as_exact_class_values(server, browser, app_home, tmp_path):
    s = labels_set(app_home, tmp_path, "drawn")
    errors = []
    page, canvas = open_editor(browser, server, "drawn", errors)
    page.locator(".sb-legend button[data-class='1']").click()  # "cell"
    stroke(page, canvas, [(20, 30), (120, 30)])
    mask = saved(s, 1)
    assert mask.shape == (H, W) and mask.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 1}  # no value between the two: nothing anti-aliased
    assert (mask[30, 22:118] == 1).all() and 8 * 90 <= (mask == 1).sum() <= 10 * 110  # 8 px wide, ~100 long
    assert (mask[:20] == 0).all() and (mask[45:] == 0).all()
    page.locator(".sb-legend button[data-class='2']").click()  # "rod", then a polygon
    page.locator(".sb-tools button[data-tool='polygon']").click()
    for p in [(30, 70), (90, 70), (90, 100), (30, 100)]:
        page.mouse.click(*at(canvas, *p))
    page.mouse.click(*at(canvas, 30, 70))  # back on the first corner: closed and filled
    mask = saved(s, 2)
    assert set(np.unique(mask)) == {0, 1, 2} and (mask[72:98, 32:88] == 2).all()
    assert 55 * 28 <= (mask == 2).sum() <= 63 * 33
    screenshot(page, "label.png", full_page=True)
    canvas.focus()
    page.keyboard.press("Control+z")  # the polygon undone
    mask = saved(s, 3)
    assert set(np.unique(mask)) == {0, 1}
    page.locator(".sb-tools button[data-tool='fill']").click()
    page.mouse.click(*at(canvas, 5, 110))  # the background, filled with "rod"
    mask = saved(s, 4)
    assert set(np.unique(mask)) == {1, 2} and (mask[30, 22:118] == 1).all()
    assert [h["how"] for h in s.record("slide")["history"]] == ["drawn"] * 4
    assert not errors, errors
    page.close()


def test_two_people_on_one_image_lose_nothing_and_class_names_stay_text(server, browser, app_home, tmp_path):
    s = labels_set(app_home, tmp_path, "shared", ("background", "<img src=x onerror=alert(1)>cell"))
    errors, dialogs = [], []
    first, canvas1 = open_editor(browser, server, "shared", errors)
    second, canvas2 = open_editor(browser, server, "shared", errors)  # a page of its own: another session
    for page in (first, second):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    expect(first.locator(".sb-legend").get_by_text("<img src=x onerror=alert(1)>cell")).to_be_visible()
    first.locator(".sb-legend button[data-class='1']").click()
    stroke(first, canvas1, [(10, 10), (60, 10)])
    a = saved(s, 1)
    second.locator(".sb-legend button[data-class='1']").click()
    stroke(second, canvas2, [(10, 100), (60, 100)])  # drawn on the version both opened
    b = saved(s, 2)
    assert (b[100, 15:55] == 1).all() and not (b[10, 15:55] == 1).any()  # the later save is the mask ...
    kept = np.asarray(Image.open(s.path / "backups" / "slide.v1.png"))
    assert (kept == a).all()  # ... and the earlier is kept, and said so
    expect(second.get_by_text("while you edited it")).to_be_visible(timeout=30_000)
    assert not dialogs and not errors, (dialogs, errors)
    first.close()
    second.close()


def test_a_models_prediction_corrected_is_saved_with_its_run(server, browser, app_home, tmp_path, finished):
    name = finished.into(app_home, "20260101-120000-cells").name
    image = Image.open(sorted((finished.data / "images").iterdir())[0]).convert("RGB").resize((W, H))
    save(tmp_path / "fromrun" / "slide.png", np.asarray(image))
    s = LabelSet.create(app_home / "labels", "fromrun", ["background", "cell"], source=tmp_path / "fromrun")
    errors = []
    page, canvas = open_editor(browser, server, "fromrun", errors)
    page.get_by_role("button", name="Predict this image").click()
    expect(page.get_by_text(f"The prediction of {name}")).to_be_visible(timeout=60_000)
    page.locator(".sb-tools button[data-tool='erase']").click()
    stroke(page, canvas, [(5, 5), (40, 5)])  # the correction: a stroke of background
    mask = saved(s, 1)
    assert set(np.unique(mask)) <= {0, 1} and (mask[5, 7:38] == 0).all()
    last = s.record("slide")["history"][-1]
    assert last["how"] == "corrected" and last["run"] == name
    assert not errors, errors
    page.close()


def test_the_object_tool_takes_the_object_under_the_click(server, browser, app_home, tmp_path):
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:H, 0:W]
    disc = (yy - 60) ** 2 + (xx - 80) ** 2 <= 20 ** 2
    image = np.clip(np.where(disc, 220, 110) + rng.normal(0, 8, (H, W)), 0, 255).astype(np.uint8)
    save(tmp_path / "objects" / "slide.png", np.repeat(image[..., None], 3, -1))
    s = LabelSet.create(app_home / "labels", "objects", ["background", "cell"], source=tmp_path / "objects")
    errors = []
    page, canvas = open_editor(browser, server, "objects", errors)
    page.locator(".sb-tools button[data-tool='object']").click()
    page.mouse.click(*at(canvas, 80, 60))
    mask = saved(s, 1)
    assert (mask & disc).sum() / (mask.astype(bool) | disc).sum() > 0.85  # the disc, and little else
    assert s.record("slide")["history"][-1]["how"] == "assisted"
    expect(page.locator(".sb-status")).to_have_text("Version 1: assisted", timeout=30_000)
    canvas.focus()
    page.keyboard.press("Control+z")  # the object taken back
    assert (saved(s, 2) == 0).all()
    assert not errors, errors
    page.close()


def test_strokes_then_fill_then_accept(server, browser, app_home, tmp_path):
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:H, 0:W]
    disc = ((yy - 60) ** 2 + (xx - 50) ** 2 <= 22 ** 2) | ((yy - 50) ** 2 + (xx - 120) ** 2 <= 15 ** 2)
    image = np.clip(np.where(disc, 210, 100) + rng.normal(0, 10, (H, W)), 0, 255).astype(np.uint8)
    save(tmp_path / "assist" / "slide.png", np.repeat(image[..., None], 3, -1))
    s = LabelSet.create(app_home / "labels", "assist", ["background", "cell"], source=tmp_path / "assist")
    errors = []
    page, _ = open_editor(browser, server, "assist", errors)
    page.get_by_text("Strokes, then fill").click()
    canvas = page.locator("canvas.sb-canvas")
    expect(page.get_by_role("button", name="Fill from strokes")).to_be_disabled(timeout=30_000)
    page.locator(".sb-legend button[data-class='1']").click()
    stroke(page, canvas, [(40, 60), (60, 60)])  # inside the left disc
    page.locator(".sb-legend button[data-class='0']").click()
    stroke(page, canvas, [(5, 10), (150, 10)])  # the background, above both
    stroke(page, canvas, [(85, 100), (150, 100)])
    expect(page.get_by_role("button", name="Fill from strokes")).to_be_enabled(timeout=30_000)
    page.get_by_role("button", name="Fill from strokes").click()
    page.get_by_role("button", name="Accept the fill").click(timeout=60_000)
    mask = saved(s, 1, timeout=60)
    assert set(np.unique(mask)) <= {0, 1}
    assert 2 * (mask.astype(bool) & disc).sum() / (mask.astype(bool).sum() + disc.sum()) > 0.9  # both discs found
    assert s.record("slide")["history"][-1]["how"] == "assisted"
    # on to correct it, in the one editor: the strokes' editor stays, faded, until the page's run has finished
    # (seen with the other core busy and a training beside it), then goes
    expect(page.locator(".sb-status", has_text="Version 1: assisted")).to_be_visible(timeout=60_000)
    expect(page.locator(".sb-status")).to_have_count(1, timeout=90_000)
    assert not errors, errors
    page.close()


def test_in_a_set_of_objects_each_object_takes_an_id_of_its_own(server, browser, app_home, tmp_path):
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:H, 0:W]
    disc = (yy - 90) ** 2 + (xx - 130) ** 2 <= 16 ** 2
    image = np.clip(np.where(disc, 220, 100) + rng.normal(0, 8, (H, W)), 0, 255).astype(np.uint8)
    save(tmp_path / "nuclei" / "slide.png", np.repeat(image[..., None], 3, -1))
    s = LabelSet.create(app_home / "labels", "nuclei", ["background", "nucleus"], source=tmp_path / "nuclei",
                        objects=True)
    errors = []
    page, canvas = open_editor(browser, server, "nuclei", errors)
    expect(page.get_by_text("Objects: nucleus, one id each")).to_be_visible()
    stroke(page, canvas, [(10, 20), (40, 20)])  # on the background: object 1
    mask = saved(s, 1)
    assert mask.dtype == np.uint16 and set(np.unique(mask)) == {0, 1}
    stroke(page, canvas, [(10, 32), (40, 32)])  # begun on the background: object 2
    mask = saved(s, 2)
    assert set(np.unique(mask)) == {0, 1, 2} and (mask[32, 12:38] == 2).all()
    stroke(page, canvas, [(25, 20), (25, 5)])  # begun on object 1: object 1 grows
    mask = saved(s, 3)
    assert set(np.unique(mask)) == {0, 1, 2} and (mask[6:20, 25] == 1).all()
    page.locator(".sb-tools button[data-tool='polygon']").click()
    for p in [(60, 60), (90, 60), (90, 80)]:
        page.mouse.click(*at(canvas, *p))
    page.mouse.click(*at(canvas, 60, 60))
    mask = saved(s, 4)
    assert set(np.unique(mask)) == {0, 1, 2, 3} and mask[65, 85] == 3
    page.locator(".sb-tools button[data-tool='object']").click()
    page.mouse.click(*at(canvas, 130, 90))  # the disc, found on the server: object 4
    mask = saved(s, 5)
    assert (mask == 4).sum() / ((mask == 4) | disc).sum() > 0.85
    expect(page.locator(".sb-status")).to_contain_text("4 object(s)", timeout=30_000)
    page.locator(".sb-tools button[data-tool='erase']").click()
    stroke(page, canvas, [(5, 32), (45, 32)])  # object 2 erased
    mask = saved(s, 6)
    assert set(np.unique(mask)) == {0, 1, 3, 4}
    assert not errors, errors
    page.close()
