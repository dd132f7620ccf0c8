"""Architecture registry: every zoo architecture is a factory function registered under one name."""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from seqzoo.errors import SeqzooError, UnknownNameError, check_name


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
    check_name("architecture name", name, "gru")
    if name not in _MODELS:
        raise UnknownNameError("architecture", name, list(_MODELS))
    return _MODELS[name]


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the registered architecture `name` with keyword arguments."""
    spec = model_spec(name)
    _check_argument_types(name, spec.factory, kwargs)
    try:
        return spec.factory(**kwargs)
    except (TypeError, ValueError, RuntimeError) as err:
        raise SeqzooError(f"cannot build architecture {name!r} with {kwargs}: {err}") from err


def _check_argument_types(name: str, factory: Callable[..., nn.Module], kwargs: dict[str, Any]) -> None:
    """Switches must be booleans, and sizes or rates not strings, as the factory's defaults are: a
    string "no" is truthy and built a bidirectional network. A vocabulary has at least one token."""
    parameters = inspect.signature(factory).parameters
    for key, value in kwargs.items():
        default = parameters[key].default if key in parameters else inspect.Parameter.empty
        if isinstance(default, bool) and not isinstance(value, bool):
            raise SeqzooError(f"{name}: {key} must be True or False, got {value!r}")
        if isinstance(default, numbers.Real) and isinstance(value, str):  # "0.1" failed deep inside
            raise SeqzooError(f"{name}: {key} must be a number like {default!r}, got {value!r}")
    vocab_size = kwargs.get("vocab_size")
    if vocab_size is not None and (
        isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1
    ):
        raise SeqzooError(
            f"{name}: vocab_size must be None (numeric inputs) or a token count >= 1, got {vocab_size!r}"
        )


def list_models(pattern: str = "*") -> list[str]:
    """Registered architecture names matching a shell-style wildcard, sorted."""
    check_name("pattern", pattern, "gru*")
    _ensure_registered()
    return sorted(n for n in _MODELS if fnmatch.fnmatchcase(n, pattern))
