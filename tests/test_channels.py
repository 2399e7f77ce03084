"""Images of many channels and deep values (issue 31): read as channels, never as gray + alpha; scaled per channel
by percentiles that keep their meaning; a model that sees every channel, trained and predicting for real."""

import json

import numpy as np
import pytest
import tifffile
from microscopy import recall_per_channel, write
from PIL import Image
from training import TINY, cli

from seg.data.channels import Input, plan, raw_channels
from seg.data.dataset import Dataset
from seg.data.images import header, load_image, read
from seg.data.tiff import MAX_CHANNELS
from seg.data.tiff import channel_names as tiff_channel_names
from seg.errors import ImageError, SettingsError
from seg.model.settings import DataSettings
from seg.server.sharing import Access


def tif(path, a, **kw):
    tifffile.imwrite(path, a, **kw)
    return path


def test_two_channels_are_two_channels_never_gray_and_alpha(tmp_path):
    a = np.stack([np.full((40, 50), 100, np.uint16), np.full((40, 50), 3000, np.uint16)])
    for name, kw, data in [("planar", {"metadata": {"axes": "CYX"}}, a),
                           ("unnamed_planar", {}, a),
                           ("interleaved", {"photometric": "minisblack", "planarconfig": "contig"},
                            a.transpose(1, 2, 0).copy()),
                           ("plain_hwc", {}, a.transpose(1, 2, 0).copy())]:
        path = tif(tmp_path / f"{name}.tif", data, **kw)
        values, mode = read(path)
        assert mode == "C2" and values.shape == (40, 50, 2), name
        assert raw_channels(path)[..., 1].mean() == 3000  # the second channel kept, not dropped as alpha
        h = header(path)
        assert (h.width, h.height, h.channels, h.alpha) == (50, 40, 2, False)


def test_alpha_only_where_the_file_says_so(tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 3] = 255
    path = tif(tmp_path / "rgba.tif", rgba)  # tifffile marks the fourth sample unassociated alpha
    assert read(path)[1] == "RGBA" and raw_channels(path).shape == (20, 30, 3)
    four = tif(tmp_path / "four.tif", np.arange(20 * 30 * 4, dtype=np.uint16).reshape(20, 30, 4),
               photometric="minisblack", planarconfig="contig")  # four 16-bit samples, no alpha marked
    assert read(four)[1] == "C4" and raw_channels(four)[0, 1].tolist() == [4, 5, 6, 7]
    Image.fromarray(np.zeros((20, 30, 2), np.uint8), "LA").save(tmp_path / "la.png")
    assert read(tmp_path / "la.png")[1] == "LA" and raw_channels(tmp_path / "la.png").shape == (20, 30, 1)


def test_eight_channels_a_composite_and_names_from_ome(tmp_path):
    a = (np.arange(8)[:, None, None] * 1000 + np.zeros((8, 32, 48))).astype(np.uint16)
    path = tif(tmp_path / "eight.tif", a, ome=True,
               metadata={"axes": "CYX", "Channel": {"Name": [f"marker {i}" for i in range(8)]}})
    assert read(path)[1] == "C8" and raw_channels(path).shape == (32, 48, 8)
    assert tiff_channel_names(path) == [f"marker {i}" for i in range(8)]
    shown = load_image(path)
    assert shown.shape == (32, 48, 3) and shown.dtype == np.uint8


def test_too_many_channels_are_refused_with_the_fix(tmp_path):
    many = tif(tmp_path / "many.tif", np.zeros((MAX_CHANNELS + 4, 32, 32), np.uint16), metadata={"axes": "CYX"})
    with pytest.raises(ImageError, match=f"more than the {MAX_CHANNELS}") as e:
        header(many)
    assert f"at most {MAX_CHANNELS} channels" in e.value.fix


def test_dataset_scaling_keeps_a_dim_image_dim_image_scaling_does_not(tmp_path):
    rng = np.random.default_rng(0)
    dim = rng.normal(1000, 100, (1, 64, 64)).clip(0).astype(np.uint16)
    bright = (dim.astype(np.float32) * 4).astype(np.uint16)
    paths = [tif(tmp_path / "dim.tif", dim), tif(tmp_path / "bright.tif", bright)]
    images = [(p, 1, np.dtype(np.uint16), "L") for p in paths]
    by_dataset = plan(images, paths)
    assert by_dataset.kind == "channels" and by_dataset.n_in == 1
    d, b = (by_dataset.load(p).mean() for p in paths)
    assert d < 0.2 and b > 0.6  # intensities keep their meaning
    by_image = plan(images, paths, scaling="image")
    d, b = (by_image.load(p).mean() for p in paths)
    assert abs(d - b) < 0.02  # each image stretched to its own range
    assert Input.from_json(json.loads(json.dumps(by_dataset.to_json()))) == by_dataset


def test_eight_bit_rgb_and_gray_stay_rgb_and_disagreeing_channels_are_refused(tmp_path):
    rgb = [(tmp_path / "a.png", 3, np.dtype(np.uint8), "RGB"), (tmp_path / "b.png", 1, np.dtype(np.uint8), "L")]
    assert plan(rgb, []) == Input()
    mixed = [(tmp_path / "a.tif", 2, np.dtype(np.uint16), "C2"), (tmp_path / "b.tif", 3, np.dtype(np.uint16), "C3")]
    with pytest.raises(SettingsError, match="2 or 3 channels: choose the channels"):
        plan(mixed, [])
    with pytest.raises(SettingsError, match="Channel 4 was chosen"):
        plan(mixed, [], pick=(3,))
    for bad in ("0", "1,1", "x"):
        with pytest.raises(SettingsError, match="Channels"):
            DataSettings(channels=bad).check()
    assert DataSettings(channels="2, 1").pick == (1, 0)


def test_the_data_page_shows_channels_composite_or_one_and_the_choice_reaches_the_settings(home, tmp_path):
    from apps import open_app
    write(tmp_path / "cells", 3, n=4, names=["DAPI", "GFP", "RFP"])
    app = open_app()
    app.segmented_control(key="source").set_value("folder").run()
    app.text_input(key="folder").set_value(str(tmp_path / "cells")).run()
    assert not app.exception
    assert any("3 channel(s) in 4" in c.value and "16-bit" in c.value and "DAPI, GFP, RFP" in c.value
               for c in app.caption)
    assert app.multiselect(key="channels").value == [0, 1, 2]  # all, in order
    assert app.session_state["data"].settings.channels == "all"
    composite = [i.proto for i in app.image]
    app.segmented_control(key="channel_view").set_value(1).run()  # GFP alone, in gray
    assert not app.exception and len(app.image) == len(composite)


def test_channel_names_from_a_file_are_text_on_the_data_page(home, tmp_path):
    "An OME-TIFF's channel names are the file's words: in a segment label (Markdown) they fetch and link nothing."
    from apps import open_app
    hostile = ["![x](http://203.0.113.9/x.png)", "[a](javascript:alert(1))", "<b>bold</b>"]
    write(tmp_path / "cells", 3, n=2, names=hostile)
    app = open_app()
    app.segmented_control(key="source").set_value("folder").run()
    app.text_input(key="folder").set_value(str(tmp_path / "cells")).run()
    assert not app.exception
    import re
    labels = [o.content for o in app.segmented_control(key="channel_view").proto.options]
    assert len(labels) == 4 and all(re.search(r"(?<!\\)[\[\]<>]", x) is None for x in labels), labels  # escaped
    assert "(http://203.0.113.9/x.png)" in labels[1]  # the name itself still there to read
    app.multiselect(key="channels").set_value([2, 0]).run()
    app.radio(key="scaling").set_value("image").run()
    chosen = app.session_state["data"].settings
    assert (chosen.channels, chosen.pick, chosen.scaling) == ("3,1", (2, 0), "image")


TRAINED: dict = {}


def trained(tmp_path_factory, channels: int):
    """A run on `channels`-channel images (16 pairs, 64 px), trained once for the session; (data, run)."""
    if channels not in TRAINED:
        root = tmp_path_factory.mktemp(f"channels{channels}")
        data = root / "cells"
        write(data, channels, n=16, layout="CYX" if channels != 4 else "YXC")
        run = root / "run"
        rc, out, err = cli("train", data, "--run-dir", run, *TINY, "--epochs", "10", "--lr", "3e-3",
                           "--no-pretrained", "--precision", "fp32")
        assert rc == 0, out + err
        TRAINED[channels] = data, run
    return TRAINED[channels]


@pytest.mark.slow
@pytest.mark.parametrize("channels", [2, 4, 8])
def test_a_model_sees_every_channel(tmp_path, tmp_path_factory, channels):
    """Each channel holds objects no other shows: a model blind to one finds none of its objects (measured: trained
    on 7 of 8 channels, 0.0 of the eighth's object pixels; on all, 0.77 to 1.0 of each channel's). Four channels
    interleaved (never read as RGBA), the others planar."""
    data, run = trained(tmp_path_factory, channels)
    ds = Dataset.open(data, access=Access.machine())
    assert ds.ok and {s.mode for s in ds.usable} == {f"C{channels}"}
    cfg = json.loads((run / "config.json").read_text())
    seen = cfg["input"]
    assert seen["kind"] == "channels" and seen["channels"] == list(range(1, channels + 1))
    assert seen["n_in"] == channels and seen["scaling"] == "dataset" and len(seen["low"]) == channels

    held = tmp_path / "held"
    owners = write(held, channels, n=6, seed=99, layout="CYX" if channels != 4 else "YXC")
    out_dir = tmp_path / "pred"
    rc, out, err = cli("predict", run, held / "images", "--out", out_dir)
    assert rc == 0, out + err
    masks = [np.asarray(Image.open(out_dir / "masks" / f"cells_{i:02d}.png")) for i in range(6)]
    assert all(m.shape == (64, 64) for m in masks)
    recall = recall_per_channel(masks, owners, channels)
    assert min(recall) > 0.5, recall  # every channel's objects are found: none was ignored
    preview = np.asarray(Image.open(out_dir / "previews" / "cells_00.png"))
    assert preview.ndim == 3 and preview.shape[-1] == 3


@pytest.mark.slow
def test_the_exports_of_a_two_channel_model_prepare_images_as_training_did(tmp_path, tmp_path_factory):
    """ONNX, the model bundle and the BioImage Model Zoo package take two channels, and say how to scale them."""
    import zipfile

    from seg.prediction.bioimageio import export_bioimageio
    from seg.prediction.bundle import bundle
    from seg.prediction.export import export_folder
    data, run = trained(tmp_path_factory, 2)
    onnx = export_folder(run, tmp_path / "onnx")
    assert onnx["max_difference"] is not None and onnx["max_difference"] < 1e-3
    readme = (tmp_path / "onnx" / "README.txt").read_text()
    assert "float32 (N, 2, 64, 64)" in readme and "channels 1, 2 of the image" in readme
    names = zipfile.ZipFile(__import__("io").BytesIO(bundle(run))).namelist()
    assert "model.onnx" in names and "model.pth" in names and "export.pkl" not in names  # fastai reads RGB only
    result = export_bioimageio(run, tmp_path / "bioimageio")
    assert result["test"] is None or result["test"]["passed"], result["test"]
    rdf = (tmp_path / "bioimageio" / "rdf.yaml").read_text()
    assert "scale_linear" in rdf and "clip" in rdf and np.load(tmp_path / "bioimageio" / "test_input.npy").shape[1] == 2
