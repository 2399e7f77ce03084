"""Images and masks are refused by their decoded bytes before they are decoded, and the threads reading a
dataset decode at most about MAX_DECODED_BYTES at once (seg/data/images.py: `header`; seg/data/decoding.py: `DECODING`).

The attack these tests replay: three tiled zlib TIFFs of 18,900 x 18,900 zeros (10 MB of files; uint16,
float64, complex128) took `python -m seg inspect` to 5.5 GB of memory before they were refused, and a
folder of eight 0.7 MB files took a server from 351 to 2,581 MB in 8 s. Each `seg inspect` here is a
process of its own, its peak resident memory read from the kernel when it ends."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from conftest import ROOT
from PIL import Image

from seg.data import images
from seg.data.decoding import DecodeBudget
from seg.data.images import MAX_DECODED_BYTES, header, load_image, read
from seg.errors import ImageError

GB = 10**9
SIDE = 18900  # 357 million pixels: four times Pillow's limit, just under the old check's bound


def tiled_zeros(path: Path, shape: tuple, dtype, tile: int = 512) -> Path:
    """A tiled zlib TIFF of zeros, written without the array: one tile compressed once, written for every
    tile (a few MB on disk for gigabytes decoded)."""
    dtype = np.dtype(dtype)
    samples = shape[2] if len(shape) == 3 else 1
    encoded = zlib.compress(bytes(tile * tile * samples * dtype.itemsize), 9)
    n = -(-shape[0] // tile) * -(-shape[1] // tile)
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, data=(encoded for _ in range(n)), shape=shape, dtype=dtype, tile=(tile, tile),
                     compression="zlib", photometric="rgb" if samples == 3 else "minisblack",
                     planarconfig="contig" if samples > 1 else None)
    return path


def small_mask(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8)).save(path)
    return path


# `seg inspect` run by a Python that writes its own peak RSS (VmHWM: its memory since its exec, in kB) when it
# exits. Not the rusage of the child: Linux keeps in a child's ru_maxrss the RSS of the process it was forked
# from, so a child of a test session holding torch and a trained model "peaked" at the session's 3.6 GB.
PEAK = ("import atexit, os, runpy, sys\n"
        "def peak():\n"
        "    line = next(x for x in open('/proc/self/status') if x.startswith('VmHWM'))\n"
        "    open(os.environ['SEGBOARD_PEAK_FILE'], 'w').write(line.split()[1])\n"
        "atexit.register(peak)\n"
        "sys.argv = ['seg', *sys.argv[1:]]\n"
        "runpy.run_module('seg', run_name='__main__', alter_sys=True)\n")


def inspect(folder: Path) -> tuple[dict, int]:
    "`python -m seg inspect FOLDER --json` in a process of its own: its summary and its peak RSS in bytes."
    out, peak = folder.parent / f"{folder.name}.json", folder.parent / f"{folder.name}.peak"
    with out.open("wb") as f:
        p = subprocess.run([sys.executable, "-c", PEAK, "inspect", str(folder), "--json"], cwd=ROOT, stdout=f,
                           stderr=subprocess.PIPE, env={**os.environ, "SEGBOARD_PEAK_FILE": str(peak)})
    err = p.stderr.decode()
    assert p.returncode in (0, 1), err
    return json.loads(out.read_text()), int(peak.read_text()) * 1024


def errors(summary: dict) -> dict[str, str]:
    return {e["file"]: e["problem"] for e in summary["errors"]}


def test_three_hostile_tiffs_are_refused_from_their_headers(tmp_path):
    d = tmp_path / "hostile"
    # uint16: 714 MB of zeros, within what any image may decode to: a large image read by regions, whose 8-pixel mask
    # leaves the pair out (the image never decoded); float64: 2.9 GB from 3 MB, a bomb
    kinds = {"uint16": "read by regions; the mask is not a large tiled TIFF", "float64": "a decompression bomb",
             "complex128": "complex"}
    for dtype in kinds:
        tiled_zeros(d / "images" / f"{dtype}.tif", (SIDE, SIDE), dtype)
        small_mask(d / "masks" / f"{dtype}.png")
    assert sum(f.stat().st_size for f in (d / "images").iterdir()) < 12 * 2**20
    summary, peak = inspect(d)
    assert peak < 1 * GB, f"peak RSS {peak / 2**20:.0f} MiB"
    refused = errors(summary)
    for dtype, why in kinds.items():
        problem = refused[f"{'masks' if dtype == 'uint16' else 'images'}/{dtype}.tif".replace("masks/uint16.tif",
                                                                                               "masks/uint16.png")]
        assert why in problem and f"{SIDE:,} x {SIDE:,} pixels" in problem, problem
    assert f"decode to {SIDE * SIDE * 8:,} bytes" in refused["images/float64.tif"]  # 2,857,680,000
    assert summary["pairs"] == 0 and not summary["ok"]


def test_eight_hostile_files_at_once_are_refused_without_decoding(tmp_path):
    d = tmp_path / "eight"
    one = tiled_zeros(tmp_path / "one.tif", (SIDE, SIDE), np.uint16).read_bytes()  # 0.7 MB each
    for i in range(8):
        (d / "images").mkdir(parents=True, exist_ok=True)
        (d / "images" / f"{i}.tif").write_bytes(one)
        small_mask(d / "masks" / f"{i}.png")
    summary, peak = inspect(d)
    assert peak < 1 * GB, f"peak RSS {peak / 2**20:.0f} MiB"  # 2.8 GB before: four decoded at once
    refused = errors(summary)  # large images read by regions (seg/data/large.py), none decoded: their masks differ
    assert all(f"{SIDE:,} x {SIDE:,} pixels, read by regions" in refused[f"masks/{i}.png"] for i in range(8)), refused


def test_eight_files_under_the_limits_are_decoded_within_the_byte_budget(tmp_path):
    "Each 578 MB decoded (float64, under both limits): two do not fit in 1 GiB, so one is decoded at a time."
    d = tmp_path / "under"
    side = 8500
    assert side * side <= images.max_pixels() and 2 * side * side * 8 > MAX_DECODED_BYTES >= side * side * 8
    one = tiled_zeros(tmp_path / "one.tif", (side, side), np.float64).read_bytes()
    for i in range(8):
        (d / "images").mkdir(parents=True, exist_ok=True)
        (d / "images" / f"{i}.tif").write_bytes(one)
        small_mask(d / "masks" / f"{i}.png")
    summary, peak = inspect(d)
    assert peak < 1 * GB, f"peak RSS {peak / 2**20:.0f} MiB"  # 2.0 GB before
    refused = errors(summary)  # every image was read: its size is known, and it is not its mask's
    assert all(f"its image {i}.tif is {side} x {side}" in refused[f"masks/{i}.png"] for i in range(8)), refused


def test_masks_are_checked_within_the_byte_budget_with_the_work_they_take(tmp_path):
    """Checking a mask of many values takes 40-odd bytes a pixel (its ids labelled and sorted): four 3,500 x
    3,500 masks of three values (40 kB files) are checked one at a time, not all at once (2 GB before)."""
    d = tmp_path / "masks"
    side = 3500
    stripes = (np.arange(side * side).reshape(side, side) // 7 % 3).astype(np.uint8)
    (d / "images").mkdir(parents=True)
    (d / "masks").mkdir()
    Image.fromarray(stripes).save(d / "masks" / "0.png")
    Image.new("L", (side, side)).save(d / "images" / "0.png")
    for i in range(1, 4):
        for sub in ("images", "masks"):
            (d / sub / f"{i}.png").write_bytes((d / sub / "0.png").read_bytes())
    summary, peak = inspect(d)
    assert peak < 1 * GB, f"peak RSS {peak / 2**20:.0f} MiB"
    assert summary["pairs"] == 4 and not summary["errors"], summary["errors"]


# ---- the header check, in this process ---------------------------------------------------------------

def png_claiming(path: Path, w: int, h: int, mode: str = "RGBA") -> Path:
    "A real small PNG whose IHDR is patched to claim w x h pixels (CRC fixed): a few bytes on disk."
    Image.new(mode, (4, 4)).save(path)
    data = bytearray(path.read_bytes())
    at = data.index(b"IHDR")
    data[at + 4:at + 12] = struct.pack(">II", w, h)
    data[at + 17:at + 21] = struct.pack(">I", zlib.crc32(bytes(data[at:at + 17])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def test_a_png_claiming_a_huge_size_is_refused_before_decoding(tmp_path):
    p = png_claiming(tmp_path / "huge.png", 10000, 10000)  # between one and two times Pillow's limit
    for check in (header, read, load_image):
        with pytest.raises(ImageError) as e:
            check(p)
        assert e.value.problem == ("10000 x 10000 pixels is past the decompression-bomb limit of "
                                   f"{images.max_pixels():,} pixels (400,000,000 bytes decoded).")


def test_past_the_byte_limit_under_the_pixel_limit(tmp_path, monkeypatch):
    # float64 RGB, 81 million pixels: under Pillow's limit, 1.9 GB decoded
    p = tiled_zeros(tmp_path / "rgb.tif", (9000, 9000, 3), np.float64)
    with pytest.raises(ImageError) as e:
        read(p)
    nbytes = 9000 * 9000 * 3 * 8
    assert e.value.problem == (f"9000 x 9000 pixels, 3 channels of float64: {nbytes:,} bytes (1.8 GiB) decoded, "
                               f"past the limit of {MAX_DECODED_BYTES:,} bytes (1.0 GiB) an image may take.")
    assert "fewer bytes" in e.value.fix
    # a PNG, the limit lowered: Pillow's mode gives the bytes a pixel (RGBA: 4)
    monkeypatch.setattr(images, "MAX_DECODED_BYTES", 4000)
    with pytest.raises(ImageError, match="4,096 bytes"):
        read(png_claiming(tmp_path / "a.png", 32, 32))
    Image.new("RGBA", (31, 32)).save(tmp_path / "b.png")
    assert read(tmp_path / "b.png")[0].shape == (32, 31, 4)  # 3,968 bytes: read


def test_complex_tiffs_are_refused_whatever_their_size(tmp_path):
    p = tmp_path / "c.tif"
    tifffile.imwrite(p, np.zeros((16, 16), np.complex64))
    with pytest.raises(ImageError, match=r"complex numbers \(complex64; 16 x 16 pixels, 2,048 bytes"):
        read(p)


def test_many_channels_past_the_limits_are_refused_from_the_header(tmp_path):
    p = tiled_zeros(tmp_path / "twelve.tif", (4000, 40000, 12), np.uint8)  # 1.9 GB of 12 channels
    with pytest.raises(ImageError, match=r"40000 x 4000 pixels is past the decompression-bomb limit"):
        header(p)
    p = tiled_zeros(tmp_path / "twenty.tif", (4000, 40000, 20), np.uint8)  # 3.2 GB of 20 channels
    with pytest.raises(ImageError, match=r"The TIFF has 20 channels .*more than the 16"):
        header(p)


@pytest.mark.parametrize("name, array, mode", [
    ("rgb.png", np.arange(48 * 64 * 3).reshape(48, 64, 3) % 251, "RGB"),
    ("gray16.png", np.arange(48 * 64).reshape(48, 64) * 20, "I;16"),
    ("rgba.png", np.arange(48 * 64 * 4).reshape(48, 64, 4) % 253, "RGBA"),
    ("gray.bmp", np.arange(48 * 64).reshape(48, 64) % 256, "L"),
    ("rgb.jpg", np.full((48, 64, 3), 128), "RGB"),
    ("float.tif", np.linspace(0, 1, 48 * 64).reshape(48, 64), "L"),
    ("planar.tif", np.arange(3 * 48 * 64).reshape(3, 48, 64) % 65536, "RGB"),
    ("rgb16.tif", np.arange(48 * 64 * 3).reshape(48, 64, 3) * 7 % 65536, "RGB"),
])
def test_a_normal_image_reads_as_before(tmp_path, name, array, mode):
    "`read` gives what a plain decode gives, and the header's bytes are the decoded array's."
    p = tmp_path / name
    if p.suffix == ".tif":
        dtype = np.float64 if name.startswith("float") else np.uint16
        tifffile.imwrite(p, array.astype(dtype), photometric="rgb" if array.ndim == 3 else "minisblack")
        plain = tifffile.imread(p)
        plain = np.moveaxis(plain, 0, -1) if name.startswith("planar") else plain
    else:
        im = Image.fromarray(array.astype(np.uint16 if mode == "I;16" else np.uint8))
        im.save(p)
        with Image.open(p) as im:
            plain = np.asarray(im.convert("I;16") if im.mode.startswith("I;16") else im)
    a, got_mode = read(p)
    assert got_mode == mode and a.dtype == plain.dtype and (a == plain).all()
    h = header(p)
    assert (h.height, h.width, h.channels, h.dtype) == (*a.shape[:2], 1 if a.ndim == 2 else a.shape[2], a.dtype)
    assert h.nbytes == a.nbytes
    assert load_image(p).shape == (48, 64, 3)


def test_the_budget_holds_at_most_its_bytes_at_once_first_come_first_served():
    budget, lock = DecodeBudget(100), threading.Lock()
    held, most, order = [0], [0], []

    def take(i, n):
        with budget.hold(n):
            with lock:
                held[0] += min(n, 100)
                most[0] = max(most[0], held[0])
                order.append(i)
            time.sleep(0.02)
            with lock:
                held[0] -= min(n, 100)

    threads = []
    for i, n in enumerate([60, 60, 30, 250, 30, 30, 30, 0]):  # 250: past the total, taken alone
        threads.append(threading.Thread(target=take, args=(i, n)))
        threads[-1].start()
        time.sleep(0.002)
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert most[0] <= 100 and budget.free == 100
    assert order.index(3) < order.index(4)  # the big one is not overtaken by those after it
