"""Inference speed: the same model and images through segboard's `Predictor` against a loop of fastai's
`learn.predict` (the tutorial's way to use a model), and against a bare `model(x)` forward on tensors
already in memory, in each number format and runtime: PyTorch float32, float32 channels-last, bfloat16
autocast; ONNX Runtime; OpenVINO float32 and INT8 (NNCF post-training quantization on a few training
images), each with its masks' agreement with PyTorch float32 (runtimes not installed are left out).
Also a 4096 x 4096 image predicted in tiles, with its time and peak memory.

    python bench/infer.py --data ../shared/datasets/membrane [--run RUN_DIR] [--n 24] [--rounds 3]

Without --run, a one-epoch run (256 px, resnet34, from scratch) is trained first. Figures are medians
over alternating rounds; the table in docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import results  # noqa: E402  (bench/results.py: where the tables go)
import torch  # noqa: E402

from seg import Dataset  # noqa: E402
from seg.prediction.files import predict_files  # noqa: E402
from seg.prediction.inference import Predictor, _to_batch, resize  # noqa: E402
from seg.prediction.model import Model  # noqa: E402

TILED = """
import json, sys, threading, time
sys.path.insert(0, {root!r})
from seg.prediction.inference import Predictor
from seg.prediction.model import Model
from seg.data.images import load_image

def rss_mb():  # resident memory now (ru_maxrss would keep the peak of loading)
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

model = Model.load({run!r})
p = Predictor(model)
image = load_image({image!r})
before, peak, done = rss_mb(), [0.0], threading.Event()

def watch():
    while not done.is_set():
        peak[0] = max(peak[0], rss_mb())
        time.sleep(0.02)

threading.Thread(target=watch, daemon=True).start()
t = time.perf_counter()
mask = p.predict(image)
seconds = time.perf_counter() - t
done.set()
print(json.dumps({{"seconds": seconds, "peak_mb": max(peak[0], rss_mb()), "before_mb": before,
                  "shape": mask.shape, "tiled": p.needs_tiles(*image.shape[:2])}}))
"""


def fastai_learner(data: Path, run: Path):
    from seg.data.dataloaders import dataloaders
    from seg.model.device import detect
    from seg.model.learner import learner
    from seg.model.settings import DataSettings, TrainSettings
    from seg.server.sharing import Access
    cfg = json.loads((run / "config.json").read_text())
    ds = Dataset.open(data, access=Access.machine())
    dls = dataloaders(ds, DataSettings(**{**cfg["data"], "size": tuple(cfg["data"]["size"]) if isinstance(
        cfg["data"]["size"], list) else cfg["data"]["size"], "augment": False}), device="cpu")
    learn = learner(dls, TrainSettings(arch=cfg["train"]["arch"], pretrained=False), detect())
    learn.model.load_state_dict(torch.load(run / "best.pth", weights_only=True))
    learn.model.eval()
    return learn, ds


def time_fastai(learn, pairs) -> tuple[float, list[np.ndarray]]:
    masks = []
    t = time.perf_counter()
    with learn.no_bar():
        for pair in pairs:
            mask, _, _ = learn.predict(pair)
            masks.append(np.asarray(mask))
    return time.perf_counter() - t, masks


def time_seg(predictor, pairs) -> float:
    t = time.perf_counter()
    for _ in predict_files(predictor, [p.image for p in pairs]):
        pass
    return time.perf_counter() - t


def time_bare(predictor: Predictor, batches: list[torch.Tensor]) -> float:
    "The network alone on ready tensors, in the format the Predictor chose (settled on its first batch)."
    t = time.perf_counter()
    for x in batches:
        predictor._logits(x, predictor.precision)
    return time.perf_counter() - t


def agree(ours: list[np.ndarray], ref: list[np.ndarray]) -> float:
    return float(np.mean([(a == b).mean() for a, b in zip(ours, ref)]))


def median_time(fn, rounds: int) -> tuple[float, list]:
    "Seconds of the median round (after one warm-up), and the last round's outputs."
    fn()
    times, out = [], None
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def formats(model: Model, batches: list[torch.Tensor], calibration: list[torch.Tensor], tmp: Path,
            rounds: int) -> list[dict]:
    "The bare forward in each number format and runtime: images/s and masks' agreement with float32."
    from seg.model.number_formats import BF16_CL, FP32, FP32_CL, autocast, to_layout
    n = sum(len(x) for x in batches)
    rows, ref = [], None
    for p in (FP32, FP32_CL, BF16_CL):
        layout = torch.channels_last if p.channels_last else torch.contiguous_format
        net = model.module.to(memory_format=layout)

        def run(net=net, p=p):
            with torch.inference_mode(), autocast("cpu", p):
                return [net(to_layout(x, p)).float().argmax(1).numpy() for x in batches]
        seconds, out = median_time(run, rounds)
        ref = ref if ref is not None else out
        rows.append({"name": f"PyTorch, {p.label}", "ips": n / seconds, "agree": agree(out, ref)})
    model.module.to(memory_format=torch.contiguous_format)
    try:
        from seg.prediction.export import export_onnx
        path = export_onnx(model, tmp / "model.onnx")
    except Exception as e:  # no exporter here: the runtimes that read ONNX are left out
        print(f"ONNX export failed: {e}")
        return rows
    try:
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        seconds, out = median_time(
            lambda: [session.run(["logits"], {"image": x.numpy()})[0].argmax(1) for x in batches], rounds)
        rows.append({"name": f"ONNX Runtime {ort.__version__}, float32", "ips": n / seconds, "agree": agree(out, ref)})
    except ImportError:
        print("onnxruntime is not installed: left out")
    try:
        import openvino as ov
        core = ov.Core()
        ov_model = core.read_model(str(path))
        compiled = core.compile_model(ov_model, "CPU")
        seconds, out = median_time(lambda: [compiled([x.numpy()])[0].argmax(1) for x in batches], rounds)
        rows.append({"name": f"OpenVINO {ov.__version__}, float32", "ips": n / seconds, "agree": agree(out, ref)})
        try:
            import nncf
            quantized = nncf.quantize(ov_model, nncf.Dataset([x.numpy() for x in calibration]),
                                      subset_size=sum(len(x) for x in calibration))
            compiled = core.compile_model(quantized, "CPU")
            seconds, out = median_time(lambda: [compiled([x.numpy()])[0].argmax(1) for x in batches], rounds)
            rows.append({"name": f"OpenVINO, INT8 (NNCF {nncf.__version__}, {len(calibration)} calibration "
                                 "batches of training images)", "ips": n / seconds, "agree": agree(out, ref)})
        except ImportError:
            print("nncf is not installed: INT8 left out")
    except ImportError:
        print("openvino is not installed: left out")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--run", help="a run folder; default: train one epoch first")
    ap.add_argument("--n", type=int, default=24, help="images (24)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bs", type=int, default=8)
    args = ap.parse_args()
    data = Path(args.data).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="segboard-bench-infer-"))
    run = Path(args.run) if args.run else tmp / "run"
    if not args.run:
        print("training one epoch ...", flush=True)
        subprocess.run([sys.executable, "-m", "seg", "train", str(data), "--run-dir", str(run), "--epochs", "1",
                        "--no-pretrained", "--no-augment"], cwd=ROOT, check=True, capture_output=True)
    from seg.model.device import detect
    from seg.model.learner import set_threads
    set_threads(detect())
    learn, ds = fastai_learner(data, run)
    pairs = ds.pairs[: args.n]
    model = Model.load(run)
    predictor = Predictor(model, bs=args.bs, runtime="pytorch")
    from seg.prediction.predictors import training_images
    from seg.prediction.runtimes import CALIBRATION
    int8 = Predictor(model, bs=args.bs, runtime="onnx-int8", calibration=training_images(model, CALIBRATION))
    int8.predict(ds.read(pairs[0])[0])  # built before the rounds (export and quantisation: seconds, kept in a cache)
    images = [ds.read(p)[0] for p in pairs]
    batches = [_to_batch([resize(im, model.size) for im in images[i:i + args.bs]])
               for i in range(0, len(images), args.bs)]
    ours = np.concatenate([predictor.probabilities(b).argmax(1).numpy() for b in batches])

    times = {"fastai": [], "seg": [], "int8": [], "bare": []}
    for r in range(args.rounds):
        f, theirs = time_fastai(learn, pairs)
        times["fastai"].append(f)
        times["seg"].append(time_seg(predictor, pairs))
        times["int8"].append(time_seg(int8, pairs))
        times["bare"].append(time_bare(predictor, batches))
        print(f"round {r + 1}: fastai {f:.1f} s, seg {times['seg'][-1]:.1f} s, bare {times['bare'][-1]:.1f} s",
              flush=True)
    equal = float(np.mean([(a == b).mean() for a, b in zip(ours, theirs)]))
    train_pairs = ds.split(0.2, 42)[0][: 2 * args.bs]  # calibration for INT8: a few training images
    calibration = [_to_batch([resize(ds.read(p)[0], model.size) for p in train_pairs[i:i + args.bs]])
                   for i in range(0, len(train_pairs), args.bs)]
    runtimes = formats(model, batches, calibration, tmp, args.rounds)
    med = {k: statistics.median(v) for k, v in times.items()}
    n = len(pairs)

    big = tmp / "big.png"
    from PIL import Image
    row = np.concatenate([images[i % n] for i in range(8)], axis=1)  # membrane: 8 x 512 = 4096 wide
    canvas = np.concatenate([row] * (4096 // row.shape[0] + 1), axis=0)[:4096, :4096]
    Image.fromarray(canvas).save(big)
    out = subprocess.run([sys.executable, "-c", TILED.format(root=str(ROOT), run=str(run), image=str(big))],
                         capture_output=True, text=True, check=True)
    tiled = json.loads(out.stdout.strip().splitlines()[-1])

    result = {
        "images": n, "size": f"{images[0].shape[1]}x{images[0].shape[0]}", "train_size": model.size,
        "fastai_ips": n / med["fastai"], "seg_ips": n / med["seg"], "bare_ips": n / med["bare"],
        "int8_ips": n / med["int8"], "int8_label": int8.label,
        "speedup": med["fastai"] / med["seg"], "overhead": med["seg"] / med["bare"] - 1, "equal": equal,
        "tiled": tiled, "device": predictor.device.label, "arch": model.arch, "runtimes": runtimes,
        "precision": predictor.precision.label if predictor.precision else "float32",
    }
    print(json.dumps(result, indent=2))
    write_table(result, data)
    shutil.rmtree(tmp, ignore_errors=True)  # the one-epoch run and the exports: /tmp is shared


def write_table(r: dict, data: Path) -> None:
    t = r["tiled"]
    table = ("| | images/s | vs fastai `learn.predict` loop |\n|---|---|---|\n"
             f"| fastai `learn.predict`, one image at a time | {r['fastai_ips']:.2f} | 1.00x |\n"
             f"| segboard `Predictor`, PyTorch (files read in threads, batches of 8, masks at full size) | "
             f"{r['seg_ips']:.2f} | {r['speedup']:.2f}x |\n"
             f"| **segboard `Predictor`, `--runtime auto`** ({r['int8_label']}) | **{r['int8_ips']:.2f}** | "
             f"**{r['int8_ips'] / r['fastai_ips']:.2f}x** |\n"
             f"| bare `model(x)` on ready tensors in the Predictor's PyTorch format (no reading, no resizing) | "
             f"{r['bare_ips']:.2f} | "
             f"{r['bare_ips'] / r['fastai_ips']:.2f}x |\n\n"
             f"segboard's Predictor chose **{r['precision']}**. The bare forward (ready tensors, batches of 8) in each "
             "number format and runtime, masks compared with PyTorch float32's:\n\n"
             "| forward | images/s | vs PyTorch float32 | masks equal to float32's |\n|---|---|---|---|\n"
             + "".join(f"| {x['name']} | {x['ips']:.2f} | {x['ips'] / r['runtimes'][0]['ips']:.2f}x | "
                       f"{x['agree']:.2%} |\n" for x in r["runtimes"]) + "\n"
             f"segboard's PyTorch overhead above the bare forward: **{r['overhead']:+.1%}**; masks equal to "
             f"fastai's on "
             f"**{r['equal']:.2%}** of pixels (at the training size). 4096 x 4096 image: predicted in tiles in "
             f"**{t['seconds']:.0f} s**, resident memory at most {t['peak_mb']:.0f} MB "
             f"(**{t['peak_mb'] - t['before_mb']:+.0f} MB** over the process with the model and the image loaded).\n\n"
             f"{data.name}, {r['images']} images of {r['size']}, {r['arch']} at {r['train_size'][0]} px, "
             f"{r['device']}, {time.strftime('%Y-%m-%d')}; medians of alternating rounds.\n")
    results.write("infer", table)


if __name__ == "__main__":
    main()
