"""Instance masks read as objects: recognised from the masks (8- and 16-bit, ids reused across images,
a mask with one object, an empty mask), declared (`--objects`, codes.txt's `objects:` line), refused
where they cannot be ids, and class masks left as they were."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from makers import MACHINE, dataset, disc_image, discs, save

from seg import Dataset


def instance_dataset(root, n=8, dtype=np.uint16, per_image=24, offset=0, seed=0):
    "`n` pairs of touching discs, ids 1..per_image in every mask (+ `offset`: ids past 8 bits)."
    rng = np.random.default_rng(seed)
    for i in range(n):
        ids = discs(rng, (96, 96), n=per_image, radius=(4, 7), touching=0.5, dtype=dtype)
        ids[ids > 0] += offset
        save(root / "images" / f"{i:02d}.png", disc_image(rng, ids))
        save(root / "masks" / f"{i:02d}.png", ids)
    return root


@pytest.mark.parametrize("dtype, offset", [(np.uint8, 0), (np.uint16, 0), (np.uint16, 1000)])
def test_instance_masks_are_read_as_objects(tmp_path, dtype, offset):
    ds = Dataset.open(instance_dataset(tmp_path, dtype=dtype, offset=offset), access=MACHINE)
    assert ds.ok and ds.objects is not None and ds.objects.source == "masks" and not ds.objects.regions
    assert list(ds.codes.names) == ["background", "object"]  # not 25 classes
    s = ds.summary()
    o = s["objects"]
    assert o["objects"] == 8 * 24 and o["per_image"] == {"min": 24, "median": 24.0, "max": 24}
    assert 0.3 < o["touching_share"] < 1 and 7 < o["diameter_px"]["d50"] < 14
    assert 0.1 < s["class_fractions"]["object"] < 0.5
    assert any("one id per object" in n["problem"] for n in s["notes"])
    pair = ds.pairs[0]
    ids, mask = ds.ids(pair), ds.mask(pair)
    assert ids.dtype == np.int32 and len(np.unique(ids)) == 25 and set(np.unique(mask)) == {0, 1}
    assert ((ids > 0) == (mask == 1)).all()


def test_a_mask_with_one_object_and_an_empty_mask(tmp_path):
    instance_dataset(tmp_path, n=6)
    one = np.zeros((96, 96), np.uint16)
    one[10:30, 10:30] = 1
    save(tmp_path / "masks" / "00.png", one)
    save(tmp_path / "masks" / "01.png", np.zeros((96, 96), np.uint16))
    ds = Dataset.open(tmp_path, access=MACHINE)
    assert ds.objects is not None
    rows = {r["image"]: r["objects"] for r in ds.per_image()}
    assert rows["images/00.png"] == 1 and rows["images/01.png"] == 0 and rows["images/02.png"] == 24
    assert ds.summary()["objects"]["per_image"]["min"] == 0


def test_values_each_one_region_of_their_own_size_are_classes(tmp_path):
    "Six classes, one region each in every mask (as organs): read as classes; the note says how to ask for objects."
    from test_objects import organs
    rng = np.random.default_rng(0)
    for i in range(6):
        a = organs(rng)
        save(tmp_path / "images" / f"{i:02d}.png", disc_image(rng, a))
        save(tmp_path / "masks" / f"{i:02d}.png", a)
    ds = Dataset.open(tmp_path, access=MACHINE)
    assert ds.objects is None and len(ds.codes.names) == 7
    note = next(n for n in ds.summary()["notes"] if "read as classes" in n["problem"])
    assert "its own size in every mask" in note["problem"] and "--objects" in note["fix"]
    assert Dataset.open(tmp_path, objects=True, access=MACHINE).objects is not None  # the user may still say objects


def test_classes_in_codes_txt_keep_the_values_classes(tmp_path):
    instance_dataset(tmp_path, n=3, per_image=5)
    (tmp_path / "codes.txt").write_text("\n".join(["background", *(f"c{i}" for i in range(1, 6))]))
    ds = Dataset.open(tmp_path, access=MACHINE)
    assert ds.objects is None and len(ds.codes) == 6


def test_two_names_name_the_objects(tmp_path):
    instance_dataset(tmp_path, n=3)
    (tmp_path / "codes.txt").write_text("background\nnucleus\n")
    ds = Dataset.open(tmp_path, access=MACHINE)
    assert ds.objects.name == "nucleus" and list(ds.codes.names) == ["background", "nucleus"]


def test_objects_line_in_codes_txt_and_the_options(tmp_path):
    root = dataset(tmp_path / "binary", n=4, mask_values=(0, 255))  # two-class masks
    assert Dataset.open(root, access=MACHINE).objects is None  # never objects by themselves
    (root / "codes.txt").write_text("# one id per object\nobjects: crystal\n")
    ds = Dataset.open(root, access=MACHINE)
    assert ds.objects.name == "crystal" and ds.objects.source == "codes.txt" and ds.objects.regions
    assert "each connected region" in " ".join(p.problem for p in ds.report.notes)
    from skimage.measure import label
    mask = ds.mask(ds.pairs[0])
    assert ds.ids(ds.pairs[0]).max() == label(mask, connectivity=2).max() >= 1
    (root / "codes.txt").unlink()
    assert Dataset.open(root, objects=True, access=MACHINE).objects.source == "option"
    inst = instance_dataset(tmp_path / "inst", n=3)
    assert Dataset.open(inst, objects=False, access=MACHINE).objects is None
    assert len(Dataset.open(inst, objects=False, access=MACHINE).codes) == 25  # read as classes, as asked


def test_objects_line_allows_only_the_background_name(tmp_path):
    instance_dataset(tmp_path, n=2)
    (tmp_path / "codes.txt").write_text("background\ncell\nobjects: nucleus\n")
    ds = Dataset.open(tmp_path, access=MACHINE)
    assert not ds.ok and "objects (nucleus) and also the classes" in ds.first_error()


def test_colour_and_jpeg_masks_cannot_be_objects(tmp_path):
    colour = dataset(tmp_path / "colour", n=3, classes=3, mask_values=None)
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[5:20, 5:20] = (255, 0, 0)
    save(colour / "masks" / "00.png", rgb)
    ds = Dataset.open(colour, objects=True, access=MACHINE)
    assert not ds.ok and "Colour masks cannot be read as objects" in ds.first_error() and "00.png" in ds.first_error()
    jpeg = dataset(tmp_path / "jpeg", n=3, mask_ext=".jpg", mask_values=(0, 255))
    ds = Dataset.open(jpeg, objects=True, access=MACHINE)
    assert not ds.ok and "JPEG masks cannot be read as objects" in ds.first_error()


def test_class_masks_are_not_objects(tmp_path):
    ds = Dataset.open(dataset(tmp_path, n=6, classes=4), access=MACHINE)
    assert ds.objects is None and len(ds.codes) == 4 and ds.summary()["objects"] is None


def test_inspect_reports_objects(tmp_path):
    instance_dataset(tmp_path, n=4)

    def seg(*args):
        return subprocess.run([sys.executable, "-m", "seg", "inspect", str(tmp_path), *args], capture_output=True,
                              text=True, check=True).stdout
    s = json.loads(seg("--json"))
    assert s["codes"] == ["background", "object"] and s["objects"]["objects"] == 96
    assert s["encoding"] == {"kind": "objects", "table": [0]}
    words = seg()
    assert "objects  96 (object), 24 to 24 an image" in words and "touch another" in words
    assert json.loads(seg("--json", "--no-objects"))["objects"] is None


def test_the_objects_demo_has_the_demo_images_and_one_id_per_cell(tmp_path):
    from PIL import Image

    def seg(*args):
        return subprocess.run([sys.executable, "-m", "seg", *map(str, args)], capture_output=True, text=True,
                              check=True).stdout
    assert "one id per cell" in seg("demo", tmp_path / "objects", "--n", 6, "--size", 96, "--objects")
    seg("demo", tmp_path / "cells", "--n", 6, "--size", 96)
    for i in range(6):
        a, b = (np.asarray(Image.open(tmp_path / d / "masks" / f"{i:03d}.png")) for d in ("cells", "objects"))
        assert b.dtype == np.uint16 and ((b > 0) == (a > 0)).all()
        assert (tmp_path / "cells" / "images" / f"{i:03d}.png").read_bytes() == \
            (tmp_path / "objects" / "images" / f"{i:03d}.png").read_bytes()
    s = json.loads(seg("inspect", tmp_path / "objects", "--json"))
    assert s["codes"] == ["background", "cell"] and s["objects"]["source"] == "codes.txt" and s["ok"]
    assert s["objects"]["touching_share"] > 0.1  # some cells touch: what splitting them is for
