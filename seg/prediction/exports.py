"""The formats a run's model is exported in, by name, in the manner of segmentation_models.pytorch's encoder
registry: each name maps to one small record, and everything that needs to know about one (`seg export`'s
--format choices, options and help, the command's dispatch and its line, the Predict page's export section,
tests/test_docs.py's check of docs/cli.md) reads it here. Adding a format is one entry: a writer
`f(run_dir, out, which, **options) -> dict` (a new or empty folder `out`; the dict is what `--json` prints,
with "format" and "folder"; a model that fails its check raises PredictError) and its record.
Cheap to import: a writer's module (torch) is imported when it writes."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

LICENSE = "CC-BY-4.0"  # the zoo's usual licence for a model; --license changes it


@dataclass(frozen=True)
class Option:
    "A command-line option of `seg export` that a format's writer takes, as the keyword `param`."
    flag: str  # "--license"
    param: str  # the writer's keyword, and the option's dest
    metavar: str
    help: str  # the CLI's help, after "FORMAT: "; the default is added in brackets
    default: object = None
    repeat: bool = False  # may be given several times: the writer gets a list (None when not given)


@dataclass(frozen=True)
class Format:
    name: str  # --format NAME; the page's keys (export_NAME), folders (exports/TIME-RUN-NAME), zips (RUN-NAME.zip)
    label: str  # what is written, as a noun: "ONNX model" (the CLI's line, the page's button and download)
    about: str  # one line: what the folder holds and which tools read it (--help, the page, docs/cli.md)
    main: str  # the file a tool opens, in the folder
    writer: str  # "module:function", imported when it writes
    checked_with: str  # what checks every export before it is said to be good (the page, docs/cli.md)
    outcome: Callable[[dict], str]  # that check's outcome in words, from the writer's result
    doing: str  # the page's spinner while it writes and checks
    folder_hint: str = ""  # the CLI's line ends with it: what to do with the folder
    zip_hint: str = ""  # the page's: what to do with the zip it downloads
    options: tuple[Option, ...] = ()

    @property
    def a_label(self) -> str:
        "The label with its article: 'a BioImage Model Zoo package', 'an ONNX model'."
        return f"{'an' if self.label[0].lower() in 'aeiou' else 'a'} {self.label}"

    def write(self, run_dir, out, which: str = "best", **options) -> dict:
        """Export the run's model (`which` weights) into `out`, a new or empty folder, and check it; the options
        not given take their defaults. PredictError when the folder is refused or the model fails its check."""
        unknown = set(options) - {o.param for o in self.options}
        if unknown:
            raise TypeError(f"{self.name} takes no option {', '.join(sorted(unknown))}")
        module, function = self.writer.split(":")
        given = {o.param: options.get(o.param, o.default) for o in self.options}
        return getattr(import_module(module), function)(run_dir, out, which=which, **given)

    def said(self, result: dict) -> str:
        "The CLI's line for a finished export."
        hint = f"; {self.folder_hint}" if self.folder_hint else ""
        return f"{self.label} in {result['folder']} ({self.outcome(result)}){hint}"


def _bioimageio_test(result: dict) -> str:
    t = result["test"]
    return "not tested (bioimageio.core is not installed)" if t is None else \
        f"bioimageio test: {t['status']} ({t['checks']} checks)"


def _onnx_check(result: dict) -> str:
    d = result["max_difference"]
    return "not checked (onnxruntime is not installed)" if d is None else f"largest logit difference from PyTorch: {d}"


FORMATS = {f.name: f for f in (
    Format("bioimageio", "BioImage Model Zoo package",
           "the model as TorchScript and ONNX, its input normalisation, a test image and the output it must give, a "
           "cover and documentation, for Fiji (deepImageJ), ilastik, QuPath and BiaPy",
           main="rdf.yaml", writer="seg.prediction.bioimageio:export_bioimageio",
           checked_with="bioimageio.core's own test (both weight formats give the test output, offline)",
           outcome=_bioimageio_test, doing="Converting to TorchScript and ONNX, and testing the package",
           folder_hint="open rdf.yaml with Fiji's deepImageJ, ilastik or QuPath, or zip the folder's files to upload",
           zip_hint="Unzip it anywhere, or import the zip in deepImageJ (Fiji), ilastik or QuPath.",
           options=(Option("--license", "license", "ID", "the model's licence, an SPDX id", default=LICENSE),
                    Option("--author", "authors", "NAME", "an author's name (repeat for several)", repeat=True))),
    Format("onnx", "ONNX model",
           "model.onnx (input `image`, output `logits`), codes.txt, config.json and a README on its input, for ONNX "
           "Runtime, OpenVINO and the tools built on them",
           main="model.onnx", writer="seg.prediction.export:export_folder",
           checked_with="ONNX Runtime against PyTorch on a test batch",
           outcome=_onnx_check, doing="Converting to ONNX and checking it against PyTorch",
           zip_hint="Unzip it anywhere: README.txt says how to run model.onnx."),
)}
DEFAULT = "bioimageio"


def options() -> dict[str, tuple[Option, list[str]]]:
    "Every format's options by flag, with the formats that take it (a flag two formats share is one option)."
    found: dict[str, tuple[Option, list[str]]] = {}
    for f in FORMATS.values():
        for o in f.options:
            if o.flag in found and found[o.flag][0] != o:
                raise ValueError(f"{o.flag}: the formats {found[o.flag][1]} and {f.name} declare it differently")
            found.setdefault(o.flag, (o, []))[1].append(f.name)
    return found


def zip_folder(folder: Path) -> bytes:
    "An export's folder as a zip, its files at the top (the zoo's package format: rdf.yaml at the top)."
    from seg.prediction.bundle import compression
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(Path(folder).iterdir()):
            if f.is_file():
                zf.write(f, f.name, compress_type=compression(f.name))
    return buf.getvalue()
