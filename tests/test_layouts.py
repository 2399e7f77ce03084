"""Every dataset layout, file format and mask encoding the Data issue lists, on real files."""

import numpy as np
import pytest
from makers import MACHINE, dataset, palette_mask, save, shapes
from PIL import Image

from seg import Dataset


def opened(root, **kw):
    ds = Dataset.open(root, **kw, access=MACHINE)
    assert ds.ok, [str(p) for p in ds.report.errors]
    return ds


def mask_values(ds):
    return sorted(set(np.unique(np.concatenate([ds.mask(p).ravel() for p in ds.pairs])).tolist()))


@pytest.mark.parametrize("mask_dir", ["masks", "labels", "gt", "annotations", "Masks"])
def test_images_and_mask_folder(tmp_path, mask_dir):
    ds = opened(dataset(tmp_path, n=5, mask_dir=mask_dir))
    assert len(ds.pairs) == 5
    assert ds.discovery.layout.lower() == f"images/ + {mask_dir.lower()}/"
    assert all(p.image.stem == p.mask.stem for p in ds.pairs)


@pytest.mark.parametrize("suffix", ["_mask", "_masks", "_label", "_gt", "-mask", "_MASK"])
def test_flat_folder_with_mask_suffix(tmp_path, suffix):
    ds = opened(dataset(tmp_path, n=4, layout="flat", suffix=suffix, image_ext=".bmp", mask_ext=".bmp"))
    assert len(ds.pairs) == 4
    assert all(p.mask.stem == p.image.stem + suffix for p in ds.pairs)
    assert "flat folder" in ds.discovery.layout


def test_camvid_labels_with_P_suffix(tmp_path):
    dataset(tmp_path, n=3, mask_dir="labels")
    for m in (tmp_path / "labels").iterdir():
        m.rename(m.with_name(m.stem + "_P.png"))
    assert len(opened(tmp_path).pairs) == 3


def test_images_beside_a_masks_folder(tmp_path):
    ds = opened(dataset(tmp_path, n=3, layout="beside"))
    assert len(ds.pairs) == 3 and "beside masks/" in ds.discovery.layout


@pytest.mark.parametrize("valid_name", ["valid", "val", "test"])
def test_train_valid_folders_give_the_split(tmp_path, valid_name):
    dataset(tmp_path / "train", n=5, seed=1)
    dataset(tmp_path / valid_name, n=2, layout="flat", seed=2)
    ds = opened(tmp_path)
    train, valid = ds.split()
    assert (len(train), len(valid)) == (5, 2)
    assert all(valid_name in p.image.parts for p in valid)
    assert ds.summary()["split"] == {"kind": "folder", "train": 5, "valid": 2}


def test_val_preferred_over_test_and_test_noted(tmp_path):
    for name, n in (("train", 4), ("val", 2), ("test", 3)):
        dataset(tmp_path / name, n=n, seed=n)
    ds = opened(tmp_path)
    assert len(ds.split()[1]) == 2
    assert any("Not used" in p.problem and p.file == "test" for p in ds.report.notes)


def test_split_inside_images_and_masks_folders(tmp_path):
    dataset(tmp_path, n=4, image_dir="images/train", mask_dir="masks/train", seed=1)
    dataset(tmp_path, n=2, image_dir="images/val", mask_dir="masks/val", seed=2, names=["a", "b"])
    ds = opened(tmp_path)
    assert ds.discovery.split == "folder"
    assert [len(s) for s in ds.split()] == [4, 2]


def test_random_split_is_seeded_and_keeps_one_of_each(tmp_path):
    ds = opened(dataset(tmp_path, n=10))
    a, b = ds.split(0.2, seed=7), ds.split(0.2, seed=7)
    assert a == b and len(a[1]) == 2 and len(a[0]) == 8
    assert ds.split(0.2, seed=8) != a


def test_nested_folders_and_non_ascii_names(tmp_path):
    names = ["zelle_ä", "細胞", "crystal é 1"]
    dataset(tmp_path, names=names, image_dir="images/slide 1/row-a", mask_dir="masks/slide 1/row-a")
    ds = opened(tmp_path)
    assert sorted(p.image.stem for p in ds.pairs) == sorted(names)


def test_wrapper_folder_is_unwrapped(tmp_path):
    dataset(tmp_path / "my data", n=3)
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    (tmp_path / "codes.txt").write_text("background\ncrystal\n")  # beside the wrapped folder
    ds = opened(tmp_path)
    assert len(ds.pairs) == 3 and ds.codes.names == ("background", "crystal")


@pytest.mark.parametrize("image_ext,mask_ext", [(".png", ".png"), (".jpg", ".png"), (".JPEG", ".PNG"),
                                                (".bmp", ".bmp"), (".tif", ".tif"), (".TIFF", ".png")])
def test_formats_and_case_insensitive_extensions(tmp_path, image_ext, mask_ext):
    ds = opened(dataset(tmp_path, n=3, image_ext=image_ext, mask_ext=mask_ext))
    image, mask = ds.read(ds.pairs[0])
    assert image.dtype == np.uint8 and image.shape == (48, 64, 3)
    assert mask.shape == (48, 64) and set(np.unique(mask)) <= {0, 1}


def test_16_bit_tiff_images_are_stretched_with_a_note(tmp_path):
    ds = opened(dataset(tmp_path, n=3, image_ext=".tif", image_dtype=np.uint16, gray=True))
    image, _ = ds.read(ds.pairs[0])
    assert image.dtype == np.uint8 and image.shape[-1] == 3 and image.max() > 200
    assert any("16-bit image" in p.problem for p in ds.report.notes)


def test_16_bit_png_masks_and_images(tmp_path):
    ds = opened(dataset(tmp_path, n=3, mask_values=(0, 1000), image_dtype=np.uint16, gray=True))
    assert mask_values(ds) == [0, 1]
    assert any("16-bit" in p.problem for p in ds.report.notes)


def test_grayscale_and_rgba_images_are_noted(tmp_path):
    dataset(tmp_path, n=4, gray=True)
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., 3] = 255
    save(tmp_path / "images" / "00.png", rgba)
    ds = opened(tmp_path)
    problems = [p.problem for p in ds.report.notes]
    assert any("grayscale image" in p for p in problems)
    assert any("RGBA image: the alpha channel is ignored" in p for p in problems)


# -- mask encodings

def test_index_masks_with_codes(tmp_path):
    ds = opened(dataset(tmp_path, classes=3, codes=["background", "cell", "nucleus"]))
    assert ds.codes.names == ("background", "cell", "nucleus") and ds.codes.source == "codes.txt"
    assert ds.encoding.kind == "index" and mask_values(ds) == [0, 1, 2]


def test_0_255_masks_become_0_1(tmp_path):
    ds = opened(dataset(tmp_path, mask_values=(0, 255)))
    assert ds.encoding.kind == "values" and ds.encoding.table == (0, 255)
    assert ds.codes.names == ("background", "foreground") and ds.codes.source == "inferred"
    assert mask_values(ds) == [0, 1]
    assert any("0 = background, 255 = foreground" in p.problem for p in ds.report.notes)
    # the user's files are untouched
    assert set(np.unique(np.asarray(Image.open(ds.pairs[0].mask)))) == {0, 255}


def test_0_255_masks_with_two_codes(tmp_path):
    ds = opened(dataset(tmp_path, mask_values=(0, 255), codes=["pipe", "crack"]))
    assert ds.codes.names == ("pipe", "crack") and mask_values(ds) == [0, 1]


def test_three_gray_levels_map_in_order(tmp_path):
    ds = opened(dataset(tmp_path, classes=3, mask_values=(0, 128, 255)))
    assert len(ds.codes) == 3 and mask_values(ds) == [0, 1, 2]


def test_palette_pngs_map_to_their_indices(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(4):
        image, mask = shapes(rng, classes=3)
        save(tmp_path / "images" / f"{i}.png", image)
        palette_mask(tmp_path / "masks" / f"{i}.png", mask)
    ds = opened(tmp_path)
    assert ds.encoding.kind == "index" and len(ds.codes) == 3 and mask_values(ds) == [0, 1, 2]


def colour_dataset(root, colors, codes_text=None, n=4):
    rng = np.random.default_rng(0)
    for i in range(n):
        image, mask = shapes(rng, classes=len(colors))
        save(root / "images" / f"{i}.png", image)
        save(root / "masks" / f"{i}.png", np.array(colors, np.uint8)[mask])
    if codes_text:
        (root / "codes.txt").write_text(codes_text)
    return root


def test_rgb_masks_through_a_given_colour_table(tmp_path):
    colour_dataset(tmp_path, [(0, 0, 0), (255, 0, 0), (0, 0, 255)],
                   "background 0 0 0\ncrack #ff0000\nrust 0, 0, 255\n")
    ds = opened(tmp_path)
    assert ds.encoding.kind == "color" and ds.codes.names == ("background", "crack", "rust")
    assert mask_values(ds) == [0, 1, 2]
    red = next(p for p in ds.pairs if (np.asarray(Image.open(p.mask))[..., 0] == 255).any())
    raw = np.asarray(Image.open(red.mask))
    assert (ds.mask(red)[(raw == (255, 0, 0)).all(-1)] == 1).all()


def test_rgb_masks_with_few_colours_get_an_inferred_table(tmp_path):
    ds = opened(colour_dataset(tmp_path, [(0, 0, 0), (0, 200, 0)]))
    assert ds.encoding.kind == "color" and len(ds.codes) == 2
    assert ds.codes.colors == ((0, 0, 0), (0, 200, 0))
    assert any("colour table inferred" in p.problem.lower() for p in ds.report.notes)


def test_jpeg_masks_snap_near_values_with_a_warning(tmp_path):
    ds = opened(dataset(tmp_path, n=4, mask_values=(0, 255), mask_ext=".jpg", size=(64, 64)))
    raw = np.unique(np.asarray(Image.open(ds.pairs[0].mask)))
    assert len(raw) > 2  # JPEG really smeared the values
    assert mask_values(ds) == [0, 1]
    w = [p for p in ds.report.warnings if "JPEG-compressed mask" in p.problem]
    assert w and "Save masks as PNG" in w[0].fix


def test_codes_given_override_codes_txt(tmp_path):
    dataset(tmp_path, codes=["a", "b"])
    ds = opened(tmp_path, codes="background, crystal")
    assert ds.codes.names == ("background", "crystal") and ds.codes.source == "given"


def test_class_fractions_and_statistics(tmp_path):
    root = tmp_path
    for i, frac in enumerate((0.25, 0.5)):
        mask = np.zeros((40, 40), np.uint8)
        mask[: int(40 * frac)] = 1
        save(root / "images" / f"{i}.png", np.full((40, 40, 3), 9, np.uint8))
        save(root / "masks" / f"{i}.png", mask)
    ds = opened(root)
    s = ds.summary()
    assert s["pairs"] == 2 and s["codes"] == ["background", "foreground"]
    assert s["class_fractions"] == pytest.approx({"background": 0.625, "foreground": 0.375})
    assert [r["fractions"]["foreground"] for r in s["per_image"]] == pytest.approx([0.25, 0.5])
    assert s["image_sizes"] == {"40x40": 2} and s["channels"] == {"3": 2}


def test_jpeg_colour_masks_snap_to_their_colours(tmp_path):
    rng = np.random.default_rng(0)
    colors = np.array([(0, 0, 0), (230, 30, 30), (30, 30, 230)], np.uint8)
    for i in range(4):
        image, mask = shapes(rng, (64, 64), classes=3)
        save(tmp_path / "images" / f"{i}.png", image)
        save(tmp_path / "masks" / f"{i}.jpg", colors[mask], quality=80)
    ds = opened(tmp_path)
    assert len(np.unique(np.asarray(Image.open(ds.pairs[0].mask)).reshape(-1, 3), axis=0)) > 3
    assert ds.encoding.kind == "color" and len(ds.codes) == 3, ds.codes
    assert mask_values(ds) == [0, 1, 2]
    assert any("JPEG-compressed mask" in p.problem for p in ds.report.warnings)
