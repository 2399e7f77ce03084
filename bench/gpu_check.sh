#!/usr/bin/env bash
# The GPU check (issue 33): what segboard does on CUDA, run once by a session lent a device, in one call of the
# device tool, in about 8 minutes on an H100. Each step is timed and bounded; a failed step is said and the next
# runs. Prepare here first (the device machine reaches no registry and ../shared does not travel):
#
#   bash bench/gpu_wheels.sh                    # .whl/: what the device's image lacks; .gpu/membrane
#   run(command="bash bench/gpu_check.sh", carry=[".whl", ".gpu"], timeout_s=590)
#
# What comes back ($OUT, the device tool's folder; here .gpu/out): gpu_check.log (every step's output),
# summary.json (each planned run's number format, steps, Dice at the images' own size, its timings; the peak GPU
# memory sampled each second; each step's seconds and exit status), benchmarks.md (docs/benchmarks.md as the
# bench scripts rewrote it there: take its CUDA rows into the docs here). Steps:
#   environment    nvidia-smi, torch and its CUDA, fastai
#   tests          the tests without a browser that train or predict (they find the GPU themselves)
#   demo, membrane planned runs (--budget BUDGET minutes, the number format chosen by timing)
#   predict        the demo run on its images (the Predict page's Predictor), objects measured
#   large          a 12,000 x 12,000 px image (LARGE) predicted in tiles
#   accelerate     `accelerate launch --num_processes 2` of a short run (the multi-process path, once)
#   infer          bench/infer.py on membrane: the CUDA row of the inference table
# On this machine, without a GPU, `BUDGET=0.5 LARGE=1500 SKIP="tests infer" bash bench/gpu_check.sh` runs the steps on
# the CPU: what the script itself does is checked before device time is spent on it.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/.gpu/out}
BUDGET=${BUDGET:-1}
SKIP=${SKIP:-}
LARGE=${LARGE:-12000}
GPU=$(nvidia-smi >/dev/null 2>&1 && echo yes)
if [ -z "${PY:-}" ]; then  # the device image's python3 holds torch; here, the project's venv
  PY=python3
  [ -z "$GPU" ] && [ -x .venv/bin/python ] && PY=$ROOT/.venv/bin/python
fi
mkdir -p "$OUT"
W=$(mktemp -d)
SAMPLER=
cleanup() { [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
export PYTHONUNBUFFERED=1 SEGBOARD_HOME=$W/home SEGBOARD_LOCK_DIR=$W/locks MPLCONFIGDIR=$W/mpl
exec > >(tee "$OUT/gpu_check.log") 2>&1
if [ -n "$GPU" ] && ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$W/site" .whl/*.whl \
    && export PYTHONPATH=$W/site
fi
STEPS=$W/steps.jsonl
: > "$STEPS"

step() {  # step NAME SECONDS COMMAND...: run it bounded, timed, said; the next step runs whatever it gave
  local name=$1 limit=$2 start rc
  shift 2
  if [[ " $SKIP " == *" $name "* ]]; then echo "== $name: skipped (SKIP)"; return; fi
  echo "== $name ($(date +%T), at most ${limit} s)"
  start=$(date +%s%N)
  timeout "$limit" "$@"
  rc=$?
  printf '{"step": "%s", "seconds": %d.%d, "rc": %d}\n' "$name" $(( ($(date +%s%N) - start) / 1000000000 )) \
    $(( ($(date +%s%N) - start) / 100000000 % 10 )) "$rc" >> "$STEPS"
  [ "$rc" = 0 ] || echo "== $name FAILED: exit $rc$( [ "$rc" = 124 ] && echo ' (past its limit)')"
}

if [ -n "$GPU" ]; then
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -l 1 > "$W/memory.txt" 2>/dev/null &
  SAMPLER=$!
fi

step environment 60 bash -c "nvidia-smi || echo 'no nvidia-smi: CPU'; $PY -c 'import torch, fastai, sys; \
print(sys.version.split()[0], \"torch\", torch.__version__, \"cuda\", torch.version.cuda, torch.cuda.is_available(), \
\"fastai\", fastai.__version__); from seg.model.device import detect; print(detect().label)'"
step tests 150 $PY -m pytest -q -x -p no:cacheprovider tests/test_learner.py tests/test_train_cli.py \
  tests/test_predict.py tests/test_scaled_crops.py
step demo-data 60 $PY -m seg demo "$W/demo"
step demo 150 $PY -m seg train "$W/demo" --run-dir "$W/runs/demo" --budget "$BUDGET" --no-pretrained
step membrane 150 $PY -m seg train "${MEMBRANE:-.gpu/membrane}" --run-dir "$W/runs/membrane" --budget "$BUDGET" \
  --no-pretrained
step predict 90 $PY -m seg predict "$W/runs/demo" "$W/demo" --out "$W/pred" --measure
mkdir -p "$W/big"
step large 120 bash -c "$PY -c 'import numpy as np, tifffile; r = np.random.default_rng(0); \
tifffile.imwrite(\"$W/big/large.tif\", r.integers(0, 255, ($LARGE, $LARGE, 3), dtype=np.uint8), tile=(512, 512))' \
&& $PY -m seg predict '$W/runs/demo' '$W/big/large.tif' --out '$W/large'"
step accelerate 120 $PY -m accelerate.commands.launch --num_processes 2 --num_machines 1 --mixed_precision no \
  --dynamo_backend no -m seg train "$W/demo" --run-dir "$W/runs/two" --epochs 1 --size 64 --bs 4 --no-pretrained
step infer 150 $PY bench/infer.py --data "${MEMBRANE:-.gpu/membrane}" --n 8 --rounds 2

cp docs/benchmarks.md "$OUT/benchmarks.md" 2>/dev/null
$PY - "$W" "$OUT/summary.json" <<'EOF'
import json, sys
from pathlib import Path
w, out = Path(sys.argv[1]), Path(sys.argv[2])
runs = {}
for run in sorted((w / "runs").glob("*")):
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()] \
        if (run / "events.jsonl").exists() else []
    cfg = json.loads((run / "config.json").read_text()) if (run / "config.json").exists() else {}
    scores = [e for e in events if e["type"] == "scores"]
    runs[run.name] = {"status": next((e["status"] for e in reversed(events) if e["type"] == "status"), None),
                      "device": cfg.get("device"), "precision": cfg.get("precision"), "size": cfg.get("data", {}).get("size"),
                      "scale": cfg.get("data", {}).get("scale"), "arch": cfg.get("train", {}).get("arch"),
                      "steps": sum(e["type"] == "batch" for e in events), "dice": scores[-1]["dice"] if scores else None,
                      "trials": (cfg.get("trials") or {}).get("reason")}
memory = w / "memory.txt"
used = [int(x) for x in memory.read_text().split()] if memory.exists() else []
steps = [json.loads(line) for line in (w / "steps.jsonl").read_text().splitlines()]
json.dump({"runs": runs, "peak_gpu_memory_mib": max(used) if used else None, "steps": steps}, out.open("w"), indent=1)
print(json.dumps({"runs": {k: {x: v[x] for x in ("status", "dice", "steps", "size", "scale")} for k, v in runs.items()},
                  "peak_gpu_memory_mib": max(used) if used else None, "steps": steps}, indent=1))
EOF
