"""The classic `jena_climate_2009_2016.csv` of DLwP 6.3: its download and the book's row split.

The publisher states no checksum, so the zip's sha256 is recorded at the first download and checked
on every later use (see `seqzoo.download.fetch`); the extracted CSV must have the book's 420,551 rows.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from seqzoo.download import fetch, sha256_file
from seqzoo.errors import DataError

CLASSIC_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/jena_climate_2009_2016.csv.zip"
CLASSIC_CSV = "jena_climate_2009_2016.csv"
CLASSIC_ROWS = 420_551
# rows 0-200,000 train, 200,001-300,000 validation, the rest test (as `start:stop` slices of the file)
BOOK_SPLITS = {"train": ["rows:0:200001"], "val": ["rows:200001:300001"], "test": ["rows:300001:"]}


def _extract(archive: Path, folder: Path, expected_rows: int) -> Path:
    """The CSV out of the zip, written under a temporary name and renamed once its row count is right."""
    target = folder / CLASSIC_CSV
    handle, tmp = tempfile.mkstemp(prefix=f".{CLASSIC_CSV}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out, zipfile.ZipFile(archive) as zipped:
            members = [n for n in zipped.namelist() if Path(n).name == CLASSIC_CSV]
            if not members:
                raise DataError(f"{archive}: holds no {CLASSIC_CSV} (found {zipped.namelist()[:5]})")
            with zipped.open(members[0]) as source:
                lines = 0
                for block in iter(lambda: source.read(1 << 20), b""):
                    out.write(block)
                    lines += block.count(b"\n")
        rows = lines - 1  # the header
        if rows != expected_rows:
            raise DataError(f"{archive}: {CLASSIC_CSV} has {rows:,} data rows, expected {expected_rows:,}")
        os.replace(tmp, target)
    except zipfile.BadZipFile as err:
        raise DataError(f"{archive}: not a readable zip archive ({err})") from err
    finally:
        Path(tmp).unlink(missing_ok=True)
    (folder / f"{CLASSIC_CSV}.sha256").write_text(sha256_file(target) + "\n")
    return target


def download_classic(
    folder: str | Path, url: str | None = None, sha256: str | None = None, expected_rows: int | None = None
) -> Path:
    """`folder/jena_climate_2009_2016.csv`, downloaded and extracted unless an intact copy is there.
    `url` and `expected_rows` default to the public file's (a mirror or a test server may differ)."""
    folder = Path(folder)
    target, record = folder / CLASSIC_CSV, folder / f"{CLASSIC_CSV}.sha256"
    if target.is_file() and record.is_file() and sha256_file(target) == record.read_text().strip():
        return target
    archive = fetch(url or CLASSIC_URL, sha256, folder)
    return _extract(archive, folder, CLASSIC_ROWS if expected_rows is None else expected_rows)
