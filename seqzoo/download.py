"""Dataset downloads: streamed into the cache folder, checked against a sha256, renamed into place.

A file in the cache is always complete and verified: the download goes to a temporary file next to it
and only an `os.replace` makes it visible, so a crash or a bad transfer never leaves a half file under
the final name. A cached file whose hash no longer matches (disk corruption, an edited file, an old
version) is deleted and fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from seqzoo.errors import DataError
from seqzoo.fsutil import write_file_atomically

CHUNK = 1 << 20
SCHEMES = ("http", "https", "file")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks (datasets can be larger than memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_name(url: str, sha256: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    return name if name and not name.startswith(".") else sha256


def _record_path(target: Path) -> Path:
    return target.with_name(f"{target.name}.sha256")


def fetch(url: str, sha256: str | None, cache_dir: str | Path, timeout: float = 60.0) -> Path:
    """The verified local copy of `url`: from `cache_dir` when it is there and intact, else downloaded.

    `sha256=None` is for files whose publisher states no checksum: the first download's hash is recorded
    beside it (`<name>.sha256`) and every later use, and every later download, must match that record.
    Raises `DataError` naming the url for a failed download, and naming the expected and the found
    hash for content that does not match; either way nothing is left in the cache.
    """
    if urllib.parse.urlparse(url).scheme not in SCHEMES:
        raise DataError(f"{url}: only {', '.join(SCHEMES)} URLs can be fetched")
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    if sha256 is None:
        name = _cache_name(url, "")
        if not name:
            raise DataError(f"{url}: a download without a checksum needs a file name in the URL")
        target = cache / name
        record = _record_path(target)
        expected = record.read_text().strip() if record.is_file() else None
    else:
        expected, record = sha256.lower(), None
        target = cache / _cache_name(url, expected)
    if expected is not None and not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise DataError(f"{url}: expected sha256 must be 64 hex digits, got {expected!r}")
    if target.is_file():
        if expected is not None and sha256_file(target) == expected:
            return target
        target.unlink(missing_ok=True)  # corrupt, stale or never verified: fetch it again
    handle, part = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=cache)
    try:
        digest, received = hashlib.sha256(), 0
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            read = getattr(response, "read1", response.read)  # read1: what has arrived, not a full MiB
            for block in iter(lambda: read(CHUNK), b""):
                digest.update(block)
                out.write(block)
                received += len(block)
            out.flush()
            os.fsync(out.fileno())
            length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and received != int(length):
            # http.client ends a sized read quietly when the server hangs up early; say so plainly
            raise DataError(f"{url}: download failed (the server sent {received} of {length} bytes)")
        found = digest.hexdigest()
        if expected is not None and found != expected:
            raise DataError(
                f"{url}: sha256 mismatch: expected {expected}, found {found}; the download was discarded "
                "(a changed or corrupted file on the server, or a wrong checksum)"
            )
        os.replace(part, target)
        if record is not None and expected is None:
            write_file_atomically(record, (found + "\n").encode())
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        raise DataError(f"{url}: download failed ({err})") from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)
    return target
