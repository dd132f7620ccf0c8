"""What every seqzoo DataModule shares: a fitted preprocessing that the model can take over."""

from __future__ import annotations

import numbers
from typing import Any

import lightning.pytorch as pl

from seqzoo.errors import DataError


def check_integers(minimum: int, maximum: int | None = None, **values: Any) -> None:
    """Refuse DataModule settings that are not integers in [minimum, maximum] when the module is made,
    not as a torch or numpy error once data is loading."""
    for name, value in values.items():
        integer = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if not integer or value < minimum or (maximum is not None and value > maximum):
            bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            raise DataError(f"{name} must be an integer {bound}, got {value!r}")


class SeqzooDataModule(pl.LightningDataModule):
    """A DataModule whose preprocessing is fitted on the train split only, or handed in.

    `setup()` loads raw data and fits the preprocessing when none was given; the dataloaders
    apply whatever `preprocessing` holds when they are built. A model that already carries a
    preprocessing (a pretrained checkpoint) sets it here in its own `setup()`, which Lightning
    calls after the DataModule's and before any dataloader exists.
    """

    def __init__(self) -> None:
        super().__init__()
        self._preprocessing: dict[str, Any] | None = None

    @property
    def preprocessing(self) -> dict[str, Any] | None:
        return self._preprocessing

    @preprocessing.setter
    def preprocessing(self, config: dict[str, Any] | None) -> None:
        self._preprocessing = config

    def describe(self) -> dict[str, Any]:
        """The exact data, split and protocol, for provenance and model cards."""
        raise NotImplementedError
