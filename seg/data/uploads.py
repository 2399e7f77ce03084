"""Unpacking a dataset uploaded as a zip, refusing what could harm the server: members that escape
the folder (zip slip), absolute paths, links, and archives whose expanded size or file count is out of
proportion (zip bombs). Extraction counts the bytes it writes, so a lying header cannot slip past."""

from __future__ import annotations

import hashlib
import io
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from seg.errors import UploadError

# What the browser may send (the command line is not limited): one file, a zipped dataset or an image, is
# checked by Streamlit against server.maxUploadSize in .streamlit/config.toml, which must say MAX_UPLOAD in MB;
# all the files one tab holds (in the server's memory until the tab closes) by ui/upload_guard.py. A larger
# dataset is given as a folder on the server.
MAX_UPLOAD = 1024 * 2**20  # bytes, one file
MAX_SESSION_UPLOADS = 2 * 2**30  # bytes, every file one browser tab holds
MAX_FILES = 50_000
MAX_EXPANDED = 8 * 2**30  # bytes, whatever the ratio
MAX_RATIO = 200  # expanded / compressed, above this only small archives pass
SMALL = 256 * 2**20  # an archive expanding to less than this may compress as well as it likes
# What uploads take on the server's disk, unpacked: a small archive may expand 1000-fold (masks of zeros), so
# what one tab unpacks is counted in all (three 0.26 MB zips once wrote 766 MiB into one tab's folder), and
# nothing is unpacked that would leave the disk with less than MIN_FREE.
MAX_SESSION_UNPACKED = 8 * 2**30  # bytes, every upload one browser tab unpacked, in all
MIN_FREE = 2 * 2**30  # bytes


def on_disk(folder: Path) -> int:
    "Bytes the files under `folder` take (links not followed); 0 for no folder."
    import os
    total = 0
    for top, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except OSError:  # gone meanwhile
                pass
    return total


def make_room(needed: int, dest_root: Path, room: int | None) -> None:
    """UploadError unless `needed` bytes may be written under `dest_root`: within `room` (what this tab may still
    unpack; None: no such limit, the command line) and leaving MIN_FREE on the disk."""
    if room is not None and needed > room:
        raise UploadError(f"Refused: unpacked, this upload takes {needed / 2**20:,.0f} MiB and this tab's uploads may "
                          f"take {max(0, room) / 2**20:,.0f} MiB more ({MAX_SESSION_UNPACKED / 2**30:g} GiB a tab in "
                          "all). Give the dataset's folder path on the server, or upload it in a new tab.")
    Path(dest_root).mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest_root).free
    if needed > free - MIN_FREE:
        raise UploadError(f"Refused: unpacked, this upload takes {needed / 2**20:,.0f} MiB and the server's disk has "
                          f"{free / 2**30:,.1f} GiB free (segboard keeps {MIN_FREE / 2**30:g} GiB free). Free space "
                          "on the server, or give the dataset's folder path there.")


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    p = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return f"{info.filename!r} has an absolute path"
    if ".." in p.parts:
        return f"{info.filename!r} points outside the archive's folder (..)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return f"{info.filename!r} is a symbolic link"
    return None


def check(zf: zipfile.ZipFile, compressed: int) -> list[zipfile.ZipInfo]:
    "The members to extract, or UploadError naming what is refused."
    infos = zf.infolist()
    for info in infos:
        problem = _member_problem(info)
        if problem:
            raise UploadError(f"Refused: {problem}. Zip the dataset folder itself, with relative paths and no links.")
    files = [i for i in infos if not i.is_dir()]
    if len(files) > MAX_FILES:
        raise UploadError(f"Refused: {len(files):,} files, more than {MAX_FILES:,}. Upload a smaller dataset, "
                          "or give its folder path on the server.")
    expanded = sum(i.file_size for i in files)
    ratio = expanded / max(1, compressed)
    if expanded > MAX_EXPANDED or (ratio > MAX_RATIO and expanded > SMALL):
        raise UploadError(f"Refused: the archive would expand to {expanded / 2**20:,.0f} MiB from "
                          f"{compressed / 2**20:,.1f} MiB ({ratio:,.0f}x), out of proportion for images. "
                          "Give the dataset's folder path on the server instead.")
    return files


def extract_zip(source, dest_root: Path, room: int | None = None) -> Path:
    """Extract an uploaded zip (a path or a binary file object) into its own folder under `dest_root`,
    named from the archive's content hash so the same upload is unpacked once. Returns that folder. `room`:
    the bytes it may take unpacked (`make_room`)."""
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else source.read()
    digest = hashlib.sha256(data).hexdigest()[:16]
    dest = Path(dest_root) / digest
    if (dest / ".complete").exists():
        return dest

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UploadError("Not a zip archive (or a damaged one). Zip the dataset folder and upload the .zip.") from None
    with zf:
        files = check(zf, len(data))
        budget = sum(i.file_size for i in files)
        make_room(budget, dest_root, room)
        tmp = dest.with_name(dest.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            for info in files:
                target = tmp / PurePosixPath(info.filename.replace("\\", "/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        budget -= len(chunk)
                        if budget < 0:
                            raise UploadError("Refused: the archive expands to more than its header says.")
                        out.write(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise UploadError(f"The archive could not be extracted ({e}). "
                              "Zip the folder again and re-upload.") from None
        except UploadError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    (dest / ".complete").touch()
    return dest


def save_images(files, dest_root: Path, room: int | None = None) -> Path:
    """Images uploaded one by one ((name, bytes) pairs) into a folder named from their content, as
    `extract_zip` does for archives (`room` likewise). Only the base name of each is kept (no paths from the
    browser); files that are not images by their extension are refused with their names."""
    from seg.data.images import IMAGE_EXTS, is_image_name
    files = [(PurePosixPath(str(name).replace("\\", "/")).name, data) for name, data in files]
    odd = [name for name, _ in files if not is_image_name(Path(name))]
    if odd:
        raise UploadError(f"Not image files: {', '.join(odd[:5])}. Upload {', '.join(sorted(IMAGE_EXTS))} files.")
    if not files:
        raise UploadError("No files uploaded.")
    digest = hashlib.sha256(b"".join(n.encode() + hashlib.sha256(d).digest() for n, d in files)).hexdigest()[:16]
    dest = Path(dest_root) / f"images-{digest}"
    if (dest / ".complete").exists():
        return dest
    make_room(sum(len(d) for _, d in files), dest_root, room)
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    seen: set[str] = set()
    for name, data in files:
        stem, suffix = Path(name).stem or "image", Path(name).suffix
        unique, n = f"{stem}{suffix}", 1
        while unique.lower() in seen:  # two uploads of the same name keep both
            n += 1
            unique = f"{stem}-{n}{suffix}"
        seen.add(unique.lower())
        (tmp / unique).write_bytes(data)
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    (dest / ".complete").touch()
    return dest
