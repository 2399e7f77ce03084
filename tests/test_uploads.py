"""Zip uploads: a dataset unpacks into its own folder; what could harm the server is refused."""

import io
import stat
import zipfile

import pytest
from makers import MACHINE, dataset

from seg import Dataset
from seg.data.uploads import extract_zip
from seg.errors import UploadError


def zipped(members: dict, **kw) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if isinstance(data, zipfile.ZipInfo):
                zf.writestr(data, kw.get("link_target", b"/etc"))
            else:
                zf.writestr(name, data)
    buf.seek(0)
    return buf


def test_a_zipped_dataset_unpacks_and_opens(tmp_path):
    src = dataset(tmp_path / "cells", n=4)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in src.rglob("*"):
            zf.write(f, f.relative_to(tmp_path))
    buf.seek(0)
    out = extract_zip(buf, tmp_path / "uploads")
    assert out.parent == tmp_path / "uploads"
    ds = Dataset.open(out, access=MACHINE)
    assert ds.ok and len(ds.pairs) == 4
    buf.seek(0)
    assert extract_zip(buf, tmp_path / "uploads") == out  # the same upload is unpacked once


@pytest.mark.parametrize("name,message", [
    ("../evil.png", "outside the archive"),
    ("images/../../evil.png", "outside the archive"),
    ("/etc/evil.png", "absolute path"),
    ("C:/evil.png", "absolute path"),
])
def test_members_escaping_the_folder_are_refused(tmp_path, name, message):
    with pytest.raises(UploadError, match=message):
        extract_zip(zipped({name: b"x"}), tmp_path / "uploads")
    assert not (tmp_path / "evil.png").exists()
    assert not list((tmp_path / "uploads").glob("*")) if (tmp_path / "uploads").exists() else True


def test_a_symbolic_link_is_refused(tmp_path):
    info = zipfile.ZipInfo("images/link.png")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(UploadError, match="symbolic link"):
        extract_zip(zipped({"x": info}), tmp_path / "uploads")


def test_a_zip_bomb_is_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("images/bomb.bmp", b"\0" * (300 * 2**20))
    buf.seek(0)
    with pytest.raises(UploadError, match="out of proportion"):
        extract_zip(buf, tmp_path / "uploads")


def test_what_a_tab_unpacks_is_counted_in_all_and_the_disk_keeps_room(tmp_path, monkeypatch):
    """Small archives may compress as well as they like, so what they take unpacked is what is counted: a tab's
    uploads within their room (three 0.26 MB zips once wrote 766 MiB into one tab's folder), and never past the
    disk's last MIN_FREE bytes."""
    import seg.data.uploads
    from seg.data.uploads import on_disk, save_images
    dest = tmp_path / "uploads"
    first = extract_zip(zipped({"images/a.bmp": b"\0" * 6000}), dest, room=10_000)
    room = 10_000 - on_disk(dest)
    assert on_disk(first) == 6000 and room == 4000
    with pytest.raises(UploadError, match="takes 0 MiB and this tab's uploads may take 0 MiB more"):
        extract_zip(zipped({"images/b.bmp": b"\1" * 6000}), dest, room=room)
    assert extract_zip(zipped({"images/a.bmp": b"\0" * 6000}), dest, room=room) == first  # the same: unpacked once
    with pytest.raises(UploadError, match="this tab's uploads may take"):
        save_images([("c.png", b"x" * 5000)], dest, room=room)
    monkeypatch.setattr(seg.data.uploads, "MIN_FREE", 2**62)  # a disk with less free than segboard keeps
    with pytest.raises(UploadError, match="the server's disk has .* GiB free"):
        extract_zip(zipped({"images/d.bmp": b"\2" * 10}), dest)
    assert sorted(p.name for p in dest.iterdir()) == [first.name]  # nothing refused was left behind


def test_too_many_files_are_refused(tmp_path, monkeypatch):
    import seg.data.uploads
    monkeypatch.setattr(seg.data.uploads, "MAX_FILES", 20)
    with pytest.raises(UploadError, match="21 files, more than 20"):
        extract_zip(zipped({f"images/{i}.png": b"x" for i in range(21)}), tmp_path / "uploads")


def test_a_header_that_lies_about_sizes_is_caught(tmp_path):
    buf = zipped({"images/a.png": b"y" * 5000})
    data = bytearray(buf.getvalue())
    # make the central directory claim 10 bytes for a 5000-byte member
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24: cd + 28] = (10).to_bytes(4, "little")
    with pytest.raises(UploadError):
        extract_zip(io.BytesIO(bytes(data)), tmp_path / "uploads")
    assert not any((tmp_path / "uploads").glob("*/images/a.png"))


def test_not_a_zip(tmp_path):
    with pytest.raises(UploadError, match="Not a zip archive"):
        extract_zip(io.BytesIO(b"%PDF-1.4 ..."), tmp_path / "uploads")


def test_images_uploaded_one_by_one(tmp_path):
    from PIL import Image

    from seg.data.uploads import save_images
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    png = buf.getvalue()
    files = [("cell.png", png), ("../../etc/cell.png", png), ("C:\\Users\\me\\b.tif", b"tif")]
    dest = save_images(files, tmp_path)
    assert dest.parent == tmp_path  # nothing outside, whatever the names say
    assert sorted(p.name for p in dest.iterdir() if not p.name.startswith(".")) == ["b.tif", "cell-2.png", "cell.png"]
    assert save_images(files, tmp_path) == dest  # the same upload again: the same folder
    with pytest.raises(UploadError, match="Not image files: notes.txt"):
        save_images([("notes.txt", b"x"), ("a.png", png)], tmp_path)
    with pytest.raises(UploadError, match="No files"):
        save_images([], tmp_path)
