"""The errors a user sees, defined once, at the bottom of seg's layers.

An error here is a message for a person, not a bug report: its text names the file, folder, run or setting
at fault and says what to do about it, and whoever catches it shows it as it is (the CLI prints one line and
exits 2, a page shows it as text; `ui.text`). A traceback is for what no user could fix.

Two families:
- `SettingsError` (a ValueError) and its kinds: one sentence, the problem and its fix together.
- `ImageError`, `CodesError`, `LabelsError`: `problem` and `fix` apart, as the dataset report
  (seg/data/report.py: Problem) and the Label page show them.
`RunError` (a RuntimeError) is a run that cannot start or be read.

Each is raised in one package and caught in others (the CLI, the pages, other packages), so it lives here
rather than in the module that raises it: catching one never imports that module's package, and the
packages stay in layers (tests/test_layers.py). This module and seg.util are the bottom: they import
nothing from seg. The modules that raise an error still have it as an attribute (`seg.prediction.model.
PredictError` is this one), but code imports it from here."""

from __future__ import annotations


class SettingsError(ValueError):
    """A setting, option or input a user chose cannot be used; the sentence says why and what to choose.
    Raised by the settings themselves (seg/model/settings.py), the learner, training and measuring, the CLI;
    the CLI prints it in one line and exits 2, the Data, Train and Predict pages show it where it was set."""


class AccessError(SettingsError):
    """Something the sharing settings forbid; the message says what and who can change it.
    Raised by seg/server/sharing.py (a path outside the roots, a read-only app, a bad typed path); the app
    shows it where the path was typed (ui/access.py)."""


class PredictError(SettingsError):
    """A run or an input cannot be used for prediction; the message says why and what to do.
    Raised by seg/prediction/ (loading a run's model, writing or reading a prediction folder, exporting);
    `seg predict`/`seg export` print it, the Predict page shows it."""


class UploadError(SettingsError):
    """An upload refused or unreadable; the message says why and what to upload instead.
    Raised by seg/data/uploads.py (zip slip, links, zip bombs, too many files); the Data and Predict pages show
    it under the upload."""


class ImageError(Exception):
    """An image or mask file that cannot be read, or would be too big decoded: `problem` (what is wrong with
    the file) and `fix` (what to do). Raised by seg/data/images.py; the dataset report lists it against the
    file, prediction and labelling warn about that image and go on."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem, self.fix = problem, fix


class CodesError(Exception):
    """A codes.txt that cannot be used (unreadable, too few or too many classes, a duplicate name, colours for
    some classes only): `problem` and `fix`. Raised by seg/data/codes.py; the dataset report shows it
    (seg/data/classes.py)."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem, self.fix = problem, fix


class RunError(RuntimeError):
    """A run cannot start or be read; the message says why and what to do (the device is busy with another run,
    a folder already holds a run, a run is missing or unfinished). Raised by seg/runs/ and training; the CLI
    prints it in one line and exits 2, the Train and Label pages show it."""


class LabelsError(Exception):
    """A labels set cannot be made, read or saved (a bad name, an image outside the roots, a mask that does not
    fit the set's classes): `problem` and `fix`. Raised by seg/labels/store.py; the Label page shows it,
    `seg corrections` prints it as a SettingsError."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem, self.fix = problem, fix
