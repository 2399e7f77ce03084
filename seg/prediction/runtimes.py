"""The engines a `Predictor`'s forward pass can run on: a registry that maps a name to a small record.

    pytorch     the run's network in PyTorch, in the number format that is fastest on the device (float32,
                channels-last, bfloat16 or float16 autocast: seg/model/number_formats.py); CPU and GPU
    onnx        the same network exported to ONNX (seg/prediction/export.py) on ONNX Runtime, float32; CPU
    onnx-int8   that ONNX model with its weights and activations quantised to 8-bit integers by ONNX
                Runtime's own static quantiser, calibrated on images prepared exactly as the Predictor
                prepares them (the run's training images where its dataset is still there); CPU

`runtime(name).build(model, calibration, cache)` gives an `Engine`: logits (N, classes, H, W) float32 for a
normalised batch, as the PyTorch network gives them (`cache`: the file it is kept in between predictions).
Adding a runtime is one entry in RUNTIMES. Which one `auto` takes is decided by measurement against the truth
(bench/runtimes.py; docs/benchmarks.md), never by agreement with float32 alone: a runtime is adopted only where
its Dice stays within DICE_TOLERANCE of float32's on every shared set. Cheap to import (the command line's help
reads it): torch and ONNX Runtime load when one is built.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from seg.errors import SettingsError

DICE_TOLERANCE = 0.005  # how far below float32's Dice a faster runtime may score on a shared set to be adopted
CALIBRATION = 32  # prepared inputs (images or tiles) the INT8 quantiser measures ranges on (demo objects' AP50: 16
# gave 0.927, 32 0.929, float32 0.929)
LABEL = "segboard.runtime"  # the metadata key of a prepared model's label (what computed the masks, in words)
KEEP = 8  # prepared models kept in the cache, the most recently used (INT8 resnet34 U-Net: 42 MB; float32: 125 MB)


class Engine:
    "A built runtime: `logits(batch)` for a normalised float32 batch (N, C, H, W) on the CPU."

    label = ""
    seconds = 0.0  # what building it took (export, quantisation)
    ops: dict[str, int] = {}  # the graph's operators by type (an INT8 one holds QuantizeLinear nodes)

    def logits(self, x):
        "(N, classes, H, W) float32 torch logits for a normalised float32 batch."
        raise NotImplementedError


class OnnxEngine(Engine):
    "An ONNX model on ONNX Runtime's CPU provider, with as many threads as torch uses."

    def __init__(self, model_bytes: bytes):
        import onnxruntime as ort
        import torch
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        opts.log_severity_level = 3  # warnings about the graph's optimisation are not the user's concern
        self.session = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
        import onnx
        proto = onnx.load_from_string(model_bytes)
        self.label = {m.key: m.value for m in proto.metadata_props}.get(LABEL, "ONNX Runtime")
        self.ops = dict(Counter(n.op_type for n in proto.graph.node))

    def logits(self, x):
        import torch
        out = self.session.run(["logits"], {"image": x.detach().cpu().float().contiguous().numpy()})[0]
        return torch.from_numpy(out)


@dataclass(frozen=True)
class Runtime:
    name: str
    label: str
    devices: tuple[str, ...]  # device kinds it runs on
    needs: str | None  # the module it needs (checked before building), None for torch alone
    build: Callable | None  # (model, calibration, cache) -> Engine; None: the Predictor's own PyTorch path
    calibrated: bool = False  # whether it takes calibration inputs

    def available(self, device_kind: str) -> str | None:
        "None when it runs here, else why not (one sentence)."
        if device_kind not in self.devices:
            where = " or ".join(d.upper() for d in self.devices)
            return f"{self.label} runs on the {where} only, not on {device_kind.upper()}."
        if self.needs:
            try:
                __import__(self.needs)
            except ImportError:
                return f"{self.label} needs the Python package {self.needs}, which is not installed here."
        return None


def onnx_bytes(model, folder: Path) -> bytes:
    from seg.prediction.export import export_onnx
    path = export_onnx(model, folder / "model.onnx")  # checked against PyTorch's logits
    return path.read_bytes()


def _onnx(model, calibration=None, cache: Path | None = None) -> Engine:
    return _cached(cache, lambda folder: (onnx_bytes(model, folder), "ONNX Runtime, float32"))


def _cached(cache: Path | None, make: Callable[[Path], tuple[bytes, str]]) -> Engine:
    """An engine over the model and label `make(folder)` gives, read from `cache` when an earlier prediction kept
    it there (written whole, then renamed: a half-written file is never read; the label in its metadata)."""
    start = time.perf_counter()
    model_bytes = None
    if cache is not None:
        with contextlib.suppress(OSError):  # none kept yet, or let go by another session meanwhile: made again
            model_bytes = cache.read_bytes()
            os.utime(cache)  # recently used: kept when older ones are let go
    if model_bytes is None:
        import onnx
        with tempfile.TemporaryDirectory(prefix="segboard-runtime-") as tmp:
            made, label = make(Path(tmp))
        proto = onnx.load_from_string(made)
        proto.metadata_props.add(key=LABEL, value=label)  # what it is, read back with the kept file
        model_bytes = proto.SerializeToString()
        if cache is not None:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                part = cache.with_name(f"{cache.name}.{os.getpid()}.{threading.get_ident()}.part")  # two sessions
                part.write_bytes(model_bytes)
                part.replace(cache)
                for old in sorted(cache.parent.glob("*.onnx"), key=lambda f: -f.stat().st_mtime)[KEEP:]:
                    old.unlink()
            except OSError:  # a cache that cannot be written costs time next time, nothing else
                pass
    engine = OnnxEngine(model_bytes)
    engine.seconds = time.perf_counter() - start
    return engine


def cache_key(model, runtime: str) -> str:
    """What a kept engine depends on: the weights (their content, so a copied, moved or renamed run finds what was
    prepared for it, and weights replaced in place never find the old one; hashing 100 MB takes about 0.1 s), the
    runtime, the versions that build it, the CPU's 8-bit instructions and the calibration's size (its images are
    the run's training images)."""
    import hashlib
    import json

    import onnxruntime
    import torch
    with open(model.weights, "rb") as f:
        weights = hashlib.file_digest(f, "sha256").hexdigest()
    parts = [weights, runtime, onnxruntime.__version__, torch.__version__, vnni(), CALIBRATION]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def vnni() -> bool:
    """Whether this x86 CPU multiplies 8-bit integers without saturating (AVX-512 VNNI or AVX-VNNI); elsewhere
    ONNX Runtime's 8-bit convolutions may saturate, so the weights use 7 bits (its `reduce_range`)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags or "amx_int8" in flags


class _Reader:
    "ONNX Runtime's calibration reader over prepared batches (its CalibrationDataReader's protocol)."

    def __init__(self, batches: list):
        self.batches = iter(batches)

    def get_next(self):
        x = next(self.batches, None)
        return None if x is None else {"image": x}

    def rewind(self):  # pragma: no cover - the quantiser calls it only for some calibration methods
        pass


def _onnx_int8(model, calibration: Iterable | Callable[[], Iterable] | None = None,
               cache: Path | None = None) -> Engine:
    "`calibration`: batches, or a function that prepares them, called only when the model is not kept in `cache`."
    def make(folder: Path) -> tuple[bytes, str]:
        batches = [x.detach().cpu().float().numpy()
                   for x in ((calibration() if callable(calibration) else calibration) or [])]
        if not batches:
            raise SettingsError("ONNX Runtime INT8 needs a few images to calibrate on; none were given.")
        inputs = [b[i:i + 1] for b in batches for i in range(len(b))]
        return _quantised(model, inputs, folder), f"ONNX Runtime, INT8 (static, {len(inputs)} calibration inputs)"
    return _cached(cache, make)


def _quantised(model, inputs: list, folder: Path) -> bytes:
    """The model quantised by ONNX Runtime's static quantiser: QDQ, unsigned 8-bit activations whose ranges are
    measured on `inputs`, signed 8-bit weights per output channel (7-bit where the CPU has no VNNI). The last
    convolution, which makes the logits, stays float32: quantising it cost the demo objects 0.011 of AP50 against
    float32, keeping it 0.003 (bench/runtimes.py), for a layer of a few channels."""
    import logging

    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    reader = type("Reader", (_Reader, CalibrationDataReader), {})(inputs)
    (folder / "model.onnx").write_bytes(onnx_bytes(model, folder))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser's notes on batch-norm weights it leaves alone are not the user's
    try:
        quant_pre_process(str(folder / "model.onnx"), str(folder / "prepared.onnx"), skip_symbolic_shape=True)
        convs = [n.name for n in onnx.load(str(folder / "prepared.onnx")).graph.node if n.op_type == "Conv"]
        quantize_static(str(folder / "prepared.onnx"), str(folder / "int8.onnx"), reader,
                        quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        per_channel=True, reduce_range=not vnni(), nodes_to_exclude=convs[-1:])
    finally:
        root.setLevel(level)
    return (folder / "int8.onnx").read_bytes()


RUNTIMES = {r.name: r for r in (
    Runtime("pytorch", "PyTorch", ("cpu", "cuda", "mps"), None, None),
    Runtime("onnx", "ONNX Runtime float32", ("cpu",), "onnxruntime", _onnx),
    Runtime("onnx-int8", "ONNX Runtime INT8", ("cpu",), "onnxruntime", _onnx_int8, calibrated=True),
)}
CHOICES = ("auto", *RUNTIMES)
# What `auto` takes per device kind (PyTorch elsewhere), decided by bench/runtimes.py against the truth: on the
# CPU, INT8's Dice was within 0.001 of float32's on drive and membrane (+0.0009, +0.0002) at 2.5-2.7x its speed.
AUTO = {"cpu": "onnx-int8"}
AGREE = 0.98  # an INT8 engine whose first masks differ from float32's on more of the pixels is not used


def runtime(name: str, device_kind: str = "cpu") -> Runtime:
    "The runtime called `name` (`auto`: AUTO's for the device); SettingsError names the choices."
    if name == "auto":
        name = AUTO.get(device_kind, "pytorch")
    if name not in RUNTIMES:
        raise SettingsError(f"Runtime {name!r}: use one of {', '.join(CHOICES)}.")
    return RUNTIMES[name]


HELP = (f"auto ({', '.join(f'{RUNTIMES[v].label} on the {k.upper()}' for k, v in AUTO.items())}, PyTorch elsewhere: "
        "chosen by Dice against the truth, docs/benchmarks.md), pytorch (the fastest number format of a timed pass), "
        "onnx (ONNX Runtime float32, CPU), onnx-int8 (ONNX Runtime with 8-bit integers, calibrated on the run's "
        "training images; CPU)")
