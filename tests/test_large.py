"""Images past Pillow's limit (issue 31): a tiled TIFF read by regions, a bomb refused, a large pair as pairs of regions
trained on from crops at their own pixels, and predicted by tiles into a tiled mask with memory bounded by the tiles,
not the image (a 20,000 x 20,000 image, measured in a subprocess)."""

import dataclasses
import io
import json
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from makers import tiled_discs
from PIL import Image

from seg.data.dataloaders import MAX_CROPS, VALID_CROPS, Crop, dataloaders, scored
from seg.data.dataset import Dataset
from seg.data.images import is_large, read
from seg.data.large import MAX_FREE_BYTES, MAX_LARGE_PIXELS, MAX_SEGMENT_BYTES, Large
from seg.data.stacks import Slice
from seg.errors import ImageError
from seg.model.settings import DataSettings
from seg.prediction.bundle import zip_folder
from seg.server.sharing import Access

ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(7)


@pytest.fixture
def small_limit(monkeypatch):
    "Pillow's limit at 250,000 pixels (a deployment may set it), so images of a few hundred pixels a side are large."
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 250_000)


@pytest.mark.parametrize("layout", ["tiled-rgb", "planar-rgb", "strips", "cyx-pages", "jpeg", "uint16-yxc"])
def test_any_region_reads_what_the_whole_file_holds(tmp_path, layout):
    h, w = 700, 530
    path = tmp_path / f"{layout}.tif"
    if layout == "tiled-rgb":
        a = RNG.integers(0, 255, (h, w, 3), np.uint8)
        tifffile.imwrite(path, a, tile=(128, 64), compression="zlib", photometric="rgb")
    elif layout == "planar-rgb":
        a = RNG.integers(0, 255, (h, w, 3), np.uint8)
        tifffile.imwrite(path, np.moveaxis(a, -1, 0), tile=(128, 128), planarconfig="separate", photometric="rgb")
    elif layout == "strips":
        a = RNG.integers(0, 255, (h, w), np.uint8)
        tifffile.imwrite(path, a, rowsperstrip=37, compression="zlib")
    elif layout == "cyx-pages":  # OME-TIFF: one page a channel
        a = RNG.integers(0, 65535, (h, w, 2), np.uint16)
        tifffile.imwrite(path, np.moveaxis(a, -1, 0), tile=(256, 256), ome=True, metadata={"axes": "CYX"})
    elif layout == "jpeg":
        a = np.kron(RNG.integers(0, 255, (h // 10, w // 10, 3), np.uint8), np.ones((10, 10, 1), np.uint8))
        tifffile.imwrite(path, a, tile=(128, 128), compression="jpeg", photometric="rgb")
        a = tifffile.imread(path)  # lossy: the whole file's own decoding is the truth
    else:
        a = RNG.integers(0, 65535, (h, w, 4), np.uint16)
        tifffile.imwrite(path, a, tile=(64, 64), compression="zlib", planarconfig="contig")
    image = Large.open(path)
    assert (image.height, image.width) == (h, w)
    for y, x, rh, rw in [(0, 0, h, w), (0, 0, 1, 1), (699, 529, 1, 1), (100, 37, 300, 250), (127, 63, 2, 2),
                         (500, 400, 200, 130)]:
        got = image.region(y, x, rh, rw)
        assert (got == a[y:y + rh, x:x + rw].squeeze()).all(), (layout, y, x)
    got, mode = read(Slice(path, box=(100, 37, 300, 250)))  # the reader every page uses
    assert (got == a[100:400, 37:287].squeeze()).all()
    overview = image.overview(100)
    assert max(overview.shape[:2]) <= 100
    assert abs(float(overview.mean()) - float(a.mean())) < 0.02 * max(1.0, float(a.mean()))


def test_a_bomb_a_single_strip_and_too_many_pixels_are_refused_before_decoding(tmp_path):
    zeros = zlib.compress(bytes(4096 * 4096 * 3), 9)  # one tile of zeros, compressed once, stored in every tile
    bomb = tmp_path / "bomb.tif"  # 30,000 x 30,000 RGB of zeros: 2.7 GB decoded from a few MB
    tifffile.imwrite(bomb, (zeros for _ in range(64)), shape=(30000, 30000, 3), dtype=np.uint8, tile=(4096, 4096),
                     compression="zlib", photometric="rgb")
    assert 30000 * 30000 * 3 > MAX_FREE_BYTES and bomb.stat().st_size < 30000 * 30000 * 3 / 500
    assert is_large(bomb)
    with pytest.raises(ImageError, match="decompression bomb") as e:
        Large.open(bomb)
    assert "2,700,000,000 bytes" in e.value.problem
    strip = tmp_path / "strip.tif"  # one strip of 72 MB
    tifffile.imwrite(strip, np.zeros((8000, 9000), np.uint8), rowsperstrip=8000, compression="zlib")
    with pytest.raises(ImageError, match="strips of 72,000,000 bytes") as e:
        Large.open(strip)
    assert "tiled TIFF" in e.value.fix and 72_000_000 > MAX_SEGMENT_BYTES
    wide = tmp_path / "wide.tif"  # 50,000 x 50,000: past the pixels a large image may have
    tile = zlib.compress(bytes(4096 * 4096), 9)
    tifffile.imwrite(wide, (tile for _ in range(13 * 13)), shape=(50000, 50000), dtype=np.uint8, tile=(4096, 4096),
                     compression="zlib")
    with pytest.raises(ImageError, match=f"past the {MAX_LARGE_PIXELS:,}"):
        Large.open(wide)
    with pytest.raises(ImageError, match="past the decompression-bomb limit") as e:  # whole: never decoded
        read(wide)
    assert "tiled TIFF, read by regions" in e.value.fix


def test_damaged_tiled_files_are_problems_never_crashes(tmp_path):
    good = tiled_discs(tmp_path / "good.tif", 600, 700, tile=128)
    data = bytearray(good.read_bytes())
    rng = np.random.default_rng(3)
    for i in range(60):
        bad = bytearray(data)
        for at in rng.integers(0, min(len(bad), 4096) if i % 2 else len(bad), 6):
            bad[at] = rng.integers(0, 256)
        path = tmp_path / f"bad{i}.tif"
        path.write_bytes(bytes(bad))
        try:
            read(Slice(path, box=(0, 0, 300, 300)))
        except ImageError:
            pass


def _large_pair(root: Path, h=900, w=700, mask_size=None) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    tiled_discs(root / "images" / "slide.tif", h, w, tile=128)
    mh, mw = mask_size or (h, w)
    tiled_discs(root / "masks" / "slide.tif", mh, mw, tile=128, mask=True)
    return root


def test_a_large_pair_is_pairs_of_regions_trained_from_crops_at_its_own_pixels(tmp_path, small_limit):
    root, S = _large_pair(tmp_path / "data"), 128  # S: the training size
    d = Dataset.open(root, access=Access.machine())
    assert d.ok and d.crops and d.typical_size() is None  # seen at its own pixels: prediction does not scale
    boxes = [p.image.box for p in d.pairs]
    assert boxes == [(0, 0, 500, 500), (0, 500, 500, 200), (500, 0, 400, 500), (500, 500, 400, 200)]  # 500 = √limit
    assert d.report.name(d.pairs[1].image) == "images/slide.tif[y=0,x=500]"
    train, valid = d.split(0.25, 0)
    assert len(train) == 3 and len(valid) == 1  # regions split as images
    dls = dataloaders(d, DataSettings(size=(S, S), bs=4, augment=False, valid_pct=0.25, seed=0, workers=0))
    items = dls.train.items
    per_region = [min(MAX_CROPS, round(p.image.box[2] * p.image.box[3] / S ** 2)) for p in train]  # area / crop's
    assert all(isinstance(c, Crop) for c in items) and len(items) == sum(per_region) and min(per_region) < MAX_CROPS
    assert all(isinstance(c, Crop) and c.fixed is not None for c in dls.valid.items)
    for c in items[:5]:  # the image's reader draws the window, the mask's reads the same one
        x, y = dls.train_ds[items.index(c)]
        box = c.drawn.image.box
        truth = tifffile.imread(root / "masks" / "slide.tif")[box[0]:box[0] + S, box[1]:box[1] + S]
        assert box[2:] == (S, S) and (np.asarray(y) == truth).all()
        assert c.pair.image.box[0] <= box[0] and box[0] + S <= sum(c.pair.image.box[0::2])
    xb, yb = dls.one_batch()
    assert tuple(xb.shape[-2:]) == (S, S) and tuple(yb.shape[-2:]) == (S, S)
    judged = scored(d, valid, (S, S))  # scored at its own pixels on the fixed crops, not whole regions of tiles
    (y0, x0, h, w), = {p.image.box for p in valid}
    assert len(judged) == VALID_CROPS and all(p.image.box[2:] == (S, S) for p in judged)
    assert {p.image.box[:2] for p in judged} == {(y0, x0), (y0, x0 + w - S), (y0 + h - S, x0), (y0 + h - S, x0 + w - S)}


def test_a_run_on_a_large_pair_trains_from_crops_and_is_scored_on_them(tmp_path, small_limit):
    from training import TINY, cli

    from seg.runs import Run
    root = _large_pair(tmp_path / "data")
    rc, out, err = cli("train", root, "--run-dir", tmp_path / "run", "--epochs", 1, "--valid-pct", 0.25, *TINY)
    assert rc == 0, out + err
    run = Run(tmp_path / "run")
    run.poll()
    cfg = run.config()
    assert cfg["dataset"]["typical_size"] is None and cfg["dataset"]["valid_images"] == ["images/slide.tif"]
    scores = next(e for e in run.events if e["type"] == "scores")
    assert scores["images"] == VALID_CROPS and 0 <= scores["dice"] <= 1


def test_a_large_image_whose_mask_differs_is_left_out_with_the_fix(tmp_path, small_limit):
    root = _large_pair(tmp_path / "data", mask_size=(900, 690))
    d = Dataset.open(root, access=Access.machine())
    assert not d.pairs
    problem = d.report.errors[0]
    assert "700 x 900 pixels, read by regions; the mask is 690 x 900" in problem.problem
    assert "tiled TIFF of the image's size" in problem.fix


def test_a_large_image_predicted_by_tiles_is_the_whole_images_prediction(tmp_path, monkeypatch, finished):
    from seg.data.images import load_image
    from seg.prediction.inference import Predictor
    from seg.prediction.large import predict_large
    from seg.prediction.model import Model
    from seg.prediction.output import predict
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    h, w = 330, 350
    image = tiled_discs(tmp_path / "in" / "slide.tif", h, w, tile=128)
    model = Model.load(finished.run)
    for scale, agree in [((1.0, 1.0), 1.0), (model.scale, 0.99)]:  # native: identical; scaled: tile edges resampled
        m = dataclasses.replace(model, scale=scale)
        predictor = Predictor(m, precision="fp32")
        predict_large(predictor, image, tmp_path / "mask.tif")
        got = tifffile.imread(tmp_path / "mask.tif")
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(Image, "MAX_IMAGE_PIXELS", None)  # whole, for the reference
            whole = predictor.predict(load_image(image), tiles=True)
        assert got.shape == (h, w) and (got == whole).mean() >= agree, scale
    meta = predict(finished.run, image, tmp_path / "out", model=m, access=Access.machine(), rois=True,
                   measure_objects=True)
    record = meta["images"][0]
    assert record["large"] and record["mask"] == "masks/slide.tif" and sum(record["class_pixels"].values()) == h * w
    assert "objects measured a strip at a time" in " ".join(meta["notes"]) and not meta["failed"]
    assert "no ROIs are written" in " ".join(meta["notes"]) and "rois" not in record
    with tifffile.TiffFile(tmp_path / "out" / "masks" / "slide.tif") as tif:
        assert tif.pages[0].is_tiled and tif.pages[0].shape == (h, w)
        got = tif.pages[0].asarray()
    # its objects as the whole mask's, measured in memory: the same rows
    from seg.data.channels import named_channels
    from seg.prediction.measure import objects
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Image, "MAX_IMAGE_PIXELS", None)
        whole = objects(got, m.mask_codes, image="slide", intensity=named_channels(image))
    table = pd.read_csv(tmp_path / "out" / "measurements.csv")
    assert len(table) == len(whole) >= 3 and record["objects_found"] == {"cell": len(whole)}
    pd.testing.assert_frame_equal(table[whole.columns], whole, check_dtype=False, rtol=1e-6)
    assert (tmp_path / "out" / "previews" / "slide.png").stat().st_size > 0


CHILD = """
import dataclasses, json, sys, time
from pathlib import Path
import tifffile
from seg.data.large import Large
from seg.prediction.large import predict_large
from seg.prediction.model import Model
from seg.prediction.output import predict
from seg.prediction.predictors import predictor_for
from seg.server.sharing import Access
run, image, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
model = dataclasses.replace(Model.load(run), scale=(1 / 32, 1 / 32))  # as a run trained on 2,048 px images at 64 px
warm = out.parent / "warm.tif"  # the same path on a part of 3 tiles a side first: torch's own memory, full batches,
# and the runtime `predict` takes, prepared once per weights and kept (an INT8 model made here, not measured below)
tifffile.imwrite(warm, Large.open(image).region(0, 0, 6144, 6144), tile=(512, 512), compression="zlib")
predict_large(predictor_for(model), warm, out.parent / "warm_mask.tif")
def peak():  # VmHWM, in KiB: this process's own peak (ru_maxrss keeps the forking parent's across exec)
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
before = peak()
start = time.time()
meta = predict(run, image, out, model=model, access=Access.machine())
print(json.dumps({"before": before, "after": peak(), "seconds": time.time() - start, "meta": meta}))
"""
GROWTH_LIMIT_MIB = 256  # docs/data.md quotes it: what predicting may add to the process's peak memory


@pytest.mark.slow
def test_a_20000_pixel_square_is_predicted_with_memory_bounded_by_the_tiles(tmp_path, finished):
    image = tiled_discs(tmp_path / "in" / "mosaic.tif", 20000, 20000)  # 400 MB decoded, 1.2 GB as RGB
    (tmp_path / "work").mkdir()
    done = subprocess.run([sys.executable, "-c", CHILD, str(finished.run), str(image), str(tmp_path / "work" / "out")],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    growth = (got["after"] - got["before"]) / 1024
    record = got["meta"]["images"][0]
    assert record["large"] and (record["width"], record["height"]) == (20000, 20000)
    assert sum(record["class_pixels"].values()) == 20000 * 20000
    assert growth < GROWTH_LIMIT_MIB, f"peak memory grew by {growth:.0f} MiB"  # the image alone: 381 MiB
    with tifffile.TiffFile(tmp_path / "work" / "out" / "masks" / "mosaic.tif") as tif:
        page = tif.pages[0]
        assert page.is_tiled and page.shape == (20000, 20000)
        assert (page.asarray()[::997, ::997] < 3).all()


def test_the_data_page_shows_a_large_image_whole_and_a_window_at_its_own_pixels(home, tmp_path, small_limit):
    from apps import open_app
    root = _large_pair(tmp_path / "slides")
    app = open_app()
    app.segmented_control(key="source").set_value("folder").run()
    app.text_input(key="folder").set_value(str(root)).run()
    assert not app.exception, app.exception
    assert app.metric[0].value == "4"  # four regions
    assert any("read by regions" in c.value for c in app.caption)
    images = len(app.image)
    app.selectbox(key="close").set_value(3).run()  # the last region: the window starts there
    start = app.slider(key="data_zoom_3_x").value, app.slider(key="data_zoom_3_y").value
    assert start == (200, 400)  # 700 - 500, 900 - 500
    app.slider(key="data_zoom_3_x").set_value(100).run()
    assert not app.exception and len(app.image) == images
    shown = [i for i in app.image if "its own pixels" in str(i.proto)]
    assert shown and "x 100 to 600, y 400 to 900" in str(shown[0].proto)  # a window of 500: √ the pixel limit


def test_the_predict_page_zooms_into_a_large_prediction_and_refuses_a_tampered_one(home, finished, tmp_path,
                                                                                   small_limit):
    from apps import open_app
    finished.into(home)
    tiled_discs(tmp_path / "in" / "slide.tif", 560, 610, tile=128)
    at = open_app("predict")
    at.segmented_control(key="predict_source").set_value("folder").run()
    at.text_input(key="predict_folder").set_value(str(tmp_path / "in")).run()
    at.button(key="predict").click().run()
    assert not at.exception, at.exception
    assert at.slider(key="zoom:slide_x").max == 610 - 500 and at.slider(key="zoom:slide_y").max == 560 - 500
    at.slider(key="zoom:slide_y").set_value(50).run()
    assert not at.exception and any("y 50 to 550" in str(i.proto) for i in at.image)
    out = next((home / "predictions").iterdir())
    masks = zipfile.ZipFile(io.BytesIO(zip_folder(out / "masks", pattern=("*.png", "*.tif"))))
    assert masks.namelist() == ["masks/slide.tif"]  # the masks download holds the large image's tiled mask
    meta = json.loads((out / "prediction.json").read_text())
    for name in ["../../../../etc/passwd", str(tmp_path / "in" / "slide.tif"), "masks/nothing.tif"]:
        meta["images"][0]["mask"] = name  # prediction.json is a file: a name out of the folder is never read
        (out / "prediction.json").write_text(json.dumps(meta))
        at.run()
        assert not at.exception, at.exception
        assert any("is not a file of the prediction" in c.value for c in at.caption), name


def test_the_overview_comes_from_the_files_own_pyramid_where_it_has_one(tmp_path):
    a = RNG.integers(0, 255, (2048, 1536, 3), np.uint8)
    path = tmp_path / "pyramid.ome.tif"
    with tifffile.TiffWriter(path) as tif:  # as a slide scanner writes: the image, then sub-resolutions
        tif.write(a, subifds=2, tile=(256, 256), photometric="rgb", metadata={"axes": "YXS"})
        tif.write(a[::2, ::2], subfiletype=1, tile=(256, 256), photometric="rgb")
        marked = a[::4, ::4].copy()
        marked[:] = 7  # a level unlike the image: the overview must be read from it
        tif.write(marked, subfiletype=1, tile=(256, 256), photometric="rgb")
    image = Large.open(path)
    assert (image.height, image.width) == (2048, 1536)
    assert (image.overview(400) == 7).all() and image.overview(400).shape == (256, 192, 3)  # level 2: 512 x 384, /2
    assert image.overview(600).shape[:2] == (512, 384) and (image.overview(600) != 7).any()  # level 1


def test_a_large_image_scaled_by_its_own_percentiles_is_scaled_by_the_whole_images_not_each_tiles(tmp_path):
    from seg.data.channels import Input, percentiles
    from seg.prediction.large import whole_image_scaling
    a = np.zeros((1200, 1000, 2), np.uint16)
    a[..., 0] = 100  # a dim background, two bright squares in different channels
    a[100:300, 100:300, 0], a[800:900, 500:900, 1] = 4000, 9000
    path = tmp_path / "two.tif"
    tifffile.imwrite(path, np.moveaxis(a, -1, 0), tile=(256, 256), compression="zlib", metadata={"axes": "CYX"})
    image = Large.open(path)
    seen = Input(kind="channels", pick=(1, 0), scaling="image")
    fixed = whole_image_scaling(seen, image)
    assert fixed.scaling == "dataset" and fixed.pick == (1, 0)
    overview = image.overview(1024)
    assert fixed.low == pytest.approx([percentiles(overview[..., i].astype(np.float32))[0] for i in (1, 0)])
    assert fixed.high == pytest.approx([percentiles(overview[..., i].astype(np.float32))[1] for i in (1, 0)])
    background = fixed.prepare(image.region(0, 600, 100, 100))  # a tile of background stays dark, not stretched
    assert float(background.max()) < 0.05 and whole_image_scaling(Input(), image) == Input()
