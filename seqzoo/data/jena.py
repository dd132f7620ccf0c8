"""Jena climate (DLwP 6.3): the air temperature 24 h ahead from 10 days of 10-minute station readings.

The station protocol splits by date: train = 2020 + 2021, validation = 2024-01..05, test = 2024-06..10.
Inputs are normalised with the train split's statistics only; those statistics, the columns, the
window geometry and the derived-input options are the preprocessing saved with a model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from seqzoo.data.base import SeqzooDataModule, check_integers
from seqzoo.data.jena_classic import CLASSIC_CSV, download_classic
from seqzoo.data.jena_files import DataError, contiguous_segments, read_station_files
from seqzoo.data.jena_scaler import JenaScaler, derive_inputs
from seqzoo.data.jena_splits import check_disjoint, file_patterns, in_ranges, split_ranges
from seqzoo.data.windows import SlidingWindows, window_loader
from seqzoo.download import sha256_file

STATION_FILES = ["jena_weather_2020.csv.gz", "jena_roof_*.csv.gz"]
STATION_SPLITS = {"train": ["2020-01-01/2021-12-31"], "val": ["2024-01-01/2024-05-31"],
                  "test": ["2024-06-01/2024-10-31"]}  # fmt: skip


class JenaDataModule(SeqzooDataModule):
    """Any list of station exports (`files`: glob patterns in `data_dir`), split chronologically by date
    ranges (`START/END`, inclusive days) or row ranges (`rows:START:STOP`) that share no reading with
    another split's. `download=True` fetches the classic 2009-2016 file into
    `data_dir` when `files` names it and it is not there (split it as the book does with
    `**jena_classic.BOOK_SPLITS`)."""

    def __init__(
        self,
        data_dir: str = "../shared/data",
        files: str | list[str] = STATION_FILES,
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
        self.hparams.files = file_patterns(files)
        self.ranges = {
            split: split_ranges(split, r) for split, r in (("train", train), ("val", val), ("test", test))
        }
        check_integers(1, lookback=lookback, step=step, delay=delay, batch_size=batch_size)
        check_integers(0, num_workers=num_workers)
        self.frames: dict[str, list[pd.DataFrame]] = {}
        self.paths: list[Path] = []
        self.span: tuple[pd.Timestamp, pd.Timestamp] | None = None  # the first and last reading

    def setup(self, stage: str | None = None) -> None:
        if not self.frames:
            frame = read_station_files(self._find_files())
            if frame.empty:
                raise DataError(f"the Jena station files {[p.name for p in self.paths]} hold no readings")
            self.span = (frame.index[0], frame.index[-1])
            self.frames = self._split(frame)
        if self.preprocessing is None:
            self.preprocessing = self._fit().to_config()

    def _find_files(self) -> list[Path]:
        h, folder = self.hparams, Path(self.hparams.data_dir)
        if h.download and CLASSIC_CSV in h.files and not (folder / CLASSIC_CSV).is_file():
            download_classic(folder)
        self.paths = sorted({p for pattern in h.files for p in folder.glob(pattern)})
        if not self.paths:
            raise DataError(f"no Jena station files matching {h.files} in {folder.resolve()}")
        return self.paths

    def _split(self, frame: pd.DataFrame) -> dict[str, list[pd.DataFrame]]:
        """Each split's readings as contiguous segments: selected first, so a window never spans the
        time between two ranges of a split either."""
        masks = {split: in_ranges(frame.index, ranges) for split, ranges in self.ranges.items()}
        check_disjoint(masks, frame.index)
        return {
            split: contiguous_segments(frame[mask], pd.Timedelta(minutes=10)) for split, mask in masks.items()
        }

    def _segments(self, split: str) -> list[pd.DataFrame]:
        """The split's segments, refused when there are none. Only a split in use must hold readings:
        a loaded model evaluated on a folder of test-period files fits nothing on the train split."""
        if not self.frames[split]:
            first, last = self.span
            raise DataError(
                f"the {split} split {self.hparams[split]} selects no complete readings: the files "
                f"{[p.name for p in self.paths]} hold {first} to {last}"
            )
        return self.frames[split]

    def _fit(self) -> JenaScaler:
        """The preprocessing, with the train split's statistics."""
        h = self.hparams
        train = pd.concat([derive_inputs(s, h.wind_vector, h.time_encoding) for s in self._segments("train")])
        scaler = JenaScaler(
            inputs=list(train.columns),
            mean=train.mean().tolist(),
            std=train.std().tolist(),
            target=h.target,
            lookback=h.lookback,
            step=h.step,
            delay=h.delay,
            wind_vector=h.wind_vector,
            time_encoding=h.time_encoding,
        )
        try:
            scaler.validate()  # a target that is no input; a train split of one reading (no std)
        except ValueError as err:
            raise DataError(f"cannot fit the preprocessing on the train split {h.train}: {err}") from err
        return scaler

    def dataset(self, split: str) -> SlidingWindows:
        scaler = JenaScaler.from_config(self.preprocessing)
        segments = [scaler.normalize(s) for s in self._segments(split)]
        try:
            return SlidingWindows(segments, scaler.lookback, scaler.step, scaler.delay, scaler.target_index)
        except DataError as err:
            raise DataError(f"the {split} split {self.hparams[split]}: {err}") from err

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
