"""`seqzoo.download.fetch` against a real HTTP server on 127.0.0.1: checksums, cache, atomic writes.

The server counts the requests it answers, so the tests can tell a cache hit from a download.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from seqzoo.download import fetch
from seqzoo.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
DATA = os.urandom(300_000)
SHA = hashlib.sha256(DATA).hexdigest()


class Server:
    """A threading http.server with a few misbehaving paths; `requests` counts GETs per path."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {"/data/series.bin": DATA}
        self.requests: Counter[str] = Counter()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.requests[self.path] += 1
                if self.path == "/short":  # promises more bytes than it sends, then hangs up
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(DATA)))
                    self.end_headers()
                    self.wfile.write(DATA[:1000])
                    return
                if self.path == "/slow":  # a slow stream, to kill a client in the middle of it
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(DATA)))
                    self.end_headers()
                    for start in range(0, len(DATA), 10_000):
                        self.wfile.write(DATA[start : start + 10_000])
                        self.wfile.flush()
                        time.sleep(0.05)
                    return
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_then_cache_hit(server, tmp_path):
    url = server.url("/data/series.bin")
    path = fetch(url, SHA, tmp_path / "cache")
    assert path == tmp_path / "cache" / "series.bin" and path.read_bytes() == DATA
    assert fetch(url, SHA.upper(), tmp_path / "cache") == path  # the hash is case-insensitive
    assert server.requests["/data/series.bin"] == 1, "the second call must come from the cache"
    assert entries(tmp_path / "cache") == ["series.bin"], "no temporary files left behind"


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "empty"])
def test_a_corrupt_cache_entry_is_fetched_again(server, tmp_path, damage):
    url = server.url("/data/series.bin")
    path = fetch(url, SHA, tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "flip a byte":
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(
        bytes(data[: len(data) // 3]) if damage == "truncate" else bytes(data) * (damage != "empty")
    )
    assert fetch(url, SHA, tmp_path).read_bytes() == DATA
    assert server.requests["/data/series.bin"] == 2


def test_content_that_does_not_match_leaves_nothing(server, tmp_path):
    server.files["/data/series.bin"] = DATA[:-1] + b"!"  # the server's copy changed
    url = server.url("/data/series.bin")
    with pytest.raises(DataError) as caught:
        fetch(url, SHA, tmp_path / "cache")
    found = hashlib.sha256(server.files["/data/series.bin"]).hexdigest()
    assert url in str(caught.value) and SHA in str(caught.value) and found in str(caught.value)
    assert entries(tmp_path / "cache") == []


def test_a_mismatching_refetch_does_not_keep_the_corrupt_copy(server, tmp_path):
    url = server.url("/data/series.bin")
    fetch(url, SHA, tmp_path).write_bytes(b"corrupt")
    server.files["/data/series.bin"] = b"also wrong"
    with pytest.raises(DataError, match="sha256 mismatch"):
        fetch(url, SHA, tmp_path)
    assert entries(tmp_path) == []  # neither the corrupt cached copy nor the bad download


@pytest.mark.parametrize("path,match", [("/missing.bin", "HTTP Error 404"), ("/short", "download failed")])
def test_failed_transfers_are_data_errors_and_leave_nothing(server, tmp_path, path, match):
    with pytest.raises(DataError, match=match) as caught:
        fetch(server.url(path), SHA, tmp_path)
    assert server.url(path) in str(caught.value)
    assert entries(tmp_path) == []


def test_nothing_listening_is_a_data_error(tmp_path):
    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DataError, match="download failed"):
        fetch(f"http://127.0.0.1:{port}/x.bin", SHA, tmp_path)
    assert entries(tmp_path) == []


@pytest.mark.parametrize(
    "sha,url,expected",
    [
        ("abc", "http://127.0.0.1/x", "expected sha256 must be 64 hex digits, got 'abc'"),
        (SHA, "ftp://example.org/x", "only http, https, file URLs can be fetched"),
    ],
    ids=["short-sha", "ftp-url"],  # not the random SHA: test ids must be the same in every process
)
def test_bad_arguments_are_data_errors(tmp_path, sha, url, expected):
    """Refused, saying why, before any connection is tried (a try would end in "download failed"
    instead), and nothing is written."""
    with pytest.raises(DataError, match=re.escape(f"{url}: {expected}")):
        fetch(url, sha, tmp_path / "cache")
    assert entries(tmp_path / "cache") == []


def test_concurrent_fetches_agree(server, tmp_path):
    url, results, errors = server.url("/data/series.bin"), [], []

    def worker() -> None:
        try:
            results.append(fetch(url, SHA, tmp_path))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(set(results)) == 1 and results[0].read_bytes() == DATA
    assert entries(tmp_path) == ["series.bin"]


def test_a_download_killed_midway_never_appears_under_its_name(server, tmp_path):
    """SIGKILL a real process in the middle of a slow download: only a hidden `.part` file remains."""
    code = "import sys; from seqzoo.download import fetch; fetch(sys.argv[1], sys.argv[2], sys.argv[3])"
    proc = subprocess.Popen([sys.executable, "-c", code, server.url("/slow"), SHA, str(tmp_path)], cwd=ROOT)
    deadline = time.monotonic() + 30
    while not any(p.stat().st_size > 50_000 for p in tmp_path.glob(".slow.*.part")):
        assert time.monotonic() < deadline and proc.poll() is None, "the download did not start"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "slow").exists()
    assert [p for p in entries(tmp_path)] and all(n.startswith(".slow.") for n in entries(tmp_path))
    server.files["/slow-copy"] = DATA
    assert fetch(server.url("/slow-copy"), SHA, tmp_path).read_bytes() == DATA


def test_a_local_mirror_by_file_url(tmp_path):
    mirror = tmp_path / "mirror" / "series.bin"
    mirror.parent.mkdir()
    mirror.write_bytes(DATA)
    assert fetch(mirror.as_uri(), SHA, tmp_path / "cache").read_bytes() == DATA


def test_without_a_published_checksum_the_first_download_is_recorded_and_enforced(server, tmp_path):
    url = server.url("/data/series.bin")
    path = fetch(url, None, tmp_path)
    assert (tmp_path / "series.bin.sha256").read_text().strip() == SHA
    assert fetch(url, None, tmp_path) == path and server.requests["/data/series.bin"] == 1  # cache hit
    path.write_bytes(b"corrupt")  # a damaged cache entry is fetched again and checked against the record
    assert fetch(url, None, tmp_path).read_bytes() == DATA
    server.files["/data/series.bin"] = b"changed on the server"
    path.unlink()
    with pytest.raises(DataError, match=f"sha256 mismatch: expected {SHA}"):
        fetch(url, None, tmp_path)
    assert entries(tmp_path) == ["series.bin.sha256"]
