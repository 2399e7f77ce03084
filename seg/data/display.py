"""Images as a person sees them: 8-bit values stretched from deeper ones, gray and alpha made RGB, many channels
composited in Fiji's colours, and the note that says what was converted. Pure numpy."""

from __future__ import annotations

import numpy as np

# The colour each channel of a many-channel image is shown in, as Fiji's composites: red, green, blue, gray,
# cyan, magenta, yellow, then again.
CHANNEL_COLOURS = ((1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1), (0, 1, 1), (1, 0, 1), (1, 1, 0))


def bit_depth(a: np.ndarray) -> int:
    return 1 if a.dtype == bool else a.dtype.itemsize * 8


def to_uint8(a: np.ndarray) -> np.ndarray:
    """8-bit values; deeper images are contrast-stretched between their 0.1 and 99.9 percentiles,
    since 12-bit microscopy data in a 16-bit file would otherwise look black."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    a = a.astype(np.float32)
    lo, hi = np.percentile(a, (0.1, 99.9))
    if hi <= lo:
        hi = lo + 1
    return (np.clip((a - lo) / (hi - lo), 0, 1) * 255 + 0.5).astype(np.uint8)


def as_rgb(a: np.ndarray, mode: str = "") -> np.ndarray:
    """8-bit RGB (H, W, 3) from any of the layouts `read` returns but palette ones: alpha dropped, gray repeated,
    an image of C<n> channels shown as a composite (`composite`)."""
    if mode.startswith("C"):
        return composite(channels_of(a, mode))
    a = to_uint8(a)
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2)
    if a.shape[-1] == 1 or a.shape[-1] == 2:  # L or LA: drop alpha
        return np.repeat(a[..., :1], 3, axis=2)
    return np.ascontiguousarray(a[..., :3])


def channels_of(a: np.ndarray, mode: str) -> np.ndarray:
    "The image's channels (H, W, C) in their own values, alpha dropped (LA, RGBA)."
    a = a[..., None] if a.ndim == 2 else a
    return a[..., :-1] if mode in ("LA", "RGBA") else a


def composite(channels: np.ndarray, colours=CHANNEL_COLOURS, stretch: bool = True) -> np.ndarray:
    """8-bit RGB of channels (H, W, C) added in their colours (CHANNEL_COLOURS), one channel gray. `stretch`:
    each channel between its own 0.1 and 99.9 percentiles first (as `to_uint8`); else they are already 0..1."""
    h, w, n = channels.shape
    out = np.zeros((h, w, 3), np.float32)
    for i in range(n):
        c = channels[..., i]
        c = to_uint8(c).astype(np.float32) / 255 if stretch else np.clip(c, 0, 1).astype(np.float32)
        colour = (1, 1, 1) if n == 1 else colours[i % len(colours)]
        out += c[..., None] * np.asarray(colour, np.float32)
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def mode_note(a: np.ndarray, mode: str) -> str | None:
    "A note for images that are converted on the way to the model, or None."
    if mode == "P":
        return "palette image, converted to RGB"
    if mode.startswith("C"):
        return f"{mode[1:]} channels of {bit_depth(a)} bits"
    if mode in ("RGBA", "LA"):
        return f"{mode} image: the alpha channel is ignored"
    if bit_depth(a) > 8:
        return f"{bit_depth(a)}-bit image"
    if a.ndim == 2 or mode in ("L", "1"):
        return "grayscale image, repeated into 3 channels"
    return None
