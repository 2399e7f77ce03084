"""ImageNet weights fetched once, at set-up (`python -m seg weights`, which `make run` calls), into the torch hub cache
where training finds them (seg/model/pretrained.py): a run itself never downloads.

Each registry backbone's file (seg/model/registry.py: torchvision's IMAGENET1K_V1 file name) comes from BASE_URL, is
written to a temporary name beside its place, checked against the SHA-256 its name carries (torchvision names a file
`<arch>-<first 8 hex digits of its SHA-256>.pth`, as torch.hub's `check_hash` reads it) and renamed into place only
when it matches: a cut or altered download never reaches the cache. Offline, each backbone gets one sentence saying
that runs start from scratch and how to bring the file. Cheap to import (no torch).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from seg.model.registry import BACKBONES, Backbone, torch_hub

BASE_URL = "https://download.pytorch.org/models/"  # torchvision's own address for these files
TIMEOUT_S = 30  # a connection that says nothing for this long is offline
CHUNK = 1 << 20


@dataclass
class Fetched:
    "What became of one backbone's weights: `state` is 'present', 'fetched' or 'failed'; `message` says it."

    backbone: str
    state: str
    path: Path
    message: str
    offline: bool = False  # the network did not answer (not the file's fault): the others are not tried


def expected_hash(name: str) -> str | None:
    "The SHA-256 prefix a torchvision weights file name carries (`resnet34-b627a593.pth` -> b627a593), or None."
    m = re.fullmatch(r"[A-Za-z0-9_]+-([0-9a-f]{8,64})\.pth", name)
    return m.group(1) if m else None


def bring(backbone: Backbone, cache: Path) -> str:
    "How to bring the file by hand, in one sentence."
    return (f"copy {backbone.imagenet} (from {BASE_URL}{backbone.imagenet}, on any networked machine) into {cache}, "
            "or name a weights file on the Train page")


def fetch_one(backbone: Backbone, base_url: str = BASE_URL, cache: Path | None = None,
              progress: Callable[[str], None] = print) -> Fetched:
    "The backbone's weights in the cache: already there, fetched and checked, or why not (never raises for the net)."
    cache = cache or torch_hub() / "checkpoints"
    target = cache / backbone.imagenet
    if target.is_file():
        return Fetched(backbone.name, "present", target, f"{backbone.name}: ImageNet weights already in {target}.")
    want = expected_hash(backbone.imagenet)
    url = base_url.rstrip("/") + "/" + backbone.imagenet
    part = cache / f".{backbone.imagenet}.part"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        digest, done = hashlib.sha256(), 0
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(part, "wb") as f:
            total = int(response.headers.get("Content-Length") or 0)
            shown = -1
            while chunk := response.read(CHUNK):
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                pct = int(100 * done / total) if total else -1
                if total and pct // 10 != shown // 10:
                    progress(f"{backbone.name}: {done / 2**20:.1f} of {total / 2**20:.1f} MB ({pct}%)")
                    shown = pct
        if total and done != total:
            raise OSError(f"the download stopped at {done:,} of {total:,} bytes")
        got = digest.hexdigest()
        if want and not got.startswith(want):
            raise ValueError(f"its SHA-256 {got[:16]}... does not match the {want} its name carries")
        os.replace(part, target)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        part.unlink(missing_ok=True)
        reason = getattr(e, "reason", None) or e
        offline = (isinstance(e, urllib.error.URLError) and not isinstance(e, urllib.error.HTTPError)) or \
            isinstance(e, TimeoutError)
        return Fetched(backbone.name, "failed", target,
                       f"{backbone.name}: ImageNet weights could not be fetched from {url} ({reason}); runs with "
                       f"{backbone.name} start from scratch (more epochs for the same quality). To start from "
                       f"ImageNet, {bring(backbone, cache)}.", offline)
    return Fetched(backbone.name, "fetched", target,
                   f"{backbone.name}: ImageNet weights fetched into {target} ({done / 2**20:.1f} MB, SHA-256 checked).")


def fetch(names: list[str] | None = None, base_url: str = BASE_URL, cache: Path | None = None,
          progress: Callable[[str], None] = print) -> list[Fetched]:
    """Every registry backbone's weights (or those named), one after another. Once the network does not answer, the
    rest are not tried (each would wait as long): each gets its sentence."""
    cache = cache or torch_hub() / "checkpoints"
    out: list[Fetched] = []
    for name in names or list(BACKBONES):
        b = BACKBONES[name]
        if out and out[-1].offline and not (cache / b.imagenet).is_file():
            out.append(Fetched(name, "failed", cache / b.imagenet, f"{name}: not tried (offline); runs with {name} "
                               f"start from scratch. To start from ImageNet, {bring(b, cache)}.", True))
            continue
        out.append(fetch_one(b, base_url, cache, progress))
    return out
