"""The synthetic sum-of-sines DataModule: constructor arguments out of range are named, not torch errors."""

from __future__ import annotations

import pytest

from seqzoo.data.synthetic import SyntheticDataModule
from seqzoo.errors import DataError


@pytest.mark.parametrize("kwargs,match", [
    ({"train_series": -1}, r"^train_series must be an integer >= 1, got -1$"),
    ({"train_series": 0}, r"^train_series must be an integer >= 1, got 0$"),
    ({"test_series": 2.0}, r"^test_series must be an integer >= 1, got 2.0$"),
    ({"window": True}, r"^window must be an integer >= 1, got True$"),
    ({"series_length": 10}, r"^series_length must be an integer >= 11, got 10$"),
    ({"batch_size": 0}, r"^batch_size must be an integer >= 1, got 0$"),
    ({"noise": -0.1}, r"^noise must be a finite number >= 0 .*, got -0.1$"),
    ({"noise": float("inf")}, r"^noise must be a finite number >= 0 .*, got inf$"),
])  # fmt: skip
def test_bad_constructor_arguments_are_data_errors_naming_them(kwargs, match):
    with pytest.raises(DataError, match=match):
        SyntheticDataModule(**kwargs)


def test_the_smallest_valid_setting_gives_one_window_per_series():
    dm = SyntheticDataModule(window=10, series_length=11, train_series=1, val_series=1, test_series=1)
    dm.setup()
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        (x, y), *rest = list(loader)
        assert x.shape == (1, 10, 1) and y.shape == (1,) and not rest
