"""Preprocessors: what a model needs to accept raw input, fitted once and stored as JSON.

Each data module defines the preprocessor it fits and registers it under a `kind`; artifacts store
`{"kind": ..., **fields}` in config.json, and `predict` rebuilds it from there, so training and
inference cannot drift apart.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from seqzoo.errors import ArtifactError


class Preprocessor(Protocol):
    kind: str

    def to_config(self) -> dict[str, Any]: ...

    def encode(self, raw: Any) -> Any: ...

    def decode(self, output: Any) -> Any: ...


_KINDS: dict[str, type] = {}


def register_preprocessor(cls: type) -> type:
    _KINDS[cls.kind] = cls
    return cls


def preprocessor_from_config(config: dict[str, Any]) -> Preprocessor:
    """Rebuild a fitted preprocessor from its JSON config."""
    importlib.import_module("seqzoo.data")  # registers every kind
    kind = config.get("kind")
    if kind not in _KINDS:
        raise ArtifactError(f"unknown preprocessing kind {kind!r}; expected one of {sorted(_KINDS)}")
    try:
        return _KINDS[kind].from_config(config)
    except (KeyError, TypeError, ValueError) as err:
        raise ArtifactError(f"invalid preprocessing config for kind {kind!r}: {err}") from err
