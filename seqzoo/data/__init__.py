"""LightningDataModules, one file per dataset, each with the preprocessor it fits."""

from seqzoo.data.base import SeqzooDataModule
from seqzoo.data.synthetic import SeriesScaler, SyntheticDataModule
from seqzoo.data.windows import SlidingWindows

__all__ = ["SeqzooDataModule", "SeriesScaler", "SlidingWindows", "SyntheticDataModule"]
