"""Synthetic task: noisy sums of two sines; windows of 10 values predict the 11th."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch
from torch import Tensor

from seqzoo.data.base import SeqzooDataModule, check_integers
from seqzoo.data.series_scaler import SeriesScaler
from seqzoo.data.windows import SlidingWindows, window_loader
from seqzoo.errors import DataError


def sum_of_sines(n_series: int, length: int, noise: float = 0.05, seed: int = 0) -> Tensor:
    """`(n_series, length)` float32 series, each a sum of two sines plus Gaussian noise.

    Amplitudes are uniform in [0.5, 1], frequencies in [0.005, 0.05] cycles per step, phases in
    [0, 2 pi). The same (n_series, length, seed) always gives the same series; a different n_series
    draws different ones.
    """
    gen = torch.Generator().manual_seed(seed)
    amplitude = 0.5 + 0.5 * torch.rand(n_series, 2, 1, generator=gen, dtype=torch.float64)
    frequency = 0.005 + 0.045 * torch.rand(n_series, 2, 1, generator=gen, dtype=torch.float64)
    phase = 2 * math.pi * torch.rand(n_series, 2, 1, generator=gen, dtype=torch.float64)
    t = torch.arange(length, dtype=torch.float64)
    clean = (amplitude * torch.sin(2 * math.pi * frequency * t + phase)).sum(dim=1)
    return (clean + noise * torch.randn(n_series, length, generator=gen, dtype=torch.float64)).float()


def windows_of(series: Tensor | np.ndarray, window: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Every `(window values, next value)` pair of each series: raw inputs for `predict` and truth."""
    s = torch.as_tensor(series, dtype=torch.float32)
    s = s.unsqueeze(0) if s.ndim == 1 else s
    pairs = s.unfold(1, window + 1, 1).reshape(-1, window + 1)
    return pairs[:, :window].numpy(), pairs[:, window].numpy()


class SyntheticDataModule(SeqzooDataModule):
    """Disjoint train/val/test series from one seed; windows of `window` values predict the next.

    With `sequence_targets` the model is many-to-many: one prediction per step, each the value
    right after that step.
    """

    def __init__(
        self,
        window: int = 10,
        series_length: int = 1000,
        train_series: int = 20,
        val_series: int = 5,
        test_series: int = 5,
        noise: float = 0.05,
        seed: int = 0,
        batch_size: int = 64,
        sequence_targets: bool = False,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        check_integers(1, window=window, train_series=train_series, val_series=val_series)
        check_integers(1, test_series=test_series, batch_size=batch_size)
        check_integers(window + 1, series_length=series_length)  # one window and the value after it
        check_integers(0, num_workers=num_workers)
        if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not 0 <= noise < math.inf:
            raise DataError(
                f"noise must be a finite number >= 0 (the noise's standard deviation), got {noise!r}"
            )
        self.save_hyperparameters()
        self.series: dict[str, Tensor] = {}

    def setup(self, stage: str | None = None) -> None:
        if not self.series:
            h = self.hparams
            counts = {"train": h.train_series, "val": h.val_series, "test": h.test_series}
            every = sum_of_sines(sum(counts.values()), h.series_length, h.noise, h.seed)
            self.series = dict(zip(counts, torch.split(every, list(counts.values())), strict=True))
        if self.preprocessing is None:
            train = self.series["train"].double()
            self.preprocessing = SeriesScaler(
                self.hparams.window, float(train.mean()), float(train.std()), self.hparams.sequence_targets
            ).to_config()

    def _loader(self, split: str, shuffle: bool):
        scaler = SeriesScaler.from_config(self.preprocessing)
        segments = [scaler.normalize(s).unsqueeze(-1) for s in self.series[split]]
        windows = SlidingWindows(  # the geometry of the preprocessing in use (a pretrained model's, maybe)
            segments, lookback=scaler.window, delay=1, sequence_targets=scaler.sequence_targets
        )
        return window_loader(windows, self.hparams.batch_size, shuffle, self.hparams.num_workers)

    def train_dataloader(self):
        return self._loader("train", shuffle=True)

    def val_dataloader(self):
        return self._loader("val", shuffle=False)

    def test_dataloader(self):
        return self._loader("test", shuffle=False)

    def predict_dataloader(self):
        return self._loader("test", shuffle=False)

    def describe(self) -> dict[str, Any]:
        h = self.hparams
        return {
            "name": "synthetic sum of sines",
            "source": f"seqzoo.data.synthetic.sum_of_sines(seed={h.seed}, noise={h.noise})",
            "split": f"disjoint series: {h.train_series} train / {h.val_series} validation / "
            f"{h.test_series} test, each {h.series_length} steps",
            "test_windows": h.test_series * (h.series_length - h.window),
        }
