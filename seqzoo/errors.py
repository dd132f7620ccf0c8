"""One exception hierarchy, so callers can catch every seqzoo problem with `except SeqzooError`."""

from __future__ import annotations

import difflib


class SeqzooError(Exception):
    """Base class of every error seqzoo raises on purpose."""


class ArtifactError(SeqzooError):
    """A pretrained artifact folder is missing, corrupt or does not match its config."""


class InputError(SeqzooError, ValueError):
    """Input given to `predict` (or another public call) breaks the documented contract."""


class DataError(SeqzooError):
    """A dataset file or download is missing, corrupt or in an unexpected format."""


class UnknownNameError(SeqzooError, KeyError):
    """A model, checkpoint or task name is not registered; the message lists the closest names."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(known)) or 'none'}.")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])
