"""A prediction folder (seg/prediction/output.py writes it) read back: what the Predict page shows and the
downloads hold, and the predictions made with a run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from seg.errors import PredictError


class Prediction:
    "An output folder read back: what the page shows and the downloads hold."

    def __init__(self, out):
        self.path = Path(out)
        meta = self.path / "prediction.json"
        if not meta.is_file():
            raise PredictError(f"{self.path}: no prediction.json, so not a prediction folder.")
        self.meta = json.loads(meta.read_text())
        metrics = self.path / "metrics.json"
        self.metrics = json.loads(metrics.read_text()) if metrics.is_file() else None

    @property
    def codes(self) -> list[str]:
        return self.meta["codes"]

    @property
    def objects(self) -> dict | None:
        "A run on objects' object scores (metrics.json's `objects`: split, summary, per_image), with truth."
        return (self.metrics or {}).get("objects")

    @property
    def images(self) -> list[dict]:
        """Each image's record, worst first when there is truth (by AP at IoU 0.5 for objects, else by Dice),
        else in input order."""
        records = {r["name"]: r for r in self.meta["images"]}
        if not self.metrics:
            return list(records.values())
        scored = [{**records[r["image"]], "dice": r["dice"], "iou": r["iou"]} for r in self.metrics["per_image"]]
        if self.objects:
            by_name = {r["image"]: r for r in self.objects["per_image"]}
            scored = sorted(({**r, **{k: by_name[r["name"]][k] for k in ("true", "found", "ap50", "ap")}}
                             for r in scored if r["name"] in by_name), key=lambda r: (r["ap50"], r["name"]))
        seen = {r["name"] for r in scored}
        return scored + [r for n, r in records.items() if n not in seen]

    def measurements(self) -> pd.DataFrame | None:
        path = self.path / "measurements.csv"
        return pd.read_csv(path, dtype={"image": str, "class": str}) if path.is_file() else None


def list_predictions(root: Path, run_dir=None) -> list[Path]:
    """Prediction folders under `root`, newest first; only those made with the run in `run_dir` if given
    (matched by the run's name: a workspace moved to another disk keeps its predictions)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for d in root.iterdir():
        try:
            meta = json.loads((d / "prediction.json").read_text())
        except (OSError, ValueError):
            continue  # a prediction still being written, or another folder
        if run_dir is None or Path(meta.get("run", "")).name == Path(run_dir).name:
            found.append((meta.get("created", ""), d))
    return [d for _, d in sorted(found, key=lambda x: (x[0], x[1].name), reverse=True)]
