"""fastai DataLoaders from a dataset: shapes, class indices, splits, workers, augmentation preview."""

import pickle

import numpy as np
import pytest
import torch
from makers import MACHINE, dataset

from seg import Dataset
from seg.data.dataloaders import DataSettings, ReadMask, augment_preview, dataloaders
from seg.errors import SettingsError


@pytest.fixture(scope="module")
def ds255(tmp_path_factory):
    "0/255 masks, 3 classes no: 2 classes, non-square images: the classic fastai trap."
    root = dataset(tmp_path_factory.mktemp("d"), n=10, mask_values=(0, 255), size=(60, 90))
    return Dataset.open(root, access=MACHINE)


def test_batches_have_the_right_shapes_and_class_indices(ds255):
    dls = dataloaders(ds255, DataSettings(size=(64, 96), bs=4))
    x, y = dls.one_batch()
    assert x.shape == (4, 3, 64, 96) and x.dtype == torch.float32
    assert y.shape == (4, 64, 96)
    assert set(y.unique().tolist()) <= {0, 1}  # never 255: that is the CUDA device-side assert
    assert list(dls.vocab) == ["background", "foreground"]
    assert (len(dls.train_ds), len(dls.valid_ds)) == (8, 2)


def test_validation_batches_are_not_augmented_and_match_the_mask(ds255):
    dls = dataloaders(ds255, DataSettings(size=64, bs=2, augment=True))
    x, y = dls.valid.one_batch()
    assert x.shape == (2, 3, 64, 64)
    # the images are brighter where the mask is foreground (see makers.shapes)
    xd = dls.valid.decode((x, y))[0]
    bright = xd.float().mean(1)
    fg, bg = bright[y == 1].mean(), bright[y == 0].mean()
    assert fg > bg + 0.2 * (255 if bright.max() > 1.5 else 1)


def test_folder_split_is_used(tmp_path):
    dataset(tmp_path / "train", n=5, classes=3, codes=None, seed=1)
    dataset(tmp_path / "valid", n=3, classes=3, seed=2)
    dls = dataloaders(Dataset.open(tmp_path, access=MACHINE), DataSettings(size=32, bs=2))
    assert (len(dls.train_ds), len(dls.valid_ds)) == (5, 3)
    _, y = dls.one_batch()
    assert y.max() <= 2


def test_worker_processes(ds255):
    dls = dataloaders(ds255, DataSettings(size=32, bs=4, workers=2))
    batches = list(dls.train)
    assert len(batches) == 2 and batches[0][0].shape == (4, 3, 32, 32)


def test_item_readers_pickle_for_spawned_workers(ds255):
    reader = pickle.loads(pickle.dumps(ReadMask(ds255.encoding)))
    m = np.asarray(reader(ds255.pairs[0]))
    assert m.shape == (60, 90) and set(np.unique(m)) <= {0, 1}


@pytest.mark.parametrize("settings,message", [
    (DataSettings(size=100), "multiples of 32"),
    (DataSettings(size=16), "multiples of 32"),
    (DataSettings(bs=0), "Batch size 0"),
    (DataSettings(valid_pct=1.0), "between 0 and 1"),
])
def test_bad_settings_give_a_sentence(ds255, settings, message):
    with pytest.raises(SettingsError, match=message):
        dataloaders(ds255, settings)


def test_a_broken_dataset_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        dataloaders(Dataset.open(tmp_path / "nope", access=MACHINE))


def test_augmentation_preview(ds255):
    views = augment_preview(ds255, ds255.pairs[0], DataSettings(size=64), n=6)
    assert len(views) == 6
    for image, mask in views:
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        assert mask.shape == (64, 64) and set(np.unique(mask)) <= {0, 1}
    assert any(not np.array_equal(views[0][0], v[0]) for v in views[1:])  # really random


def test_a_batch_larger_than_the_training_split_is_capped(ds255):
    dls = dataloaders(ds255, DataSettings(size=32, bs=64))
    assert dls.train.bs == 8 and len(list(dls.train)) == 1
