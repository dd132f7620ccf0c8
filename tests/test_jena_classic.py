"""The classic 2009-2016 file: download over real HTTP on 127.0.0.1, extraction, and the book's row split.

The real file (420,551 rows, 13.6 MB zipped) is not reachable here, so the server hands out a zip of a
small file in the same format, and the expected row count is that file's.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from seqzoo.data import JenaDataModule
from seqzoo.data.jena_classic import BOOK_SPLITS, CLASSIC_CSV, download_classic
from seqzoo.data.jena_files import CLASSIC_FEATURES
from seqzoo.errors import DataError

from .test_reliability_download import Server

ROWS = 3000


def classic_csv(rows: int = ROWS) -> bytes:
    """A file in the classic format: `Date Time` dd.mm.YYYY, the 14 columns, 10-minute readings."""
    times = pd.date_range("2009-01-01 00:10", periods=rows, freq="10min")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, len(CLASSIC_FEATURES))), columns=CLASSIC_FEATURES)
    frame.insert(0, "Date Time", times.strftime("%d.%m.%Y %H:%M:%S"))
    return frame.to_csv(index=False).encode()


def zipped(payload: bytes, name: str = CLASSIC_CSV) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, payload)
    return buffer.getvalue()


@pytest.fixture
def server():
    srv = Server()
    srv.files["/jena.zip"] = zipped(classic_csv())
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def test_download_extracts_once_and_the_book_split_cuts_by_rows(server, tmp_path):
    path = download_classic(tmp_path, server.url("/jena.zip"), expected_rows=ROWS)
    assert path == tmp_path / CLASSIC_CSV and len(pd.read_csv(path)) == ROWS
    assert download_classic(tmp_path, server.url("/jena.zip"), expected_rows=ROWS) == path
    assert server.requests["/jena.zip"] == 1
    splits = {"train": ["rows:0:2000"], "val": ["rows:2000:2500"], "test": ["rows:2500:"]}
    data = JenaDataModule(
        data_dir=str(tmp_path), files=[CLASSIC_CSV], lookback=120, step=6, delay=12, **splits
    )
    data.setup("fit")
    # a split of n rows holds n - (lookback + delay) + 1 windows
    assert [len(data.dataset(s)) for s in ("train", "val", "test")] == [2000 - 131, 500 - 131, 500 - 131]
    assert data.frames["val"][0].index[0] == pd.Timestamp("2009-01-01 00:10") + 2000 * pd.Timedelta("10min")
    assert set(BOOK_SPLITS) == {"train", "val", "test"}


def test_a_corrupt_extracted_file_is_extracted_again(server, tmp_path):
    path = download_classic(tmp_path, server.url("/jena.zip"), expected_rows=ROWS)
    path.write_text("Date Time,p (mbar)\n")
    assert len(pd.read_csv(download_classic(tmp_path, server.url("/jena.zip"), expected_rows=ROWS))) == ROWS


@pytest.mark.parametrize(
    "body,match",
    [(zipped(classic_csv(), "other.csv"), "holds no"), (zipped(classic_csv(10)), "has 10 data rows"),
     (b"not a zip", "not a readable zip")],
)  # fmt: skip
def test_a_wrong_archive_is_rejected_and_leaves_no_csv(server, tmp_path, body, match):
    server.files["/bad.zip"] = body
    with pytest.raises(DataError, match=match):
        download_classic(tmp_path, server.url("/bad.zip"), expected_rows=ROWS)
    assert not (tmp_path / CLASSIC_CSV).exists()


def test_the_data_module_downloads_when_asked(server, tmp_path, monkeypatch):
    monkeypatch.setattr("seqzoo.data.jena_classic.CLASSIC_URL", server.url("/jena.zip"))
    monkeypatch.setattr("seqzoo.data.jena_classic.CLASSIC_ROWS", ROWS)
    with pytest.raises(DataError, match="no Jena station files"):
        JenaDataModule(data_dir=str(tmp_path), files=[CLASSIC_CSV]).setup("fit")
    data = JenaDataModule(data_dir=str(tmp_path), files=[CLASSIC_CSV], lookback=120, delay=12, download=True,
                          train=["rows:0:2000"], val=["rows:2000:2500"], test=["rows:2500:"])  # fmt: skip
    data.setup("fit")
    assert len(data.dataset("test")) == 500 - 131
