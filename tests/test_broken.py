"""Broken datasets: each gives a clear problem naming the file and the fix, and nothing raises."""

import numpy as np
from makers import MACHINE, dataset, huge_png_header, palette_mask, save, shapes

from seg import Dataset


def problems(root, level="error", **kw):
    ds = Dataset.open(root, **kw, access=MACHINE)
    return ds, [p for p in ds.report.problems if p.level == level]


def the(problems_, text):
    "The one problem whose message holds `text`; fails with all messages shown."
    found = [p for p in problems_ if text in p.problem]
    assert found, f"no problem with {text!r} in {[str(p) for p in problems_]}"
    assert found[0].fix and found[0].file
    return found[0]


def test_folder_does_not_exist(tmp_path):
    ds, errors = problems(tmp_path / "nope")
    assert the(errors, "does not exist").file == str(tmp_path / "nope")
    assert not ds.ok and ds.pairs == []


def test_a_file_instead_of_a_folder(tmp_path):
    f = tmp_path / "data.zip"
    f.write_bytes(b"PK")
    the(problems(f)[1], "This is a file, not a folder")


def test_empty_folder(tmp_path):
    the(problems(tmp_path)[1], "No image files found")


def test_images_without_any_masks(tmp_path):
    for i in range(3):
        save(tmp_path / f"{i}.png", np.zeros((8, 8, 3), np.uint8))
    p = the(problems(tmp_path)[1], "no masks")
    assert "masks/" in p.fix and "_mask" in p.fix


def test_corrupt_image_bytes(tmp_path):
    dataset(tmp_path, n=3)
    (tmp_path / "images" / "01.png").write_bytes(b"this is not a png at all" * 10)
    ds, errors = problems(tmp_path)
    assert the(errors, "Not a readable image").file == "images/01.png"
    assert len(ds.pairs) == 2 and not ds.ok


def test_truncated_image(tmp_path):
    dataset(tmp_path, n=3, size=(128, 128))
    f = tmp_path / "images" / "02.png"
    f.write_bytes(f.read_bytes()[:400])
    assert the(problems(tmp_path)[1], "corrupt or truncated").file == "images/02.png"


def test_empty_file(tmp_path):
    dataset(tmp_path, n=3)
    (tmp_path / "masks" / "00.png").write_bytes(b"")
    assert the(problems(tmp_path)[1], "empty (0 bytes)").file == "masks/00.png"


def test_non_image_files_are_warned_and_ignored(tmp_path):
    dataset(tmp_path, n=3)
    (tmp_path / "images" / "scan.npy").write_bytes(b"\x93NUMPY")
    (tmp_path / "images" / "notes.txt").write_text("lab notes are fine")
    ds, warnings = problems(tmp_path, "warning")
    p = the(warnings, "Not an image file")
    assert p.file == "images/scan.npy" and ".npy" in p.problem
    assert ds.ok and len(ds.pairs) == 3


def test_image_without_mask_and_mask_without_image(tmp_path):
    dataset(tmp_path, n=4)
    (tmp_path / "masks" / "03.png").unlink()
    save(tmp_path / "masks" / "99.png", np.zeros((48, 64), np.uint8))
    ds, warnings = problems(tmp_path, "warning")
    assert the(warnings, "Image without a mask").file == "images/03.png"
    assert the(warnings, "Mask without an image").file == "masks/99.png"
    assert len(ds.pairs) == 3 and ds.ok


def test_image_and_mask_sizes_differ(tmp_path):
    dataset(tmp_path, n=3)
    save(tmp_path / "masks" / "01.png", np.zeros((64, 48), np.uint8))
    p = the(problems(tmp_path)[1], "The mask is 48 x 64 but its image 01.png is 64 x 48")
    assert p.file == "masks/01.png"


def test_too_few_pairs_to_split(tmp_path):
    the(problems(dataset(tmp_path, n=1))[1], "too few to split")


def test_few_pairs_is_a_warning(tmp_path):
    ds, warnings = problems(dataset(tmp_path, n=4), "warning")
    the(warnings, "Only 4 pairs")
    assert ds.ok


def test_decompression_bomb(tmp_path):
    dataset(tmp_path, n=3)
    huge_png_header(tmp_path / "images" / "00.png")
    p = the(problems(tmp_path)[1], "decompression-bomb limit")
    assert p.file == "images/00.png" and "1,600,000,000 pixels" in p.problem


def test_an_image_just_past_the_limit(tmp_path):
    "Between one and two times the limit Pillow only warns; segboard refuses it all the same."
    dataset(tmp_path, n=3)
    huge_png_header(tmp_path / "images" / "01.png", w=10000, h=10000)
    p = the(problems(tmp_path)[1], "10000 x 10000 pixels is past the decompression-bomb limit")
    assert p.file == "images/01.png"


def test_mask_values_that_fit_no_class(tmp_path):
    dataset(tmp_path, n=3, codes=["background", "cell"])
    m = np.zeros((48, 64), np.uint8)
    m[:5, :5] = 2
    save(tmp_path / "masks" / "02.png", m)
    ds, errors = problems(tmp_path)
    p = the(errors, "Values 2 fit no class")
    assert p.file == "masks/02.png" and "codes.txt" in p.fix
    assert len(ds.pairs) == 2


def test_too_many_mask_values_photos_as_masks(tmp_path):
    dataset(tmp_path, n=3)
    rng = np.random.default_rng(0)
    save(tmp_path / "masks" / "01.png", rng.integers(0, 256, (48, 64)).astype(np.uint8))
    _, errors = problems(tmp_path)
    p = the(errors, "distinct values")
    assert [e.file for e in errors] == ["masks/01.png"]  # the photo, not its well-formed neighbours
    assert "instance labels" in p.problem


def test_colour_masks_with_too_many_colours(tmp_path):
    dataset(tmp_path, n=3)
    rng = np.random.default_rng(0)
    save(tmp_path / "masks" / "00.png", rng.integers(0, 256, (48, 64, 3)).astype(np.uint8))
    p = the(problems(tmp_path)[1], "too many to take each for a class")
    assert "codes.txt" in p.fix and "R G B" in p.fix


def test_colour_not_in_the_colour_table(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        image, mask = shapes(rng)
        save(tmp_path / "images" / f"{i}.png", image)
        save(tmp_path / "masks" / f"{i}.png", np.array([(0, 0, 0), (0, 255, 0)], np.uint8)[mask])
    (tmp_path / "codes.txt").write_text("background 0 0 0\ncrack 255 0 0\n")
    p = the(problems(tmp_path)[1], "(0, 255, 0) fit no class")
    assert p.file.startswith("masks/")


def test_two_images_share_a_name(tmp_path):
    dataset(tmp_path, n=3)
    save(tmp_path / "images" / "01.jpg", np.zeros((48, 64, 3), np.uint8))
    p = the(problems(tmp_path)[1], "2 files share one name")
    assert p.file in ("images/01.jpg", "images/01.png")


def test_codes_txt_with_one_class(tmp_path):
    dataset(tmp_path, n=3, codes=["only"])
    p = the(problems(tmp_path)[1], "names 1 class(es)")
    assert p.file == "codes.txt"


def test_codes_txt_with_a_duplicate_name(tmp_path):
    dataset(tmp_path, n=3, codes=["background", "cell", "cell"])
    the(problems(tmp_path)[1], "names cell more than once")


def test_codes_txt_with_colours_for_some_classes_only(tmp_path):
    dataset(tmp_path, n=3, codes=["background 0 0 0", "cell"])
    the(problems(tmp_path)[1], "colours for some classes but not all")


def test_empty_validation_folder(tmp_path):
    dataset(tmp_path / "train", n=3)
    (tmp_path / "valid").mkdir()
    ds, errors = problems(tmp_path)
    assert the(errors, "No image files found").file == "valid"
    assert not ds.ok


def test_validation_folder_with_only_broken_pairs(tmp_path):
    dataset(tmp_path / "train", n=3)
    dataset(tmp_path / "valid", n=1)
    (tmp_path / "valid" / "images" / "00.png").write_bytes(b"garbage")
    the(problems(tmp_path)[1], "The split has 3 training and 0 validation pairs")


def test_all_masks_background(tmp_path):
    dataset(tmp_path, n=3, codes=["background", "cell"])
    for f in (tmp_path / "masks").iterdir():
        save(f, np.zeros((48, 64), np.uint8))
    ds, warnings = problems(tmp_path, "warning")
    the(warnings, "Every mask is background only")


def test_a_class_that_appears_in_no_mask(tmp_path):
    dataset(tmp_path, n=3, codes=["background", "cell", "nucleus"])
    p = the(problems(tmp_path, "warning")[1], "nucleus appear in no mask")
    assert p.file == "codes.txt"


def test_tiny_images(tmp_path):
    dataset(tmp_path, n=3, size=(16, 16))
    the(problems(tmp_path, "warning")[1], "Smaller than 32 px")


def test_float_mask_with_fractions(tmp_path):
    dataset(tmp_path, n=3)
    save(tmp_path / "masks" / "00.tif", np.full((48, 64), 0.5, np.float32))
    (tmp_path / "masks" / "00.png").unlink()
    the(problems(tmp_path)[1], "fractional values")


def test_tiff_stack_is_not_an_image(tmp_path):
    dataset(tmp_path, n=3)
    (tmp_path / "images" / "00.png").unlink()
    save(tmp_path / "images" / "00.tif", np.zeros((7, 48, 64, 5), np.uint8))
    the(problems(tmp_path)[1], "not a 2-D image")


def test_palette_mask_with_void_index(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        image, mask = shapes(rng)
        mask[0, :] = 255  # Pascal VOC's 'void' border
        save(tmp_path / "images" / f"{i}.png", image)
        palette_mask(tmp_path / "masks" / f"{i}.png", mask)
    p = the(problems(tmp_path)[1], "Palette masks use index 255")
    assert "void" in p.fix


def test_nothing_raises_and_user_files_are_untouched(tmp_path):
    "Every broken dataset above leaves its files as they were: opening only reads."
    dataset(tmp_path, n=3, mask_values=(0, 255), mask_ext=".jpg")
    (tmp_path / "images" / "01.png").write_bytes(b"garbage")
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()}
    Dataset.open(tmp_path, access=MACHINE).summary()
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()}
    assert before == after


def test_a_folder_far_above_a_dataset(tmp_path, monkeypatch):
    "Someone types `/` or their home folder: a clear error, not a walk of the whole disk."
    import seg.data.discovery
    monkeypatch.setattr(seg.data.discovery, "MAX_FILES", 30)
    for i in range(40):
        (tmp_path / f"doc{i}.txt").write_text("x")
    ds, errors = problems(tmp_path)
    assert len(errors) == 1
    assert "More than 30 files under this folder" in errors[0].problem


def test_masks_and_codes_that_disagree_point_at_the_codes_file(tmp_path):
    dataset(tmp_path, n=3, mask_values=(0, 128, 255), classes=3, codes=["background", "cell"])
    p = the(problems(tmp_path)[1], "3 distinct values (0, 128, 255) but codes.txt names 2 classes")
    assert p.file == "codes.txt"
