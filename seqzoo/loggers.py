"""Loggers recipes can name."""

from __future__ import annotations

import csv
from typing import Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


class _RowKeepingWriter(ExperimentWriter):
    """Lightning's CSV writer, but a metrics.csv already in the run's folder is continued, not deleted.

    The rows kept are those before the first step this run logs: a run resumed from a checkpoint
    redoes the steps after it, and their old rows (logged before the crash) give way to the new ones.
    """

    def _check_log_dir_exists(self) -> None:  # Lightning's deletes the file, with a warning
        self._earlier: list[dict[str, Any]] = []
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self._earlier = list(csv.DictReader(file))
            self._fs.rm_file(self.metrics_file_path)  # written anew, earlier rows first, at the first save

    def save(self) -> None:
        if self._earlier and self.metrics:
            first = min(int(row["step"]) for row in self.metrics)
            self.metrics[:0] = [row for row in self._earlier if int(float(row["step"])) < first]
            self._earlier = []
        super().save()


class ResumableCSVLogger(CSVLogger):
    """`CSVLogger` whose metrics.csv survives `--ckpt_path last`: Lightning's deletes it when the run's
    folder exists, so a resumed run kept only the epochs after the resume. Every recipe uses this class."""

    @property
    @rank_zero_experiment  # other ranks of a DDP run get a writer that writes nothing, as in Lightning
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _RowKeepingWriter(log_dir=self.log_dir)
        return self._experiment
