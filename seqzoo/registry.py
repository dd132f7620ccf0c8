"""Architecture registry: every zoo architecture is a factory function registered under one name."""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from seqzoo.errors import SeqzooError, UnknownNameError


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about an architecture: its factory and the input it takes."""

    name: str
    factory: Callable[..., nn.Module]
    input_kind: str  # "features": float (batch, time, features); "tokens": int ids (batch, time)
    family: str


_MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, *, input_kind: str = "features", family: str = "recurrent"):
    """Register a factory under `name`; a second registration of the same name is an error."""

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise SeqzooError(f"model name {name!r} is already registered by {_MODELS[name].factory}")
        _MODELS[name] = ModelSpec(name, factory, input_kind, family)
        return factory

    return decorator


def _ensure_registered() -> None:
    importlib.import_module("seqzoo.nn")  # importing the package runs every @register_model


def model_spec(name: str) -> ModelSpec:
    _ensure_registered()
    if name not in _MODELS:
        raise UnknownNameError("architecture", name, list(_MODELS))
    return _MODELS[name]


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the registered architecture `name` with keyword arguments."""
    spec = model_spec(name)
    try:
        return spec.factory(**kwargs)
    except (TypeError, ValueError, RuntimeError) as err:
        raise SeqzooError(f"cannot build architecture {name!r} with {kwargs}: {err}") from err


def list_models(pattern: str = "*") -> list[str]:
    """Registered architecture names matching a shell-style wildcard, sorted."""
    _ensure_registered()
    return sorted(n for n in _MODELS if fnmatch.fnmatchcase(n, pattern))
