"""LightningDataModules, one file per dataset, each with the preprocessor it fits."""

from seqzoo.data.addition import AdditionCodec, AdditionDataModule
from seqzoo.data.base import SeqzooDataModule
from seqzoo.data.imdb import ImdbDataModule
from seqzoo.data.jena import JenaDataModule, JenaScaler
from seqzoo.data.synthetic import SeriesScaler, SyntheticDataModule
from seqzoo.data.tokens import WordTokenizer
from seqzoo.data.windows import SlidingWindows

__all__ = [
    "JenaDataModule",
    "JenaScaler",
    "AdditionCodec",
    "AdditionDataModule",
    "ImdbDataModule",
    "SeqzooDataModule",
    "SeriesScaler",
    "SlidingWindows",
    "SyntheticDataModule",
    "WordTokenizer",
]
