"""Preprocessors: what a model needs to accept raw input, fitted once and stored as JSON.

Each data module defines the preprocessor it fits and registers it under a `kind`; artifacts store
`{"kind": ..., **fields}` in config.json, and `predict` rebuilds it from there, so training and
inference cannot drift apart.

A preprocessor's fields are of two sorts. Most are fitted or chosen once and belong to the weights
(normalisation statistics, vocabularies, column lists). Its `geometry` fields (a ClassVar naming them,
e.g. Jena's lookback, step and delay) only say which windows are cut from a series; a fine-tune may
take those from the data it trains on (`adopt_geometry`).
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from seqzoo.errors import ArtifactError, SeqzooError


class Preprocessor(Protocol):
    kind: str

    def to_config(self) -> dict[str, Any]: ...

    def encode(self, raw: Any) -> Any: ...

    def decode(self, output: Any) -> Any: ...


_KINDS: dict[str, type] = {}
PREPROCESSOR_MODULES = (
    "seqzoo.data.series_scaler",
    "seqzoo.data.jena_scaler",
    "seqzoo.data.tokens",
    "seqzoo.data.addition_codec",
)


def register_preprocessor(cls: type) -> type:
    _KINDS[cls.kind] = cls
    return cls


def preprocessor_from_config(config: dict[str, Any]) -> Preprocessor:
    """Rebuild a fitted preprocessor from its JSON config."""
    for module in PREPROCESSOR_MODULES:  # importing them registers every kind, without Lightning
        importlib.import_module(module)
    kind = config.get("kind")
    if kind not in _KINDS:
        raise ArtifactError(f"unknown preprocessing kind {kind!r}; expected one of {sorted(_KINDS)}")
    try:
        return _KINDS[kind].from_config(config)
    except (KeyError, TypeError, ValueError) as err:
        raise ArtifactError(f"invalid preprocessing config for kind {kind!r}: {err}") from err


def adopt_geometry(model_config: dict[str, Any], data_config: dict[str, Any]) -> dict[str, Any]:
    """The model's preprocessing with the data's window geometry: what a fine-tune trains with.

    Statistics and vocabularies stay the checkpoint's (the weights were trained on them); the fields the
    preprocessor class lists in `geometry` (e.g. Jena's `delay`) come from the recipe's DataModule, so
    `delay: 72` turns a 24 h forecaster into a 12 h one. The two must be of the same kind.
    """
    kind = model_config.get("kind")
    if data_config.get("kind") != kind:
        raise SeqzooError(
            f"the pretrained model's preprocessing is {kind!r} but the data's is "
            f"{data_config.get('kind')!r}; fine-tune on data of the kind the checkpoint was trained on"
        )
    geometry = getattr(type(preprocessor_from_config(model_config)), "geometry", ())
    merged = {**model_config, **{k: data_config[k] for k in geometry if k in data_config}}
    preprocessor_from_config(merged)  # the merged geometry must be valid on its own
    return merged


def geometry_differences(model_config: dict[str, Any], data_config: dict[str, Any]) -> dict[str, tuple]:
    """{field: (model's, data's)} for the window geometry fields in which two configs of one kind differ."""
    if data_config.get("kind") != model_config.get("kind"):
        return {}
    geometry = getattr(type(preprocessor_from_config(model_config)), "geometry", ())
    return {
        k: (model_config[k], data_config[k]) for k in geometry if model_config.get(k) != data_config.get(k)
    }
