"""ImageNet weights fetched at set-up (issue 32: `python -m seg weights`, seg/model/fetch.py) from a loopback HTTP
server (never the internet): checked against the SHA-256 their name carries, never left half-written in the cache, and
offline each backbone gets its sentence."""

import hashlib
import http.server
import socket
import threading
from dataclasses import replace

import pytest

from seg.model.fetch import expected_hash, fetch, fetch_one
from seg.model.pretrained import choose_pretrained
from seg.model.registry import BACKBONES
from seg.model.settings import TrainSettings

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: a weights file's stand-in
PREFIX = hashlib.sha256(PAYLOAD).hexdigest()[:8]


class Files(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    cut: set[str] = set()  # served with a Content-Length the body never reaches

    def do_GET(self):  # noqa: N802 (http.server's name)
        name = self.path.rsplit("/", 1)[-1]
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) * (2 if name in self.cut else 1)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/models/"
    httpd.shutdown()
    httpd.server_close()


def record(name="resnet18", prefix=PREFIX):
    return replace(BACKBONES[name], imagenet=f"{name}-{prefix}.pth")


def test_a_file_is_fetched_checked_and_then_found_by_training(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    b = record()
    Files.files = {b.imagenet: PAYLOAD}
    lines = []
    got = fetch_one(b, server, progress=lines.append)
    assert got.state == "fetched" and got.path.read_bytes() == PAYLOAD and "SHA-256 checked" in got.message
    assert got.path == tmp_path / "torch" / "hub" / "checkpoints" / b.imagenet  # torch.hub.get_dir()'s checkpoints
    assert lines[-1] == "resnet18: 1.0 of 1.0 MB (100%)" and len(lines) <= 11
    assert fetch_one(b, server).state == "present"  # once: nothing fetched again
    assert expected_hash(BACKBONES["resnet34"].imagenet) == "b627a593"
    monkeypatch.setitem(BACKBONES, "resnet18", b)  # the registry naming this file: training starts from it
    chosen = choose_pretrained(TrainSettings(arch="resnet18"))
    assert chosen.used and chosen.source == str(got.path)


def test_an_altered_or_cut_download_never_reaches_the_cache(server, tmp_path):
    cache = tmp_path / "checkpoints"
    altered, cut = record(), record("resnet34")
    Files.files = {altered.imagenet: PAYLOAD[:-1] + b"x", cut.imagenet: PAYLOAD}
    Files.cut = {cut.imagenet}
    try:
        got = [fetch_one(altered, server, cache), fetch_one(cut, server, cache)]
    finally:
        Files.cut = set()
    assert [g.state for g in got] == ["failed", "failed"] and not any(g.offline for g in got)
    assert "does not match the" in got[0].message and PREFIX in got[0].message
    assert f"stopped at {len(PAYLOAD):,} of {2 * len(PAYLOAD):,} bytes" in got[1].message  # closed at half of it
    assert not list(cache.iterdir())  # no file, no .part left
    assert "start from scratch" in got[0].message and f"copy {altered.imagenet}" in got[0].message


def test_offline_each_backbone_gets_its_sentence_and_nothing_waits_twice(tmp_path, monkeypatch):
    from training import cli
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with socket.socket() as s:  # a port nobody listens on: refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = fetch(None, f"http://127.0.0.1:{port}/", tmp_path / "c", progress=lambda line: None)
    assert [r.backbone for r in results] == list(BACKBONES) and all(r.state == "failed" for r in results)
    assert results[0].offline and "Connection refused" in results[0].message
    assert all("not tried (offline)" in r.message for r in results[1:])
    assert all("start from scratch" in r.message and "into" in r.message for r in results)
    rc, out, err = cli("weights", "--url", f"http://127.0.0.1:{port}/", "--arch", "resnet18")
    assert rc == 1 and "resnet18: ImageNet weights could not be fetched" in out and "start from scratch" in out
    said = choose_pretrained(TrainSettings(arch="resnet50")).message  # the Train page's sentence
    assert "training from scratch" in said and "run `python -m seg weights` where the network allows" in said
    assert f"copy {BACKBONES['resnet50'].imagenet}" in said and str(tmp_path / "torch") in said
