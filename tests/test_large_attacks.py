"""Attacks on the large-image path (seg/data/large.py, seg/data/regions.py, ui/zoom.py, the Predict page's zoom):
hand-made TIFF headers and tiles that must end as ImageError (a problem in the report, a caption on a page), never
as another exception, a hang or a decoder allocating far past what the header promises. Files are kept small by
setting Pillow's limit to 250,000 pixels (`small_limit`), which makes a few hundred pixels a side "large"."""

import json
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import imagecodecs
import numpy as np
import pytest
import tifffile
from makers import tiled_discs
from PIL import Image

from seg.data.images import header, is_large, read
from seg.data.large import Large
from seg.data.stacks import Slice
from seg.errors import ImageError
from seg.server.sharing import Access

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def small_limit(monkeypatch):
    "Pillow's limit at 250,000 pixels, so images of a few hundred pixels a side are large."
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 250_000)


def _overwrite(path: Path, tag: str, value, page: int = 0) -> Path:
    "One tag of one page rewritten in place (tifffile's TiffTag.overwrite)."
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[page].tags[tag].overwrite(value)
    return path


def _counts(path: Path, page: int = 0) -> list[int]:
    with tifffile.TiffFile(path) as tif:
        return [int(n) for n in tif.pages[page].databytecounts]


def _pair(root: Path, h=900, w=700) -> Path:
    "images/slide.tif and masks/slide.tif, tiled 128 x 128: large under `small_limit`."
    tiled_discs(root / "images" / "slide.tif", h, w, tile=128)
    tiled_discs(root / "masks" / "slide.tif", h, w, tile=128, mask=True)
    return root


def _jpeg_claiming(side: int) -> bytes:
    "A 16 x 16 baseline JPEG of zeros whose frame header (SOF0) says `side` x `side`: libjpeg decodes the claim."
    b = bytearray(imagecodecs.jpeg8_encode(np.zeros((16, 16), np.uint8)))
    at = b.find(b"\xff\xc0")
    b[at + 5:at + 9] = side.to_bytes(2, "big") * 2
    return bytes(b)


# -- Failing: problems found


def test_a_tile_length_of_zero_is_a_problem_not_a_crash_of_dataset_open(tmp_path, small_limit):
    """TileLength 0 in the image of a large pair: Large.open reaches tifffile's `chunked` (imagelength / tilelength),
    whose ZeroDivisionError is not among the exceptions regions.expand turns into a problem: Dataset.open crashes."""
    from seg.data.dataset import Dataset
    root = _pair(tmp_path / "data")
    _overwrite(root / "images" / "slide.tif", "TileLength", 0)
    assert is_large(root / "images" / "slide.tif")
    d = Dataset.open(root, access=Access.machine())
    assert not d.pairs and d.report.errors
    with pytest.raises(ImageError):
        Large.open(root / "images" / "slide.tif")



def _zoom_script(path: str, mask: str | None = None):
    "ui/zoom.py's `large` alone in AppTest, as the Data, Label and Predict pages call it (the mask: a large one's)."
    import sys
    from pathlib import Path

    import numpy as np
    sys.path.insert(0, str(Path.cwd()))
    from seg.data.codes import Codes
    from seg.data.overlay import Overlay
    from ui import zoom
    from ui.predictions import mask_window
    mask_of = (lambda box: mask_window(Path(mask), box)) if mask else (lambda box: np.zeros(box[2:], np.uint8))
    zoom.large(Path(path), mask_of, Overlay(Codes(("background", "cell"))), key="z")


def _zoom(path: Path, mask: Path | None = None):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_function(_zoom_script, args=(str(path), str(mask) if mask else None), default_timeout=30)
    return at.run()


def test_the_zoom_survives_a_damaged_tile(tmp_path, small_limit):
    """One tile of a large image damaged (its byte count cut to 1: zlib fails). Reading a region through `read` says
    so (ImageError), but ui/zoom.py reads the overview with Large.overview -> region -> the decoder directly and
    catches only ImageError and OSError: the DeflateError fails the page (Data page's Close look of any pair of the
    image, the Label page, the Predict page's zoom)."""
    path = tiled_discs(tmp_path / "slide.tif", 900, 700, tile=128)
    counts = _counts(path)
    counts[-1] = 1  # the bottom-right tile
    _overwrite(path, "TileByteCounts", tuple(counts))
    with pytest.raises(ImageError):
        read(Slice(path, box=(800, 600, 100, 100)))
    at = _zoom(path)
    assert not at.exception, at.exception


def test_the_zoom_survives_an_image_whose_rows_per_strip_are_zero(tmp_path, small_limit):
    """A stripped large image with RowsPerStrip 0: is_large says yes (the Label page then shows it by ui/zoom.py), and
    Large.open raises tifffile's TiffFileError (a ValueError), which zoom.large does not catch (ImageError, OSError)
    and neither does the Label page (ImageError, LabelsError): the page fails. Large.open should say ImageError."""
    path = tmp_path / "strips.tif"
    tifffile.imwrite(path, np.random.default_rng(0).integers(0, 255, (600, 700), np.uint8), rowsperstrip=37,
                     compression="zlib")
    _overwrite(path, "RowsPerStrip", 0)
    assert is_large(path)
    at = _zoom(path)
    assert not at.exception, at.exception
    with pytest.raises(ImageError):
        Large.open(path)


@pytest.mark.parametrize("name", ["prediction.json", "previews/slide.png", "masks/small.tif"])
def test_the_predict_pages_zoom_survives_a_tampered_mask_inside_the_prediction_folder(tmp_path, small_limit, name):
    """prediction.json names the large image's mask; output_file only confines the name to the prediction folder, so
    a tampered name may still be any file in it: prediction.json or a preview PNG (Large.open: TiffFileError) or the
    tiled mask of another, smaller image of the same prediction (Large.region: ValueError once the window is moved
    past the mask's edge). zoom.large calls the
    Predict page's mask_window inside a try that catches only ImageError and OSError: the page fails."""
    from ui.predictions import output_file
    image = tiled_discs(tmp_path / "in" / "slide.tif", 700, 700, tile=128)
    folder = tmp_path / "prediction"
    (folder / "previews").mkdir(parents=True)
    (folder / "prediction.json").write_text(json.dumps({"images": [{"mask": name}]}))
    Image.new("RGB", (64, 64)).save(folder / "previews" / "slide.png")
    tiled_discs(folder / "masks" / "small.tif", 600, 600, tile=128, mask=True)
    mask = output_file(SimpleNamespace(path=folder), name)  # allowed: it is a file of the prediction
    at = _zoom(image, mask)
    assert not at.exception, at.exception
    at.slider(key="z_x").set_value(200).run()  # the window at the image's right edge: past a smaller mask's
    assert not at.exception, at.exception


def test_a_damaged_pyramid_level_leaves_the_overview_to_the_image(tmp_path):
    """A slide whose image is whole but whose sub-resolution (a SubIFD the dataset scan never reads) has every tile's
    byte count cut to 1: Large._level reads it with asarray and catches ValueError, OSError ... but not the codec's
    DeflateError (a RuntimeError), so Large.overview raises it: the zoom's page fails, and _predict_large (which
    makes its preview with overview_image after predicting) lets it out of `predict`."""
    a = np.random.default_rng(1).integers(0, 255, (1024, 768, 3), np.uint8)
    path = tmp_path / "pyramid.ome.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(a, subifds=1, tile=(256, 256), photometric="rgb", metadata={"axes": "YXS"})
        tif.write(a[::2, ::2], subfiletype=1, tile=(256, 256), photometric="rgb", compression="zlib")
    with tifffile.TiffFile(path, mode="r+b") as tif:
        level = tif.series[0].levels[1].pages[0]
        level.tags["TileByteCounts"].overwrite((1,) * len(level.databytecounts))
    image = Large.open(path)
    assert (image.region(0, 0, 1024, 768) == a).all()  # the image itself is whole
    try:
        overview = image.overview(300)
    except ImageError:
        return
    assert overview.shape == (256, 192, 3)


def test_a_large_image_that_fails_to_open_is_a_failed_image_of_the_prediction(tmp_path, small_limit, finished):
    """Predicting a folder holding a large image with TileLength 0: Large.open's ZeroDivisionError (tifffile's
    `chunked`) once escaped and ended the whole prediction (the Predict page's `predict` catches SettingsError only);
    it is an entry of `failed`, and the prediction goes on."""
    from seg.prediction.output import predict
    path = tiled_discs(tmp_path / "in" / "slide.tif", 600, 700, tile=128)
    _overwrite(path, "TileLength", 0)
    meta = predict(finished.run, path, tmp_path / "out", access=Access.machine())
    failed = meta["failed"]
    assert not meta["images"] and failed and failed[0]["image"] == str(path)


def test_byte_counts_that_lie_do_not_get_a_bomb_past_the_ratio_check(tmp_path):
    """The bomb check compares decoded bytes with the sum of the TileByteCounts the header claims. A 1.6 MB file of
    100 compressed 4096 x 4096 tiles of zeros (40,000 x 40,000 pixels, 1.6 GB decoded) is refused as it is; with
    each byte count rewritten to 2**31 (the reader then just reads to the end of the file) it passes, and every
    region of it decodes. The stored bytes should be bounded by the file's size."""
    zeros = zlib.compress(bytes(4096 * 4096), 9)
    path = tmp_path / "bomb.tif"
    tifffile.imwrite(path, (zeros for _ in range(100)), shape=(40000, 40000), dtype=np.uint8, tile=(4096, 4096),
                     compression="zlib")
    with pytest.raises(ImageError, match="decompression bomb"):
        Large.open(path)
    _overwrite(path, "TileByteCounts", (2**31,) * 100)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(ImageError, match="decompression bomb"):
        Large.open(path)


CHILD = """
import sys
from pathlib import Path
from PIL import Image
from seg.data.images import read
from seg.data.stacks import Slice
from seg.errors import ImageError

def peak():  # VmHWM: this process's own peak (ru_maxrss keeps the forking parent's across exec)
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))

Image.MAX_IMAGE_PIXELS = 250_000
path = Path(sys.argv[1])
try:
    read(Slice(path, box=(0, 0, 8, 8)))  # warm: the readers' own memory (a 16 x 16 JPEG decodes nothing big)
except ImageError:
    pass
before = peak()
try:
    read(Slice(path, box=(300, 300, 8, 8)))
except ImageError as e:
    print("ImageError", e.problem)
print((peak() - before) // 1024)
"""


def test_a_jpeg_tile_whose_frame_claims_more_than_the_tile_is_not_decoded_whole(tmp_path):
    """A large JPEG-tiled TIFF (a supported layout) of 600 x 700 in 128 x 128 tiles, 10 kB in all: every tile is a
    16 x 16 JPEG whose frame header says 20,000 x 20,000. tifffile passes the tile's shape to imagecodecs, which
    decodes the frame's claimed size anyway (400 MB) before the reshape fails; the tile limit (MAX_SEGMENT_BYTES) and
    the bomb check trust the TIFF's tile size. Reading an 8 x 8 region then takes ~380 MiB (up to 4 GiB a tile at
    65,535 a side, times the threads of Dataset.open): measured in a subprocess."""
    path = tmp_path / "jpeg.tif"
    tiles = [_jpeg_claiming(16)] + [_jpeg_claiming(20000)] * 29  # tile 0 for the warm-up read
    tifffile.imwrite(path, iter(tiles), shape=(600, 700), dtype=np.uint8, tile=(128, 128), compression="jpeg")
    assert path.stat().st_size < 20_000
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("ImageError")  # it is refused in the end ...
    assert int(lines[-1]) < 100, f"peak memory grew by {lines[-1]} MiB reading an 8 x 8 region"  # ... too late


# -- Passing: attacks the code already survives


def test_a_link_named_like_a_large_image_to_a_file_outside_the_allowed_folder_is_not_read(tmp_path, small_limit):
    """images/slide.tif is a symlink to a large tiled TIFF outside the only folder the viewer may read (and the mask a
    link to that file's mask): Dataset.open must neither make regions of it nor read its pixels."""
    from seg.data.dataset import Dataset
    secret = _pair(tmp_path / "secret")
    root = tmp_path / "allowed" / "data"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "images" / "slide.tif").symlink_to(secret / "images" / "slide.tif")
    (root / "masks" / "slide.tif").symlink_to(secret / "masks" / "slide.tif")
    tiled_discs(root / "images" / "own.tif", 600, 700, tile=128)
    tiled_discs(root / "masks" / "own.tif", 600, 700, tile=128, mask=True)
    d = Dataset.open(root, access=Access((tmp_path / "allowed",)))
    assert d.pairs and all(p.image.name == "own.tif" for p in d.pairs)  # the own image's regions only
    assert all(str(secret) not in str(p.image) and str(secret) not in str(p.mask) for p in d.pairs)


@pytest.mark.parametrize("layout", ["planar-5", "bigtiff-rgb", "strips-of-37"])
def test_regions_at_every_edge_and_corner_are_the_files_pixels(tmp_path, layout):
    """Boxes on each edge, corner and tile seam of layouts the reader computes indices for itself (planar
    configuration 2 with 5 samples: sample s's tiles after s - 1 planes of tiles; BigTIFF's 64-bit offsets; strips
    whose last one is short) read exactly the file's pixels."""
    rng = np.random.default_rng(5)
    h, w, path = 601, 701, tmp_path / f"{layout}.tif"
    if layout == "planar-5":
        a = rng.integers(0, 255, (h, w, 5), np.uint8)
        tifffile.imwrite(path, np.moveaxis(a, -1, 0), tile=(128, 128), planarconfig="separate", compression="zlib")
    elif layout == "bigtiff-rgb":
        a = rng.integers(0, 255, (h, w, 3), np.uint8)
        tifffile.imwrite(path, a, tile=(128, 128), bigtiff=True, photometric="rgb", compression="zlib")
    else:
        a = rng.integers(0, 65535, (h, w), np.uint16)
        tifffile.imwrite(path, a, rowsperstrip=37, compression="zlib")
    image = Large.open(path)
    for y, x, bh, bw in [(0, 0, 1, w), (h - 1, 0, 1, w), (0, w - 1, h, 1), (0, 0, h, 1), (h - 1, w - 1, 1, 1),
                         (127, 127, 2, 2), (36, 0, 2, w), (h - 130, w - 130, 130, 130)]:
        assert (image.region(y, x, bh, bw) == a[y:y + bh, x:x + bw]).all(), (layout, y, x)
    with pytest.raises(ImageError):  # a box past the edge, as a page might ask: refused, not read
        read(Slice(path, box=(h - 10, w - 10, 20, 20)))


@pytest.mark.parametrize("attack", ["TileWidth=17", "TileWidth=65535", "TileLength=65535", "sparse", "Compression=7777",
                                    "BitsPerSample=12", "BitsPerSample=24", "Compression=7", "offsets-past-eof"])
def test_hostile_tile_headers_are_image_errors_through_read_and_header(tmp_path, small_limit, attack):
    """A large tiled image's header rewritten: tile sizes that do not divide the image (17) or exceed it, every tile
    sparse (offsets and counts 0), an unknown compression, zlib tiles labelled JPEG, 12- and 24-bit samples over 8-bit
    data, offsets past the end of the file: `read` and `header` of a region (what every page and Dataset.open use)
    give the pixels or ImageError, nothing else."""
    path = tiled_discs(tmp_path / "slide.tif", 600, 700, tile=128)
    n = len(_counts(path))
    if attack == "sparse":
        _overwrite(path, "TileByteCounts", (0,) * n)
        _overwrite(path, "TileOffsets", (0,) * n)
    elif attack == "offsets-past-eof":
        _overwrite(path, "TileOffsets", (10**8,) * n)
    else:
        tag, value = attack.split("=")
        _overwrite(path, tag, int(value))
    for box in [(0, 0, 1, 1), (599, 699, 1, 1), (100, 100, 400, 500)]:
        for reader in (header, read):
            try:
                reader(Slice(path, box=box))
            except ImageError:
                pass


def test_a_jpeg_tiff_read_whole_whose_frames_claim_more_than_their_tiles_is_not_decoded(tmp_path):
    """The same JPEG tiles claiming 20,000 x 20,000 frames, in a TIFF small enough to be read whole (the ordinary
    reader, seg/data/images.py): refused from the tiles' first bytes, before the decoder allocates the claim."""
    path = tmp_path / "jpeg-small.tif"
    tifffile.imwrite(path, iter([_jpeg_claiming(20000)] * 9), shape=(300, 350), dtype=np.uint8, tile=(128, 128),
                     compression="jpeg")
    script = CHILD.replace("Image.MAX_IMAGE_PIXELS = 250_000", "").replace(
        "read(Slice(path, box=(0, 0, 8, 8)))", "Image.new('L', (8, 8))").replace(
        "read(Slice(path, box=(300, 300, 8, 8)))", "read(path)")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("ImageError") and "says it is 20000 x 20000" in lines[0], lines
    assert int(lines[-1]) < 50, f"peak memory grew by {lines[-1]} MiB"
    good = tmp_path / "jpeg-good.tif"  # an honest JPEG-tiled TIFF still reads
    tifffile.imwrite(good, np.full((300, 350), 90, np.uint8), tile=(128, 128), compression="jpeg")
    assert abs(int(read(good)[0].mean()) - 90) <= 2
