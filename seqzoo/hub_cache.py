"""Checking a Hub snapshot in the local Hugging Face cache against the content addresses it is kept under.

The cache stores each file once, as `blobs/<address>`, and links it from `snapshots/<commit>/<name>`.
The address is the file's sha256 for large (LFS) files and git's blob sha1 for the others, so every
cached file can be checked without asking the Hub. `huggingface_hub` never checks it again once a file
is there: a blob that a misbehaving server or a damaged disk got wrong would load (or fail to load)
forever, and a flipped byte in the weights would change every answer silently.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

SHA256_HEX, SHA1_HEX = 64, 40


def _matches(blob: Path) -> bool:
    """Whether `blob`'s bytes hash to its name (an address of either kind; other names pass)."""
    data = blob.read_bytes()
    address = blob.name
    if len(address) == SHA256_HEX:
        return hashlib.sha256(data).hexdigest() == address
    if len(address) == SHA1_HEX:
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == address
    return True


def damaged_files(snapshot: Path) -> list[str]:
    """The files of a cached snapshot (relative paths) whose blob is missing or does not match its address.

    Files that are no links into the cache's blobs (copies where links are not allowed) carry no address
    and are not checked.
    """
    damaged = []
    for path in sorted(snapshot.rglob("*")):
        if not path.is_symlink():
            continue
        blob = path.resolve()
        if not blob.is_file() or not _matches(blob):
            damaged.append(path.relative_to(snapshot).as_posix())
    return damaged


def forget(snapshot: Path, files: list[str]) -> None:
    """Remove `files` and their blobs from the cache, so the next download fetches them again."""
    for name in files:
        link = snapshot / name
        link.resolve().unlink(missing_ok=True)
        link.unlink(missing_ok=True)
