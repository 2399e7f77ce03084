"""The dataset and settings a run or the learning-rate finder starts from, checked before anything is
written: the first thing to fix as a SettingsError."""

from __future__ import annotations

from seg.data.dataset import Dataset
from seg.errors import SettingsError
from seg.model.settings import DataSettings, TrainSettings
from seg.server.sharing import Access


def prepare(data, data_settings: DataSettings, train_settings: TrainSettings, codes=None):
    "Open and check the dataset and settings; raise SettingsError with the first thing to fix."
    data_settings.check()
    train_settings.check()
    dataset = Dataset.open(data, codes=codes, access=Access.within(data_settings.within, data),
                           objects=data_settings.objects)
    if not dataset.ok:
        raise SettingsError(f"The dataset in {data} cannot be trained on: {dataset.first_error()} "
                            f"(python -m seg inspect {data} lists every problem)")
    if data_settings.scale is not None and dataset.crops:
        raise SettingsError(f"--scale {data_settings.scale:g}: the dataset in {data} holds large images, which "
                            f"train on windows at their own pixels already; leave --scale out.")
    return dataset
