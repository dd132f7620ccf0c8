"""Jena climate (DLwP 6.3): the air temperature 24 h ahead from 10 days of 10-minute station readings.

The station protocol splits by date: train = 2020 + 2021, validation = 2024-01..05, test = 2024-06..10.
Inputs are normalised with the train split's statistics only; those statistics, the columns, the
window geometry and the derived-input options are the preprocessing saved with a model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqzoo.data.base import SeqzooDataModule
from seqzoo.data.jena_classic import CLASSIC_CSV, download_classic
from seqzoo.data.jena_files import DataError, contiguous_segments, read_station_files
from seqzoo.data.jena_scaler import JenaScaler, derive_inputs
from seqzoo.data.windows import SlidingWindows, window_loader
from seqzoo.download import sha256_file

STATION_FILES = ["jena_weather_2020.csv.gz", "jena_roof_*.csv.gz"]
STATION_SPLITS = {"train": ["2020-01-01/2021-12-31"], "val": ["2024-01-01/2024-05-31"],
                  "test": ["2024-06-01/2024-10-31"]}  # fmt: skip


def _in_ranges(index: pd.DatetimeIndex, ranges: list[str], rows: pd.DatetimeIndex) -> np.ndarray:
    """Which readings fall in `ranges`: dates `start/end` (inclusive days) or `rows:start:stop`, a slice
    of all readings `rows` in time order (the classic file's row split)."""
    keep = np.zeros(len(index), dtype=bool)
    for text in ranges:
        if text.startswith("rows:"):
            try:
                chosen = rows[slice(*(int(v) if v else None for v in text[5:].split(":")))]
            except (TypeError, ValueError) as err:
                raise DataError(f"split {text!r}: expected rows:START:STOP with integers") from err
            keep |= index.isin(chosen)
            continue
        start, _, end = text.partition("/")
        keep |= (index >= pd.Timestamp(start)) & (index < pd.Timestamp(end) + pd.Timedelta(days=1))
    return keep


class JenaDataModule(SeqzooDataModule):
    """Any list of station exports, split chronologically by date ranges (`start/end`, inclusive days)
    or row ranges (`rows:start:stop`). `download=True` fetches the classic 2009-2016 file into
    `data_dir` when `files` names it and it is not there (split it as the book does with
    `**jena_classic.BOOK_SPLITS`)."""

    def __init__(
        self,
        data_dir: str = "../shared/data",
        files: list[str] = STATION_FILES,
        train: list[str] = STATION_SPLITS["train"],
        val: list[str] = STATION_SPLITS["val"],
        test: list[str] = STATION_SPLITS["test"],
        lookback: int = 1440,
        step: int = 6,
        delay: int = 144,
        target: str = "T (degC)",
        wind_vector: bool = False,
        time_encoding: bool = False,
        batch_size: int = 128,
        num_workers: int = 0,
        download: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.frames: dict[str, list[pd.DataFrame]] = {}
        self.paths: list[Path] = []

    def setup(self, stage: str | None = None) -> None:
        h = self.hparams
        if not self.frames:
            folder = Path(h.data_dir)
            if h.download and CLASSIC_CSV in h.files and not (folder / CLASSIC_CSV).is_file():
                download_classic(folder)
            self.paths = sorted({p for pattern in h.files for p in folder.glob(pattern)})
            if not self.paths:
                raise DataError(f"no Jena station files matching {h.files} in {folder.resolve()}")
            frame = read_station_files(self.paths)
            segments = contiguous_segments(frame, pd.Timedelta(minutes=10))
            self.frames = {
                split: [part for s in segments if len(part := s[_in_ranges(s.index, h[split], frame.index)])]
                for split in ("train", "val", "test")
            }
        if self.preprocessing is None:
            train = pd.concat(
                [derive_inputs(s, h.wind_vector, h.time_encoding) for s in self.frames["train"]]
            )
            self.preprocessing = JenaScaler(
                inputs=list(train.columns),
                mean=train.mean().tolist(),
                std=train.std().tolist(),
                target=h.target,
                lookback=h.lookback,
                step=h.step,
                delay=h.delay,
                wind_vector=h.wind_vector,
                time_encoding=h.time_encoding,
            ).to_config()

    def dataset(self, split: str) -> SlidingWindows:
        scaler = JenaScaler.from_config(self.preprocessing)
        segments = [scaler.normalize(s) for s in self.frames[split]]
        return SlidingWindows(segments, scaler.lookback, scaler.step, scaler.delay, scaler.target_index)

    def train_dataloader(self):
        return window_loader(self.dataset("train"), self.hparams.batch_size, True, self.hparams.num_workers)

    def val_dataloader(self):
        return window_loader(self.dataset("val"), self.hparams.batch_size, False, self.hparams.num_workers)

    def test_dataloader(self):
        return window_loader(self.dataset("test"), self.hparams.batch_size, False, self.hparams.num_workers)

    def predict_dataloader(self):
        return self.test_dataloader()

    def describe(self) -> dict[str, Any]:
        h = self.hparams
        return {
            "name": "Jena climate (MPI-BGC weather station)",
            "files": {p.name: sha256_file(p) for p in self.paths},
            "split": f"train {h.train}, validation {h.val}, test {h.test} (dates inclusive)",
            "protocol": f"lookback {h.lookback} rows, step {h.step}, delay {h.delay}, target {h.target}",
            "test_windows": len(self.dataset("test")) if self.frames else None,
        }
