"""TIFF stacks (issue 31): read slice by slice, a stack with a mask stack is a pair a slice named file[z=12], split by
stack, trained on, and predicted back into a mask stack of the stack's shape."""

import json

import numpy as np
import pytest
import tifffile
from microscopy import write_stacks
from PIL import Image
from training import TINY, cli

from seg.data.dataset import Dataset
from seg.data.images import header, read
from seg.data.stacks import Slice, depth
from seg.errors import ImageError
from seg.server.sharing import Access


def test_a_slice_reads_only_itself_with_its_channels(tmp_path):
    z = np.arange(5 * 2 * 16 * 20, dtype=np.uint16).reshape(5, 2, 16, 20)
    tifffile.imwrite(tmp_path / "zc.tif", z, imagej=True, metadata={"axes": "ZCYX"})
    assert depth(tmp_path / "zc.tif") == 5
    a, mode = read(Slice(tmp_path / "zc.tif", 3))
    assert mode == "C2" and a.shape == (16, 20, 2) and (a == z[3].transpose(1, 2, 0)).all()
    assert header(Slice(tmp_path / "zc.tif", 3)).nbytes == z[3].nbytes  # one slice, not the stack
    plain = np.arange(20 * 32 * 32, dtype=np.uint32).reshape(20, 32, 32).astype(np.uint8)
    tifffile.imwrite(tmp_path / "unnamed.tif", plain)  # more planes than an image has channels: a stack
    assert depth(tmp_path / "unnamed.tif") == 20 and (read(Slice(tmp_path / "unnamed.tif", 7))[0] == plain[7]).all()
    tifffile.imwrite(tmp_path / "five.tif", plain[:5])  # five unnamed planes: channels
    assert depth(tmp_path / "five.tif") is None and read(tmp_path / "five.tif")[1] == "C5"


def test_a_stack_read_whole_or_of_two_stack_axes_is_refused_with_the_fix(tmp_path):
    tifffile.imwrite(tmp_path / "z.tif", np.zeros((4, 16, 16), np.uint16), metadata={"axes": "ZYX"})
    with pytest.raises(ImageError, match="a stack of 4 slices") as e:
        read(tmp_path / "z.tif")
    assert "mask stack of the same depth" in e.value.fix
    tifffile.imwrite(tmp_path / "tz.tif", np.zeros((2, 3, 16, 16), np.uint16), metadata={"axes": "TZYX"})
    with pytest.raises(ImageError, match="a stack over both T and Z"):
        header(tmp_path / "tz.tif")
    with pytest.raises(ImageError, match="no slice 9"):
        read(Slice(tmp_path / "z.tif", 9))


def test_stacks_are_pairs_a_slice_named_by_z_and_split_by_stack(tmp_path):
    write_stacks(tmp_path / "d", stacks=5, depth=4)
    tifffile.imwrite(tmp_path / "d" / "images" / "short.tif", np.zeros((3, 64, 64), np.uint16),
                     metadata={"axes": "ZYX"})
    tifffile.imwrite(tmp_path / "d" / "masks" / "short.tif", np.zeros((2, 64, 64), np.uint8), metadata={"axes": "ZYX"})
    ds = Dataset.open(tmp_path / "d", access=Access.machine())
    assert len(ds.pairs) == 20  # 5 stacks of 4 slices; the one whose mask is short left out
    names = [r["image"] for r in ds.per_image()]
    assert "images/stack_2.tif[z=3]" in names
    [error] = ds.report.errors
    assert "short.tif" in error.file and "a stack of 3 slices; the mask is a stack of 2" in error.problem
    train, valid = ds.split(0.4, 0)
    assert {str(p.image) for p in train}.isdisjoint({str(p.image) for p in valid})  # no stack on both sides
    assert len(valid) == 8 and len(train) == 12  # 2 of the 5 stacks, whole


@pytest.mark.slow
def test_a_run_on_stacks_predicts_a_mask_stack_of_the_stack_s_shape(tmp_path):
    stacks = write_stacks(tmp_path / "d", stacks=4, depth=4)
    run = tmp_path / "run"
    rc, out, err = cli("train", tmp_path / "d", "--run-dir", run, *TINY, "--epochs", "2", "--precision", "fp32",
                       "--no-pretrained")
    assert rc == 0, out + err
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["dataset"]["pairs"] == 16 and len(cfg["dataset"]["valid_images"]) == 1  # one stack judged it
    rc, out, err = cli("predict", run, tmp_path / "d" / "images", "--out", tmp_path / "pred", "--rois")
    assert rc == 0, out + err
    meta = json.loads((tmp_path / "pred" / "prediction.json").read_text())
    assert len(meta["images"]) == 16 and meta["images"][0]["name"] == "stack_0[z=0]" and meta["images"][0]["z"] == 0
    for i, image in enumerate(stacks):
        masks = tifffile.imread(tmp_path / "pred" / "stacks" / f"stack_{i}.tif")
        assert masks.shape == image.shape and masks.dtype == np.uint8
        assert (masks[2] == np.asarray(Image.open(tmp_path / "pred" / "masks" / f"stack_{i}[z=2].png"))).all()
    assert {s["masks"] for s in meta["stacks"]} == {f"stacks/stack_{i}.tif" for i in range(4)}


def test_damaged_stacks_are_problems_never_crashes(tmp_path):
    """Bytes flipped in ImageJ, OME and plain stacks and a 2-channel image (seeded): reading every slice gives an
    ImageError or the pixels, nothing else. Before, it raised ZeroDivisionError, TypeError, RuntimeError,
    IndexError, struct.error, and once tried to allocate 150 GiB for a page that claimed more than its stack."""
    import io
    import random

    sources = []
    for arr, kw in [(np.arange(5 * 32 * 32, dtype=np.uint16).reshape(5, 32, 32), {"metadata": {"axes": "ZYX"}}),
                    (np.arange(4 * 2 * 32 * 32, dtype=np.uint16).reshape(4, 2, 32, 32),
                     {"imagej": True, "metadata": {"axes": "ZCYX"}}),
                    (np.arange(3 * 2 * 32 * 32, dtype=np.uint16).reshape(3, 2, 32, 32),
                     {"ome": True, "metadata": {"axes": "ZCYX"}}),
                    (np.zeros((4, 32, 32), np.uint8), {"metadata": {"axes": "ZYX"}}),
                    (np.arange(2 * 32 * 32, dtype=np.uint16).reshape(2, 32, 32), {"metadata": {"axes": "CYX"}})]:
        buf = io.BytesIO()
        tifffile.imwrite(buf, arr, **kw)
        sources.append(buf.getvalue())
    rng = random.Random(0)
    path = tmp_path / "damaged.tif"
    for _ in range(400):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        n = depth(path)
        for target in [Slice(path, z) for z in range(min(n, 4))] if n else [path]:
            try:
                header(target)
                read(target)
            except ImageError:
                pass
