"""The frame header (SOF) of a TIFF's JPEG-compressed tiles and strips, read before anything is decoded: a decoder
follows the frame, so a tile that claims more pixels than the TIFF's tiles have is refused first (seg/data/large.py
reads large images by regions, seg/data/images.py reads others whole; both check)."""

from __future__ import annotations

import struct

from seg.errors import ImageError

JPEG = {7}  # TIFF compression codes of JPEG tiles or strips whose frames are checked


def check_jpeg_frames(pages, fh) -> None:
    """For JPEG-compressed pages read whole (seg/data/images.py): ImageError when a tile's or strip's frame says it
    is larger than the segment, read from each segment's first bytes before anything is decoded (a decoder follows
    the frame: a 10 kB file of tiles claiming 20,000 x 20,000 would take 381 MiB a tile)."""
    for page in pages:
        key = getattr(page, "keyframe", None)
        if key is None or key.compression not in JPEG:
            continue
        th, tw = (key.tilelength, key.tilewidth) if key.is_tiled else (key.rowsperstrip, key.imagewidth)
        for offset, count in zip(page.dataoffsets, page.databytecounts):
            if not count:
                continue
            with fh.lock:
                fh.seek(int(offset))
                head = fh.read(min(int(count), 4096))
            frame = jpeg_frame(head)
            if frame is not None and (frame[0] > th or frame[1] > tw):
                raise ImageError(f"A JPEG tile says it is {frame[1]} x {frame[0]} pixels in tiles of {tw} x {th}: the "
                                 "file is damaged or hostile, and was not decoded.", "Re-export the file.")


def jpeg_frame(data: bytes) -> tuple[int, int] | None:
    "(height, width) in a JPEG stream's frame header (SOF), read before it is decoded; None where it has none."
    if data[:2] != b"\xff\xd8":
        return None
    i, n = 2, len(data)
    while i + 9 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return struct.unpack(">HH", data[i + 5:i + 9])
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    return None
