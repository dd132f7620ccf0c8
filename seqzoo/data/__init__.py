"""LightningDataModules, one file per dataset, and the preprocessors they fit (in their own files).

Names load on first use: `from seqzoo.data import JenaDataModule` imports Lightning, while serving code
that reads only a preprocessor (e.g. `seqzoo.data.jena_scaler`) does not.
"""

import importlib
from typing import Any

_HOMES = {
    "AdditionCodec": "seqzoo.data.addition_codec",
    "AdditionDataModule": "seqzoo.data.addition",
    "ImdbDataModule": "seqzoo.data.imdb",
    "JenaDataModule": "seqzoo.data.jena",
    "JenaScaler": "seqzoo.data.jena_scaler",
    "SeqzooDataModule": "seqzoo.data.base",
    "SeriesScaler": "seqzoo.data.series_scaler",
    "SlidingWindows": "seqzoo.data.windows",
    "SyntheticDataModule": "seqzoo.data.synthetic",
    "WordTokenizer": "seqzoo.data.tokens",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'seqzoo.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


def __dir__() -> list[str]:
    return __all__
