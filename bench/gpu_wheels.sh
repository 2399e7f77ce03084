#!/usr/bin/env bash
# What a lent GPU machine lacks for bench/gpu_check.sh, prepared here (it reaches no registry): the wheels of what
# `python -m seg train/predict` imports that its image does not hold (/work/.library/device/KINDS.md lists the
# image's packages; this list is what seg's training, prediction and fastai.vision import, less those), for its
# Python 3.12, into .whl/; and the shared membrane set copied into .gpu/ (../shared does not travel). Both folders
# are ignored (.gitignore) and travel with `carry`. Versions: this project's pins (requirements.txt) where it
# pins, else what they pulled in here. About 20 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
mkdir -p .whl .gpu
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLATFORMS[@]}" \
  -d .whl fastai==2.8.12 fastcore==2.2.39 fastdownload==0.0.8 fastprogress==1.1.6 fasttransform==0.0.5 \
  plum-dispatch==2.9.0 beartype==0.23.1 python-fasthtml==0.14.14 python-multipart==0.0.34 starlette==1.10.0 \
  itsdangerous==2.2.0 imagecodecs==2026.3.6 roifile==2026.2.10
if [ -d ../shared/datasets/membrane ]; then
  rm -rf .gpu/membrane && cp -r ../shared/datasets/membrane .gpu/membrane
fi
du -sh .whl .gpu
