"""The fastai tutorial's segmentation recipe, plain, as the baseline for bench/train_overhead.py.

DataBlock of images and masks, a seeded random split, resize, normalise; `unet_learner(dls, resnet34)`
and `fit_one_cycle`. No ImageNet download here, so `pretrained=False` (as `seg train --no-pretrained`).
Prints one JSON line: fit seconds and the foreground Dice on the validation set.

    python bench/plain_fastai.py DATA_DIR [--size 256] [--bs 8] [--epochs 1] [--lr 1e-3] [--seed 42]
"""

import argparse
import json
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
from fastai.vision.all import (  # noqa: E402
    DataBlock,
    Dice,
    ImageBlock,
    MaskBlock,
    Normalize,
    RandomSplitter,
    Resize,
    ResizeMethod,
    get_image_files,
    imagenet_stats,
    resnet34,
    set_seed,
    unet_learner,
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--bs", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    data = Path(args.data)
    codes = (data / "codes.txt").read_text().split()
    set_seed(args.seed)
    dls = DataBlock(
        blocks=(ImageBlock, MaskBlock(codes)),
        get_items=get_image_files,
        get_y=lambda f: data / "masks" / f.name,
        splitter=RandomSplitter(0.2, seed=args.seed),
        item_tfms=Resize(args.size, method=ResizeMethod.Squish),
        batch_tfms=[Normalize.from_stats(*imagenet_stats)],
    ).dataloaders(data / "images", bs=args.bs, num_workers=0)
    learn = unet_learner(dls, resnet34, pretrained=False, metrics=[Dice()])
    t = time.perf_counter()
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(args.epochs, args.lr)
    fit = time.perf_counter() - t
    valid_loss, dice = learn.validate()
    print(json.dumps({"fit_s": fit, "dice": float(dice), "valid_loss": float(valid_loss)}))


if __name__ == "__main__":
    main()
