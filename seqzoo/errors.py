"""One exception hierarchy, so callers can catch every seqzoo problem with `except SeqzooError`."""

from __future__ import annotations

import difflib
from typing import Any


class SeqzooError(Exception):
    """Base class of every error seqzoo raises on purpose."""


class ArtifactError(SeqzooError):
    """A pretrained artifact folder is missing, corrupt or does not match its config."""


class InputError(SeqzooError, ValueError):
    """Input given to `predict` (or another public call) breaks the documented contract."""


class InputWarning(UserWarning):
    """Input that `predict` answers only in part: rolling forecasts are NaN where readings have holes."""


class DataError(SeqzooError):
    """A dataset file or download is missing, corrupt or in an unexpected format."""


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps."""
    previous, current = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        before, previous, current = previous, current, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
    return current[-1]


def closest_names(name: str, known: list[str], n: int = 3, cutoff: float = 0.5) -> list[str]:
    """The known names a user most likely meant, best first.

    difflib alone misses common slips: swapped neighbours ("se2qseq"), capitals ("GRU.synthetic") and
    a checkpoint named by its architecture only ("lstm" for "lstm.synthetic"), and an architecture named
    as a checkpoint ("lstm.synthetic" for "lstm").
    """
    typed = name.lower()
    scores = []
    for candidate in known:
        lower = candidate.lower()
        if lower == typed:
            score = 1.0
        elif typed == lower.split(".")[0] or ("." not in lower and typed.split(".")[0] == lower):
            score = 0.9  # "lstm" for the checkpoint "lstm.synthetic", or "lstm.synthetic" for "lstm"
        else:
            similar = difflib.SequenceMatcher(None, typed, lower).ratio()
            score = max(similar, 1 - _edit_distance(typed, lower) / max(len(typed), len(lower), 1))
        scores.append((score, candidate))
    ranked = sorted(scores, key=lambda pair: -pair[0])
    return [candidate for score, candidate in ranked if score >= cutoff][:n]


def check_name(kind: str, name: Any, example: str) -> None:
    """Names and patterns are strings: anything else is a SeqzooError saying so, not a TypeError."""
    if not isinstance(name, str):
        raise SeqzooError(f"{kind} must be a string like {example!r}, got {type(name).__name__} {name!r}")


class UnknownNameError(SeqzooError, KeyError):
    """A model, checkpoint or task name is not registered; the message lists the closest names."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        close = closest_names(name, known)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(known)) or 'none'}.")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])
