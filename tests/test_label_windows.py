"""A large image labelled by windows (seg/labels/windows.py, the Label page): a window's pixels copied into the set
as an image of its own, as stored; every box a browser could send, a link out of the roots and a name that is
another image's, refused or kept apart."""

import numpy as np
import pytest
import tifffile
from makers import MACHINE, tiled_discs
from PIL import Image

from seg import Dataset
from seg.data.images import read
from seg.data.tiff import channel_names
from seg.errors import LabelsError
from seg.labels.store import LabelSet
from seg.labels.windows import add_window, copied, window_of
from seg.server.sharing import Access

RNG = np.random.default_rng(5)


@pytest.fixture
def small_limit(monkeypatch):
    "Pillow's limit at 250,000 pixels, so an image of 900 x 700 is large and a window is 500 pixels a side."
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 250_000)


def _two_channels(path, h=900, w=700) -> np.ndarray:
    "A tiled 16-bit OME-TIFF of two named channels; its pixels (H, W, 2)."
    a = RNG.integers(0, 65535, (2, h, w), np.uint16)
    tifffile.imwrite(path, a, tile=(128, 128), compression="zlib", ome=True,
                     metadata={"axes": "CYX", "Channel": {"Name": ["DAPI", "GFP"]}})
    return np.moveaxis(a, 0, -1)


def test_a_window_is_an_image_of_the_set_with_the_large_images_own_pixels(home, tmp_path, small_limit):
    src = tmp_path / "slides"
    src.mkdir()
    path = src / "slide.tif"
    a = _two_channels(path)
    before = path.read_bytes()
    s = LabelSet.create(home / "labels", "slides", ["background", "cell"], source=src)
    key = add_window(s, path, (400, 200, 500, 500), MACHINE)
    assert key == "slide@x200-y400-500x500"
    copy = s.path / "images" / f"{key}.tif"
    got, mode = read(copy)  # as stored: 16 bits, two channels, their names
    assert mode == "C2" and got.dtype == np.uint16 and np.array_equal(got, a[400:900, 200:700])
    assert channel_names(copy) == ["DAPI", "GFP"]
    assert window_of(s, key) == (str(path.resolve()), (400, 200, 500, 500))
    assert copy in s.sources(MACHINE) and path in s.sources(MACHINE)  # its own item, beside the large image
    mask = np.zeros((500, 500), np.uint8)
    mask[100:200, 100:300] = 1
    assert s.save(copy, mask, "drawn", access=MACHINE).version == 1
    assert s.labelled() == [key] and s.record(key)["history"][0]["how"] == "drawn"
    # asked for again: the same item, nothing written again; another window, another item
    stamp = copy.stat().st_mtime_ns
    assert add_window(s, path, (400, 200, 500, 500), MACHINE) == key and copy.stat().st_mtime_ns == stamp
    assert s.mask(key)[150, 150] == 1
    other = add_window(s, path, (0, 0, 500, 500), MACHINE)
    assert other == "slide@x0-y0-500x500"
    s.save(s.path / "images" / f"{other}.tif", mask, "drawn", access=MACHINE)
    ds = Dataset.open(s.path, access=MACHINE)  # pairs of the set: trained on as any other
    assert ds.ok and [p.image.name for p in ds.pairs] == [f"{other}.tif", copy.name]
    assert {p.mode for p in ds.usable} == {"C2"}
    assert path.read_bytes() == before  # the large image only read


@pytest.mark.parametrize("layout, mode", [("rgb", "RGB"), ("gray16", "L"), ("float-channels", "C5")])
def test_a_window_keeps_the_pixels_and_mode_of_any_layout(home, tmp_path, small_limit, layout, mode):
    src = tmp_path / "slides"
    src.mkdir()
    if layout == "rgb":
        a = RNG.integers(0, 255, (700, 600, 3), np.uint8)
        tifffile.imwrite(src / "x.tif", a, tile=(128, 128), photometric="rgb")
    elif layout == "gray16":
        a = RNG.integers(0, 65535, (700, 600), np.uint16)
        tifffile.imwrite(src / "x.tif", a, tile=(128, 128))
    else:
        a = RNG.random((700, 600, 5)).astype(np.float32)
        tifffile.imwrite(src / "x.tif", a, tile=(128, 128), photometric="minisblack", planarconfig="contig")
    s = LabelSet.create(home / "labels", "x", ["background", "cell"], source=src)
    key = add_window(s, src / "x.tif", (100, 50, 500, 500), MACHINE)
    got, read_mode = read(s.path / "images" / f"{key}.tif")
    assert read_mode == mode and got.dtype == a.dtype and np.array_equal(got, a[100:600, 50:550])


@pytest.mark.parametrize("box", [
    (401, 200, 500, 500),  # past the bottom
    (0, 201, 500, 500),  # past the right
    (-1, 0, 500, 500),  # before the top
    (0, 0, 0, 500),  # empty
    (0, 0, 501, 500),  # larger than a window
    (0, 0, 10 ** 30, 10 ** 30),
    (10 ** 30, 0, 500, 500),
    (0.5, 0, 500, 500),  # not whole numbers
    ("0", "0", "500", "500"),
    (True, 0, 500, 500),
    (0, 0, 500),  # three
    (0, 0, 500, 500, 1),
    None,
    "0,0,500,500",
    [[0], [0], [500], [500]],
])
def test_a_box_no_slider_gives_is_refused_and_nothing_is_written(home, tmp_path, small_limit, box):
    src = tmp_path / "slides"
    src.mkdir()
    tiled_discs(src / "slide.tif", 900, 700, tile=128)
    s = LabelSet.create(home / "labels", "slides", ["background", "cell"], source=src)
    with pytest.raises(LabelsError) as e:
        add_window(s, src / "slide.tif", box, MACHINE)
    assert e.value.fix == "Place the window with the sliders."
    assert not any((s.path / "images").iterdir()) and not any((s.path / "records").iterdir())


def test_a_link_out_of_the_viewers_folders_is_never_copied(home, tmp_path, small_limit):
    src, private = tmp_path / "slides", tmp_path / "private"
    src.mkdir()
    private.mkdir()
    tiled_discs(private / "secret.tif", 900, 700, tile=128)
    (src / "slide.tif").symlink_to(private / "secret.tif")
    s = LabelSet.create(home / "labels", "slides", ["background", "cell"], source=src)
    with pytest.raises(LabelsError) as e:
        add_window(s, src / "slide.tif", (0, 0, 500, 500), Access((src,)))
    assert "is not read" in e.value.problem
    with pytest.raises(LabelsError):  # nor the file itself
        add_window(s, private / "secret.tif", (0, 0, 500, 500), Access((src,)))
    assert not any((s.path / "images").iterdir())


def test_a_window_never_takes_the_name_of_an_image_of_the_folder(home, tmp_path, small_limit):
    src = tmp_path / "slides"
    src.mkdir()
    tiled_discs(src / "b.tif", 900, 700, tile=128)
    Image.fromarray(np.full((40, 40), 7, np.uint8)).save(src / "b@x0-y0-500x500.png")  # a name a window would take
    tiled_discs(src / "glob[1]*?.tif", 900, 700, tile=128)
    s = LabelSet.create(home / "labels", "slides", ["background", "cell"], source=src)
    key = add_window(s, src / "b.tif", (0, 0, 500, 500), MACHINE)
    assert key == "b@x0-y0-500x500-2" and add_window(s, src / "b.tif", (0, 0, 500, 500), MACHINE) == key
    s.save(src / "b@x0-y0-500x500.png", np.ones((40, 40), np.uint8), "drawn", access=MACHINE)
    assert s.image_path("b@x0-y0-500x500").suffix == ".png" and s.mask("b@x0-y0-500x500").shape == (40, 40)
    odd = add_window(s, src / "glob[1]*?.tif", (400, 200, 500, 500), MACHINE)
    s.save(s.path / "images" / f"{odd}.tif", np.ones((500, 500), np.uint8), "drawn", access=MACHINE)
    assert s.mask(odd).shape == (500, 500) and s.mask(key) is None
    assert len(s.sources(MACHINE)) == 5  # three of the folder, two windows
    # the page draws a window's mask over the large image, its `-2` name or not
    from ui.labelling import window_mask
    assert copied(s, (src / "b.tif").resolve(), (0, 0, 500, 500)) == key
    assert copied(s, (src / "b.tif").resolve(), (0, 100, 500, 500)) is None
    s.save(s.path / "images" / f"{key}.tif", np.full((500, 500), 1, np.uint8), "drawn", access=MACHINE)
    assert (window_mask(s, (src / "b.tif").resolve(), (0, 0, 500, 500)) == 1).all()
    assert not window_mask(s, (src / "b.tif").resolve(), (0, 100, 500, 500)).any()


def _label_page_on_a_large_image(tmp_path):
    from apps import open_app
    tiled_discs(tmp_path / "slides" / "a-slide.tif", 900, 700, tile=128)
    app = open_app("label")
    app.text_input[0].set_value("slides")
    app.text_input[1].set_value("background, cell")
    app.text_input[2].set_value(str(tmp_path / "slides"))
    app.button[0].click().run()
    assert not app.exception, app.exception
    return app


def test_the_label_page_labels_a_window_of_a_large_image(home, tmp_path, small_limit):
    app = _label_page_on_a_large_image(tmp_path)
    assert "the mask editor opens a window of it" in app.info[0].value
    assert app.slider(key="label_zoom:a-slide_y").max == 900 - 500  # a window of 500: √ the pixel limit
    app.slider(key="label_zoom:a-slide_y").set_value(400).run()
    next(b for b in app.button if b.label == "Label this window").click().run()
    assert not app.exception, app.exception
    s = LabelSet(home / "labels" / "slides")
    assert [f.name for f in (s.path / "images").iterdir()] == ["a-slide@x0-y400-500x500.tif"]
    assert any("A window of `a-slide.tif`: x 0, y 400, 500 x 500 pixels." in c.value for c in app.caption)
    assert "a-slide@x0-y400-500x500.tif" in app.selectbox[1].format_func(app.selectbox[1].value)  # opened
    s.save(s.path / "images" / "a-slide@x0-y400-500x500.tif", np.ones((500, 500), np.uint8), "drawn",
           access=MACHINE)
    next(b for b in app.button if b.label == "Previous").click().run()  # back on the large image: one window
    assert not app.exception, app.exception
    assert any(c.value == "Windows of it in the set: 1." for c in app.caption)


def test_a_forged_window_place_and_a_read_only_viewer_copy_nothing(home, tmp_path, small_limit, monkeypatch):
    app = _label_page_on_a_large_image(tmp_path)
    app.slider(key="label_zoom:a-slide_y").set_value(10 ** 9).run()  # past what the slider allows: Streamlit
    assert not app.exception, app.exception                             # keeps the slider's range, and a box
    assert 0 <= app.slider(key="label_zoom:a-slide_y").value <= 400     # from elsewhere is refused by add_window
    assert any("y 0 to 500" in str(i.proto) for i in app.image)         # (test_a_box_no_slider_gives ...)
    monkeypatch.setenv("SEGBOARD_READ_ONLY", "1")
    monkeypatch.setenv("SEGBOARD_ROOTS", str(tmp_path / "slides"))
    app.slider(key="label_zoom:a-slide_y").set_value(0).run()
    assert not app.exception, app.exception
    assert any("y 0 to 500" in str(i.proto) for i in app.image)  # the window shown ...
    assert not any(b.label == "Label this window" for b in app.button)  # ... but not copied
    assert not any((home / "labels" / "slides" / "images").iterdir())


def test_a_read_only_app_refuses_a_window_whatever_the_page_drew(home, tmp_path, small_limit, monkeypatch):
    "The copy itself checks: a forged message cannot reach it in a read-only app, even were the button drawn."
    from seg.errors import AccessError
    from ui import labelling
    src = tmp_path / "slides"
    src.mkdir()
    tiled_discs(src / "slide.tif", 900, 700, tile=128)
    s = LabelSet.create(home / "labels", "slides", ["background", "cell"], source=src)
    monkeypatch.setenv("SEGBOARD_READ_ONLY", "1")
    monkeypatch.setenv("SEGBOARD_ROOTS", str(src))
    with pytest.raises(AccessError):
        labelling.add_window(s, src / "slide.tif", (0, 0, 500, 500))
    assert not any((s.path / "images").iterdir())
