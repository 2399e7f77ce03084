"""The bad-input corpus: datasets, images to predict, uploads and settings that are wrong in the ways we
know of. Every case goes through the CLI and through the app (Streamlit's AppTest on the real pages);
each must say what is wrong in the words given here, and leave every file of the user's as it was.

The README's "Bad input" table is this list."""

from __future__ import annotations

import contextlib
import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from apps import open_app
from makers import dataset, huge_png_header, palette_mask, save, shapes
from streamlit.testing.v1 import AppTest
from training import RUN, TINY, copy_run, demo

from seg.cli import main
from seg.model.settings import MAX_EPOCHS


@dataclass
class Case:
    id: str
    kind: str  # dataset, predict, upload, upload-images, settings
    make: Callable[[Path], Path]  # writes the bad input into a folder of the user's; returns what is given
    says: str  # words of the message, in the CLI and in the app
    options: tuple = ()  # settings: the CLI options that are wrong
    app: Callable | None = None  # settings: how the app keeps the value out (a check on its widgets)


CASES: list[Case] = []


def case(kind, says, **kw):
    def register(make):
        CASES.append(Case(make.__name__, kind, make, says, **kw))
        return make
    return register


def pairs(root, n=3, **kw):
    return dataset(root, n=n, **kw)


# ---- datasets ---------------------------------------------------------------------------------------

@case("dataset", "does not exist")
def missing_folder(d):
    return d / "nowhere"


@case("dataset", "This is a file, not a folder")
def a_file_not_a_folder(d):
    (d / "cells.tif").write_bytes(b"II*\0")
    return d / "cells.tif"


@case("dataset", "No image files found")
def empty_folder(d):
    (d / "empty").mkdir()
    return d / "empty"


@case("dataset", "no masks")
def images_without_masks(d):
    for i in range(3):
        save(d / f"{i}.png", np.zeros((8, 8, 3), np.uint8))
    return d


@case("dataset", "Not a readable image")
def corrupt_image(d):
    pairs(d)
    (d / "images" / "01.png").write_bytes(b"this is not a png at all" * 10)
    return d


@case("dataset", "corrupt or truncated")
def truncated_image(d):
    pairs(d, size=(128, 128))
    f = d / "images" / "02.png"
    f.write_bytes(f.read_bytes()[:400])
    return d


@case("dataset", "empty (0 bytes)")
def empty_mask_file(d):
    pairs(d)
    (d / "masks" / "00.png").write_bytes(b"")
    return d


@case("dataset", "The mask is 48 x 64 but its image 01.png is 64 x 48")
def mask_and_image_sizes_differ(d):
    pairs(d)
    save(d / "masks" / "01.png", np.zeros((64, 48), np.uint8))
    return d


@case("dataset", "Values 2 fit no class")
def mask_values_fit_no_class(d):
    pairs(d, codes=["background", "cell"])
    m = np.zeros((48, 64), np.uint8)
    m[:5, :5] = 2
    save(d / "masks" / "02.png", m)
    return d


@case("dataset", "distinct values")
def photos_as_masks(d):
    pairs(d)
    save(d / "masks" / "01.png", np.random.default_rng(0).integers(0, 256, (48, 64)).astype(np.uint8))
    return d


@case("dataset", "2 files share one name")
def two_images_share_a_name(d):
    pairs(d)
    save(d / "images" / "01.jpg", np.zeros((48, 64, 3), np.uint8))
    return d


@case("dataset", "names 1 class(es)")
def codes_with_one_class(d):
    return pairs(d, codes=["only"])


@case("dataset", "decompression-bomb limit")
def decompression_bomb_in_a_dataset(d):
    pairs(d)
    huge_png_header(d / "images" / "00.png")
    return d


@case("dataset", "not a 2-D image")
def tiff_stack(d):
    pairs(d)
    (d / "images" / "00.png").unlink()
    save(d / "images" / "00.tif", np.zeros((7, 48, 64, 5), np.uint8))
    return d


@case("dataset", "Palette masks use index 255")
def palette_void_index(d):
    rng = np.random.default_rng(0)
    for i in range(3):
        image, mask = shapes(rng)
        mask[0, :] = 255
        save(d / "images" / f"{i}.png", image)
        palette_mask(d / "masks" / f"{i}.png", mask)
    return d


@case("dataset", "fractional values")
def float_mask_with_fractions(d):
    pairs(d)
    save(d / "masks" / "00.tif", np.full((48, 64), 0.5, np.float32))
    (d / "masks" / "00.png").unlink()
    return d


@case("dataset", "too few to split")
def one_pair(d):
    return pairs(d, n=1)


# ---- images to predict ------------------------------------------------------------------------------

@case("predict", "Not a readable image")
def corrupt_image_to_predict(d):
    save(d / "good.png", np.zeros((64, 64, 3), np.uint8))
    (d / "bad.png").write_bytes(b"\x89PNG garbage")
    return d


@case("predict", "not a 2-D image")
def a_stack_to_predict(d):
    save(d / "stack.tif", np.zeros((7, 48, 64, 5), np.uint8))
    return d


@case("predict", "decompression-bomb limit")
def a_bomb_to_predict(d):
    return huge_png_header(d / "huge.png", w=10000, h=10000)


@case("predict", "not an image")
def a_text_file_to_predict(d):
    (d / "notes.txt").write_text("lab notes")
    return d / "notes.txt"


@case("predict", "not found")
def a_missing_path_to_predict(d):
    return d / "gone"


@case("predict", "no image files in it")
def an_empty_folder_to_predict(d):
    (d / "empty").mkdir()
    return d / "empty"


@case("predict", "classes")
def a_dataset_with_other_classes(d):
    return pairs(d, classes=3, codes=["background", "cell", "nucleus", "debris"])


# ---- uploads ----------------------------------------------------------------------------------------

def zipped(d, members: dict, name="upload.zip", links=()):
    path = d / name
    with zipfile.ZipFile(path, "w") as zf:
        for arcname, data in members.items():
            zf.writestr(arcname, data)
        for arcname, target in links:
            info = zipfile.ZipInfo(arcname)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, target)
    return path


def png(a=None) -> bytes:
    buf = io.BytesIO()
    from PIL import Image
    Image.fromarray(np.zeros((32, 32), np.uint8) if a is None else a).save(buf, format="PNG")
    return buf.getvalue()


@case("upload", "points outside the archive's folder")
def zip_slip(d):
    return zipped(d, {"images/00.png": png(), "../../evil.sh": b"rm -rf /"})


@case("upload", "has an absolute path")
def zip_absolute_path(d):
    return zipped(d, {"/etc/cron.d/evil": b"* * * * * root sh"})


@case("upload", "is a symbolic link")
def zip_with_a_link(d):
    return zipped(d, {"images/00.png": png()}, links=[("masks/00.png", "/etc/passwd")])


@case("upload", "out of proportion for images")
def zip_bomb(d):
    path = d / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("images/00.png", "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(300):
                f.write(chunk)
    return path


@case("upload", "Not a zip archive")
def not_a_zip(d):
    (d / "cells.zip").write_bytes(b"these are not the bytes of a zip" * 20)
    return d / "cells.zip"


@case("upload", "No image files found")
def zip_of_documents(d):
    return zipped(d, {"report.docx": b"PK not really", "notes.txt": b"lab notes"})


@case("upload", "decompression-bomb limit")
def zip_with_a_huge_image(d):
    src = huge_png_header(d / "tmp-huge.png", w=10000, h=10000)
    data = src.read_bytes()
    src.unlink()
    return zipped(d, {"images/00.png": data, "masks/00.png": png(), "images/01.png": png(), "masks/01.png": png(),
                      "images/02.png": png(), "masks/02.png": png()})


@case("upload-images", "Not a readable image")
def images_upload_with_a_document_named_png(d):
    "The uploader takes image extensions only; a document renamed .png gets through it and no further."
    (d / "slide.png").write_bytes(png())
    (d / "notes.png").write_text("lab notes, not an image")
    return d


# ---- settings ---------------------------------------------------------------------------------------

def bounds(key, low=None, high=None):
    "The app's widget cannot take the value: its smallest and largest choices stay inside the limits."
    def check(at):
        w = next(w for w in at.main if getattr(w, "key", None) == key)
        values = [float(v) for v in w.options] if hasattr(w, "options") and w.options else [w.min, w.max]
        return (low is None or min(values) >= low) and (high is None or max(values) <= high)
    return check


def sizes_multiple_of_32(at):
    w = next(w for w in at.main if getattr(w, "key", None) == "train_size")
    return all(int(v) % 32 == 0 and int(v) >= 32 for v in w.options)


def good_data(d):
    return demo(d / "cells", n=6, size=64)


for cid, options, says, app in [
    ("zero_epochs", ("--epochs", "0"), f"Epochs 0: use 1 to {MAX_EPOCHS}", bounds("epochs", low=1)),
    ("absurd_epochs", ("--epochs", "100000"), f"Epochs 100000: use 1 to {MAX_EPOCHS}",
     bounds("epochs", high=MAX_EPOCHS)),
    ("negative_learning_rate", ("--lr", "-0.01"), "Learning rate -0.01", bounds("lr", low=1e-7)),
    ("absurd_learning_rate", ("--lr", "50"), "Learning rate 50", bounds("lr", high=1.0)),
    ("size_not_a_multiple_of_32", ("--size", "100"), "multiples of 32", sizes_multiple_of_32),
    ("size_too_small", ("--size", "16"), "multiples of 32", sizes_multiple_of_32),
    ("zero_batch", ("--bs", "0"), "Batch size 0: use 1 or more", bounds("train_bs", low=1)),
    ("validation_fraction_one", ("--valid-pct", "1"), "Validation fraction 1", bounds("train_valid_pct", 0.01, 0.99)),
    ("missing_weights_file", ("--pretrained", "--weights", "/nowhere/resnet34.pth"), "Weights file", None),
]:
    CASES.append(Case(cid, "settings", good_data, says, options, app))
CASES.append(Case("batch_larger_than_the_dataset", "settings", good_data, "batches hold 5", ("--bs", "64"), None))


# ---- running a case ---------------------------------------------------------------------------------

def snapshot(root: Path) -> dict:
    "Every file of the user's: its bytes' hash and modification time."
    if not root.exists():
        return {}
    return {p.relative_to(root): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() or p.is_symlink()}


def cli(*args) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text, text
    return rc, text


def shown(at) -> str:
    "Everything the page says in words and tables."
    parts = [e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info]
    parts += [c.value for c in at.caption] + [d.value.to_csv() for d in at.dataframe]
    return "\n".join(map(str, parts))


@pytest.fixture(scope="module")
def trained(finished):
    "The session's trained run (conftest): the corpus predicts with it."
    return finished.run


def app(home, trained=None) -> AppTest:
    if trained is not None and not (home / "runs" / RUN).exists():
        copy_run(trained, home / "runs" / RUN)
    return open_app()


def test_the_corpus_is_large_enough():
    kinds = {c.kind for c in CASES}
    assert len(CASES) >= 30 and kinds == {"dataset", "predict", "upload", "upload-images", "settings"}
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, tmp_path, home, trained):
    user = tmp_path / "user"
    user.mkdir()
    given = c.make(user)
    before = snapshot(user)

    # -- the CLI
    if c.kind == "dataset":
        rc, text = cli("inspect", given)
        assert rc == 1
    elif c.kind == "upload":
        rc, text = cli("inspect", given)
        assert rc in (1, 2)
    elif c.kind == "predict":
        rc, text = cli("predict", trained, given, "--out", tmp_path / "out")
        assert rc in (1, 2)
    elif c.kind == "upload-images":  # the CLI reads images where they are: nothing is uploaded
        rc, text = cli("predict", trained, given, "--out", tmp_path / "out")
        assert rc == 1  # the good image predicted, the document listed
    else:
        rc, text = cli("train", given, "--run-dir", tmp_path / "run", *TINY, "--epochs", 1, *c.options)
        assert rc == (0 if c.id == "batch_larger_than_the_dataset" else 2)
        if rc == 2:
            assert not (tmp_path / "run").exists()  # refused before a file was written
    assert c.says in text, text
    assert snapshot(user) == before

    # -- the app
    if c.kind in ("dataset", "upload"):
        at = app(home)
        if c.kind == "dataset":
            at.segmented_control(key="source").set_value("folder").run()
            at.text_input(key="folder").set_value(str(given)).run()
        else:
            at.segmented_control(key="source").set_value("upload").run()
            at.file_uploader(key="upload").set_value((given.name, given.read_bytes(), "application/zip")).run()
        assert not at.exception, at.exception
        assert at.session_state["data"] is None  # nothing to train on
    elif c.kind in ("predict", "upload-images"):
        at = app(home, trained)
        at.switch_page("pages/predict.py").run()
        if c.kind == "predict":
            at.segmented_control(key="predict_source").set_value("folder").run()
            at.text_input(key="predict_folder").set_value(str(given)).run()
            at.button(key="predict").click().run()
        else:
            at.segmented_control(key="predict_source").set_value("upload").run()
            at.file_uploader(key="predict_upload").set_value(
                [(p.name, p.read_bytes(), "application/octet-stream") for p in sorted(given.iterdir())]).run()
        assert not at.exception, at.exception
    else:
        at = app(home)
        at.segmented_control(key="source").set_value("folder").run()
        at.text_input(key="folder").set_value(str(given)).run()
        if c.id == "batch_larger_than_the_dataset":
            at.number_input(key="bs").set_value(64).run()
            assert "batches will hold 5" in shown(at)
        at.switch_page("pages/train.py").run()
        assert not at.exception, at.exception
        if c.app is not None:
            assert c.app(at), f"the Train page lets {c.options} through"
        elif c.id == "missing_weights_file":
            at.toggle(key="pretrained").set_value(True).run()
            at.text_input(key="weights").set_value("/nowhere/resnet34.pth").run()
            assert "Weights file" in shown(at) and at.button(key="start").disabled
        assert not list((home / "runs").glob("*")) if (home / "runs").exists() else True
        assert snapshot(user) == before
        return
    if c.kind == "upload-images":
        at.button(key="predict").click().run()
        assert not at.exception, at.exception
    assert c.says in shown(at), shown(at)
    assert snapshot(user) == before
